"""Models page: backtest from the UI, leaderboard, cached re-run, per-series settings, charts."""
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ui.sidebar import EngineSettings
from forecasting.data.contract import Dataset, validate_long

pytestmark = pytest.mark.slow


def entries(at: AppTest, kind: str) -> dict:
    """This session's stored results of ``kind`` (key -> entry)."""
    return at.session_state["results"]["entries"][kind]


def latest(at: AppTest, kind: str) -> dict:
    store = at.session_state["results"]
    return store["entries"][kind][store["latest"][kind]]


def small_dataset(n_series: int = 3, n: int = 60) -> Dataset:
    """Three monthly series with a clear season: seasonal_naive should beat naive on all of them."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_series):
        y = 100 + 10 * i + 30 * np.sin(2 * np.pi * np.arange(n) / 12) + rng.normal(0, 1, n)
        rows.append(pd.DataFrame({"unique_id": f"store {i}", "ds": pd.date_range("2018-01-01", periods=n, freq="MS"),
                                  "y": y}))
    df = validate_long(pd.concat(rows))
    id_map = pd.DataFrame({"unique_id": df["unique_id"].unique(), "store": df["unique_id"].unique()})
    return Dataset(df, "MS", date_col="month", target_col="sales", id_cols=["store"], id_map=id_map,
                   source="shops.csv")


def open_models(ds: Dataset, engine: str = "serial") -> AppTest:
    at = AppTest.from_file("app.py", default_timeout=120)
    at.session_state["engine_settings"] = EngineSettings(engine)   # the sidebar's choice
    at.session_state["dataset"] = ds      # as the Data page leaves it; open Models directly
    at.switch_page("pages/3_Models.py").run()
    assert not at.exception
    return at


def run_backtest(at: AppTest, models: list[str]) -> AppTest:
    at.multiselect(key="models_choice").set_value(models)
    at.number_input(key="bt_horizon").set_value(6)
    at.number_input(key="bt_windows").set_value(2)
    at.button(key="run_backtest").click().run()
    assert not at.exception, at.exception
    return at


def test_backtest_leaderboard_and_cache():
    ds = small_dataset()
    at = open_models(ds)
    assert "Run backtest" in [b.label for b in at.button]
    run_backtest(at, ["naive", "seasonal_naive"])
    assert "Best model: **seasonal_naive**" in at.success[0].value
    summary = at.dataframe[0].value
    assert set(summary["model"]) == {"naive", "seasonal_naive"}
    wins = at.dataframe[1].value
    assert wins.set_index("model").loc["seasonal_naive", "wins"] == 3
    per_series = next(d.value for d in at.dataframe if "store" in d.value.columns)
    assert list(per_series.columns[:2]) == ["store", "model"] and len(per_series) == 6
    entry = entries(at, "backtest")
    assert len(entry) == 1
    first = next(iter(entry.values()))["result"]
    # same settings again: the cached result object is reused (no second run)
    at.button(key="run_backtest").click().run()
    assert not at.exception
    again = next(iter(entries(at, "backtest").values()))["result"]
    assert again is first and len(entries(at, "backtest")) == 1
    # different settings: a new run, a second cache entry
    at.number_input(key="bt_windows").set_value(3)
    at.button(key="run_backtest").click().run()
    assert len(entries(at, "backtest")) == 2
    assert latest(at, "backtest")["result"].metrics[
        "n_windows"].max() == 3


def test_charts_and_residuals_render():
    at = open_models(small_dataset(2))
    run_backtest(at, ["seasonal_naive", "drift"])
    assert len(at.get("plotly_chart")) >= 3          # backtest, errors, ACF + histogram
    at.selectbox(key="res_model").set_value("drift").run()
    assert not at.exception
    lb = [d.value for d in at.dataframe if "verdict" in d.value.columns]
    assert lb and lb[0]["p_value"].between(0, 1).all()
    at.radio(key="bt_level").set_value(95).run()
    assert not at.exception


def test_training_curves_for_a_network():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    # the local process pool: the page's progress hook must not break sending settings to workers
    at = open_models(small_dataset(2, n=48), engine="local")
    at.multiselect(key="models_choice").set_value(["seasonal_naive", "gru"]).run()
    at.number_input(key="set_gru_max_epochs").set_value(3)
    at.number_input(key="set_gru_hidden_size").set_value(8)
    run_backtest(at, ["seasonal_naive", "gru"])
    assert any("Trained on: **cpu" in m.value for m in at.markdown)
    entry = latest(at, "backtest")
    curves = pd.DataFrame(entry["result"].info["training_curves"])
    assert len(curves) >= 2 and {"epoch", "train_loss"} <= set(curves.columns)
    # the network joins the leaderboard beside the baseline, scored like any model
    board = at.dataframe[0].value
    assert set(board["model"]) == {"seasonal_naive", "gru"}
    assert board.set_index("model").loc["gru", "mase"] > 0
    # one curve per backtest window (2), each starting at epoch 1, reported by the network itself
    assert set(curves["model"]) == {"gru"} and (curves["epoch"] == 1).sum() == 2


def test_network_settings_reach_the_networks():
    """Holiday calendar, one network per series and the device, chosen on the page, are what the GRU used."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    at = open_models(small_dataset(2, n=48))
    at.multiselect(key="models_choice").set_value(["seasonal_naive", "gru"]).run()
    assert at.selectbox(key="bt_net_device").options[:2] == ["auto", "cpu"]
    at.selectbox(key="bt_net_holidays").set_value("US")
    at.selectbox(key="bt_net_fit").set_value("local")
    at.selectbox(key="bt_net_device").set_value("cpu")
    at.number_input(key="set_gru_max_epochs").set_value(2)
    at.number_input(key="set_gru_hidden_size").set_value(8)
    run_backtest(at, ["seasonal_naive", "gru"])
    res = latest(at, "backtest")["result"]
    assert res.info["config"]["model_params"]["gru"]["holiday_country"] == "US"
    gru = res.metrics[res.metrics["model"] == "gru"]
    assert len(gru) == 2 and gru["fallback"].eq("").all()
    settings = gru["settings"].iloc[0]
    assert "holidays_in_period" in settings and "local" in settings and "cpu" in settings, settings
    from forecasting.export.charts_models import training_runs

    runs = training_runs(res.info["training_curves"])
    # one network per series and backtest window (2 windows)
    assert set(runs["run"]) == {f"window {w} · store {i}" for w in (1, 2) for i in (0, 1)}
    # the networks' row is only there when a network is chosen
    at.multiselect(key="models_choice").set_value(["seasonal_naive"]).run()
    assert not [s for s in at.selectbox if s.key == "bt_net_fit"]


def test_a_network_setting_it_cannot_use_is_an_error_not_a_fallback():
    pytest.importorskip("torch")
    at = open_models(small_dataset(2, n=48))
    at.multiselect(key="models_choice").set_value(["seasonal_naive", "transformer"]).run()
    at.number_input(key="set_transformer_hidden_size").set_value(30)     # 4 attention heads cannot split 30
    run_backtest(at, ["seasonal_naive", "transformer"])
    assert any("hidden_size (30) must be a multiple of n_heads (4)" in e.value.replace("\\", "") for e in at.error)
    assert "backtest" not in at.session_state["results"]["latest"]       # nothing ran, nothing stored
