"""``run_plan`` end to end on real models: targets, classes, exceptions and the policy backtest."""
import numpy as np
import pandas as pd
import pytest

from forecasting.data.contract import Dataset, validate_long
from forecasting.errors import ConfigError
from forecasting.planning import PlanConfig, run_plan
from forecasting.planning.run import stock_column


def dataset(series: dict[str, np.ndarray], extra: dict[str, np.ndarray] | None = None) -> Dataset:
    rows = []
    for uid, y in series.items():
        ds = pd.date_range("2018-01-01", periods=len(y), freq="MS")
        f = pd.DataFrame({"unique_id": uid, "ds": ds, "y": y})
        for c, v in (extra or {}).items():
            f[c] = v[uid]
        rows.append(f)
    return Dataset(validate_long(pd.concat(rows)), freq="MS", covariates=list(extra or {}))


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    n = 48
    series = {
        "steady": rng.normal(100, 10, n).round(),
        "zeros": np.zeros(n),
        "trend": 10 + 5.0 * np.arange(n) + rng.normal(0, 2, n),
        "stopped": np.concatenate([rng.normal(50, 5, n - 3).round(), [40, 30, 0]]),
    }
    stock = {k: np.full(n, 10_000.0 if k == "trend" else 20.0) for k in series}
    ds = dataset(series, {"stock": stock})
    on_hand, ds = stock_column(ds, "stock")
    cfg = PlanConfig(horizon=6, lead_time=2, service_level=0.9, model="naive", on_hand=on_hand, on_order=5.0,
                     backtest_windows=3, engine="serial")
    return ds, run_plan(ds, cfg), series


def test_targets_hold_together(planted):
    ds, res, _ = planted
    t = res.targets.set_index("unique_id")
    assert len(t) == 4 and "stock" not in ds.df.columns
    assert np.allclose(t["reorder_point"], t["lead_time_demand"] + t["safety_stock"])
    assert (t["order_up_to"] >= t["reorder_point"]).all()
    assert (t["order_quantity"] >= 0).all()
    # the trend series has 10,000 on hand: nothing to order; the others order up to S from 20 + 5
    assert t.loc["trend", "order_quantity"] == 0
    s = t.loc["steady"]
    assert s["order_quantity"] == pytest.approx(s["order_up_to"] - 25)
    assert (t["service_level"] == 0.9).all() and (t["lead_time"] == 2).all() and (t["model"] == "naive").all()
    assert ((t["fill_rate"] >= 0) & (t["fill_rate"] <= 1)).all()
    assert set(t.columns) >= {"achieved_service_level", "achieved_fill_rate", "stockouts", "average_stock"}


def test_all_zero_series(planted):
    _, res, _ = planted
    z = res.targets.set_index("unique_id").loc["zeros"]
    assert (z["lead_time_demand"], z["safety_stock"], z["reorder_point"], z["order_up_to"]) == (0, 0, 0, 0)
    assert z["fill_rate"] == 1.0 and z["achieved_fill_rate"] == 1.0 and z["achieved_service_level"] == 1.0
    assert (z["demand_class"], z["xyz"], z["abc"]) == ("no demand", "Z", "C")
    assert z["order_quantity"] == 0    # 20 on hand + 5 on order already above zero


def test_planted_exceptions_are_ranked(planted):
    _, res, _ = planted
    ex = res.exceptions.set_index("unique_id")
    # naive always under-forecasts a rising trend: tracking signal far above 4
    assert "bias: tracking signal" in ex.loc["trend", "reasons"] and ex.loc["trend", "tracking_signal"] > 4
    # naive repeats the last value, 0, after 40 and 30 were sold
    assert "zero forecast with recent demand" in ex.loc["stopped", "reasons"]
    assert "zeros" not in ex.index
    assert list(res.exceptions["rank"]) == list(range(1, len(ex) + 1))
    assert res.exceptions["value_at_risk"].is_monotonic_decreasing


def test_abc_uses_the_price_column():
    rng = np.random.default_rng(1)
    series = {"cheap": rng.normal(1000, 50, 36), "dear": rng.normal(100, 5, 36)}
    price = {"cheap": np.full(36, 1.0), "dear": np.full(36, 100.0)}
    res = run_plan(dataset(series, {"price": price}), PlanConfig(horizon=3, lead_time=1, model="naive",
                                                                engine="serial", calibration_windows=0))
    t = res.targets.set_index("unique_id")
    assert t.loc["dear", "abc"] == "A" and t.loc["cheap", "abc"] == "B"
    assert t.loc["dear", "value"] == pytest.approx(series["dear"][-12:].sum() * 100)
    assert res.info["method"] == "copula"      # no backtest: too few vectors for the bootstrap
    no_price = run_plan(dataset(series), PlanConfig(horizon=3, lead_time=1, model="naive", engine="serial",
                                                    calibration_windows=0))
    assert no_price.targets.set_index("unique_id").loc["cheap", "abc"] == "A"


@pytest.mark.slow
def test_policy_backtest_keeps_the_promised_service_level():
    # 60 independent series of normal demand; whatever the model's own intervals, the bootstrapped backtest
    # probabilities calibrate the lead-time demand: the held-out cycles hit about 90 %
    rng = np.random.default_rng(2)
    series = {f"s{i}": rng.normal(100, 15, 60) for i in range(60)}
    res = run_plan(dataset(series), PlanConfig(horizon=3, lead_time=3, service_level=0.9, model="moving_average",
                                               backtest_windows=4, calibration_windows=4, engine="serial"))
    s = res.summary.set_index(["group", "class"]).loc[("all", "all")]
    assert s["cycles"] == 240 and res.info["method"] == "bootstrap"
    assert s["achieved_service_level"] == pytest.approx(0.9, abs=0.05)
    assert s["achieved_fill_rate"] > 0.97
    # the targets recomputed at each cutoff differ from the final ones and from each other
    assert res.policy.groupby("unique_id")["reorder_point"].nunique().min() > 1


def test_bad_settings_are_refused():
    ds = dataset({"a": np.arange(30.0)})
    for kw in ({"service_level": 1.0}, {"service_level": 0.0}, {"lead_time": 0}, {"lead_time": 2.5},
               {"review_period": 0}, {"lead_time_sd": -1}, {"abc_thresholds": (0.9, 0.8)}, {"model": "nope"}):
        with pytest.raises(ConfigError):
            run_plan(ds, PlanConfig(**{"horizon": 3, "lead_time": 1, **kw}))


def test_a_tail_service_level_reads_targets_from_scaled_errors():
    rng = np.random.default_rng(4)
    series = {f"s{i}": rng.normal(100, 15, 40).round() for i in range(12)}
    res = run_plan(dataset(series), PlanConfig(horizon=2, lead_time=1, service_level=0.99, model="naive",
                                               calibration_windows=3, engine="serial"))
    assert res.info["calibration_size"] == 36
    q, qp = res.info["tail_score"], res.info["tail_score_order_up_to"]
    assert q > 1 and qp > 1 and "in the tail" in res.info["notes"][1]
    t = res.targets
    assert (t["safety_stock"] > 0).all() and (t["order_up_to"] >= t["reorder_point"]).all()
