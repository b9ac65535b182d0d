"""ABC/XYZ boundaries and the exception rules on planted cases."""
import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError
from forecasting.planning.classes import abc_classes, check_thresholds, coefficient_of_variation, xyz_class
from forecasting.planning.exceptions import ExceptionRules, series_exceptions, tracking_signal, value_at_risk


def test_abc_boundaries():
    v = pd.Series([50.0, 30.0, 15.0, 5.0], index=list("abcd"))
    # share of value ranked above each: 0, 0.5, 0.8, 0.95 -> the one starting at exactly 80 % is B, at 95 % C
    assert abc_classes(v).tolist() == ["A", "A", "B", "C"]
    assert abc_classes(v, (0.5, 0.9)).tolist() == ["A", "B", "B", "C"]
    # the series that crosses 80 % is still A; ranking, not input order, decides
    v2 = pd.Series([5.0, 79.0, 16.0], index=list("xyz"))
    assert abc_classes(v2).tolist() == ["C", "A", "A"]
    assert abc_classes(pd.Series([0.0, 0.0], index=["p", "q"])).tolist() == ["C", "C"]
    assert abc_classes(pd.Series([10.0, 0.0], index=["p", "q"])).tolist() == ["A", "C"]
    with pytest.raises(ConfigError):
        check_thresholds("ABC", (0.95, 0.8), 1.0)
    with pytest.raises(ConfigError):
        check_thresholds("ABC", (0.8, 1.0), 1.0)


def test_xyz_boundaries():
    assert [xyz_class(c) for c in (0.0, 0.5, 0.5000001, 1.0, 1.01, float("nan"), float("inf"))] == \
        ["X", "X", "Y", "Y", "Z", "Z", "Z"]
    assert xyz_class(0.3, (0.2, 0.4)) == "Y"
    y = np.array([10.0, 20.0, 30.0])
    assert coefficient_of_variation(y) == pytest.approx(np.std(y, ddof=1) / 20)
    assert coefficient_of_variation(np.zeros(5)) == float("inf")


def test_tracking_signal():
    assert tracking_signal(np.full(8, 12.0), np.full(8, 10.0)) == pytest.approx(8.0)
    a = np.array([11.0, 9.0, 11.0, 9.0])
    assert tracking_signal(a, np.full(4, 10.0)) == pytest.approx(0.0)
    assert tracking_signal(np.zeros(3), np.zeros(3)) == 0.0


def seasonal(n=36, level=100.0):
    return level + 20 * np.sin(2 * np.pi * np.arange(n) / 12)


def test_a_clean_series_has_no_exception():
    y = seasonal()
    f = seasonal(48)[36:]
    reasons, meas = series_exceptions(y, f, 12, previous=f[:4] * 1.1, bt_actual=np.array([10.0, 12, 9, 11]),
                                      bt_forecast=np.array([11.0, 10, 10, 10]))
    assert reasons == [] and abs(meas["yoy_change"]) < 1e-9


@pytest.mark.parametrize("case, word", [
    ("yoy", "far from last year"), ("jump", "jump vs previous forecast"), ("bias", "bias: tracking signal"),
    ("zero", "zero forecast with recent demand"), ("fallback", "model fell back")])
def test_each_planted_exception_is_found_with_its_reason(case, word):
    y, f, m = seasonal(), seasonal(48)[36:], 12
    kw = {"previous": f[:4], "bt_actual": np.array([10.0, 12, 9, 11]), "bt_forecast": np.array([11.0, 10, 10, 10])}
    if case == "yoy":
        f = f * 1.8
        kw["previous"] = f[:4]
    elif case == "jump":
        kw["previous"] = f[:4] / 3
    elif case == "bias":
        kw["bt_actual"], kw["bt_forecast"] = np.full(6, 15.0), np.full(6, 10.0)
    elif case == "zero":
        f = np.zeros(12)
        kw["previous"] = None
        y = np.concatenate([np.zeros(30), [0, 0, 0, 5, 0, 0]])
        m = 1        # (with m = 12 it is also far from last year's 5 units)
    elif case == "fallback":
        kw["fallback"] = "ets failed (ValueError: x); used seasonal_naive"
    reasons, _ = series_exceptions(y, f, m, rules=ExceptionRules(), **kw)
    assert len(reasons) == 1 and reasons[0].startswith(word), reasons


def test_zero_forecast_without_recent_demand_is_no_exception():
    y = np.concatenate([[5, 3], np.zeros(20)])
    reasons, _ = series_exceptions(y, np.zeros(6), 1)
    assert reasons == []


def test_value_at_risk_is_price_times_units_times_error():
    var = value_at_risk(np.full(10, 20.0), np.full(4, 25.0), 3.0, np.array([10.0, 10]), np.array([12.0, 8]))
    assert var == pytest.approx(3.0 * 100 * 0.2)
    # zero forecast with recent demand: the recent demand counts as units
    assert value_at_risk(np.full(10, 20.0), np.zeros(4), 2.0, None, None) == pytest.approx(2.0 * 80 * 1.0)


def test_abc_xyz_matrix_and_policy_chart():
    from forecasting.export.charts_planning import abc_xyz_figure, abc_xyz_table, policy_figure

    t = pd.DataFrame({"abc": ["A", "A", "B", "C", "C"], "xyz": ["X", "Z", "X", "Y", "Y"],
                      "value": [50.0, 30.0, 15.0, 3.0, 2.0]})
    m = abc_xyz_table(t).set_index(["abc", "xyz"])
    assert len(m) == 9 and m["series"].sum() == 5 and m["value_share"].sum() == pytest.approx(1.0)
    assert m.loc[("C", "Y"), "series"] == 2 and m.loc[("A", "Z"), "value_share"] == pytest.approx(0.3)
    fig = abc_xyz_figure(t)
    assert list(fig.data[0].z[0]) == [1, 0, 1]       # row A: one X, no Y, one Z
    s = pd.DataFrame({"group": ["all", "abc"], "class": ["all", "<b>A</b>"], "cycles": [10, 5], "stockouts": [1, 0],
                      "target_service_level": [0.9, 0.9], "achieved_service_level": [0.9, 1.0],
                      "normal_service_level": [0.8, 0.8]})
    pf = policy_figure(s)
    assert list(pf.data[0].x) == ["all series", "abc: &lt;b&gt;A&lt;/b&gt;"] and pf.data[0].y[1] == 1.0
