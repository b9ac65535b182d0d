"""Forecast page: run from the UI, fan charts per series / total / per id level, numbers, cache, downloads."""
import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ui.sidebar import EngineSettings
from forecasting.data.contract import Dataset, validate_long

pytestmark = pytest.mark.slow


def latest(at: AppTest, kind: str) -> dict:
    store = at.session_state["results"]
    return store["entries"][kind][store["latest"][kind]]


def two_level_dataset(n: int = 48) -> Dataset:
    """2 stores x 2 SKUs, monthly, seasonal; ids restored as store / sku."""
    rng = np.random.default_rng(0)
    rows = []
    for i, store in enumerate(["North", "South"]):
        for sku in ["A", "B"]:
            y = 100 + 20 * i + 25 * np.sin(2 * np.pi * np.arange(n) / 12) + rng.normal(0, 1, n)
            rows.append(pd.DataFrame({"store": store, "sku": sku, "y": y,
                                      "ds": pd.date_range("2019-01-01", periods=n, freq="MS")}))
    raw = pd.concat(rows, ignore_index=True)
    raw["unique_id"] = raw["store"] + " / " + raw["sku"]
    id_map = raw[["unique_id", "store", "sku"]].drop_duplicates().reset_index(drop=True)
    return Dataset(validate_long(raw[["unique_id", "ds", "y"]]), "MS", date_col="month", target_col="units",
                   id_cols=["store", "sku"], id_map=id_map, source="shop sales.csv")


def open_forecast(ds: Dataset) -> AppTest:
    at = AppTest.from_file("app.py", default_timeout=120)
    at.session_state["engine_settings"] = EngineSettings("serial")   # the sidebar's choice
    at.session_state["dataset"] = ds
    at.switch_page("pages/4_Forecast.py").run()
    assert not at.exception, at.exception
    return at


def run(at: AppTest, model: str, horizon: int = 6) -> AppTest:
    at.number_input(key="fc_horizon").set_value(horizon)
    at.selectbox(key="fc_model").set_value(model)
    at.button(key="run_forecast").click().run()
    assert not at.exception, at.exception
    return at


def test_forecast_numbers_charts_and_cache():
    ds = two_level_dataset()
    at = open_forecast(ds)
    assert any("Run forecast" in i.value for i in at.info)
    run(at, "seasonal_naive")
    table = next(d.value for d in at.dataframe if "forecast" in d.value.columns)
    assert list(table.columns[:3]) == ["store", "sku", "date"] and len(table) == 4 * 6
    # seasonal naive repeats last year's values
    north_a = ds.series("North / A")["y"].to_numpy()
    got = table[(table["store"] == "North") & (table["sku"] == "A")]["forecast"].to_numpy()
    np.testing.assert_allclose(got, north_a[-12:-6])
    labels = [b.label for b in at.get("download_button")]
    for want in ("Forecast (CSV)", "Excel workbook", "Report (HTML)", "Everything (zip)", "Chart as HTML"):
        assert want in labels, labels
    first = latest(at, "forecast")["result"]
    at.button(key="run_forecast").click().run()
    again = latest(at, "forecast")["result"]
    assert again is first                            # same data + settings: cached, not recomputed

    # aggregate views: the total, then per store
    at.radio(key="fc_view").set_value("Total").run()
    assert not at.exception
    chart = at.get("plotly_chart")[0]
    assert "Total over all series" in chart.proto.spec
    at.radio(key="fc_view").set_value("By store").run()
    at.selectbox(key="fc_group").set_value("South").run()
    assert not at.exception and "store = South" in at.get("plotly_chart")[0].proto.spec


def test_intervals_default_to_conformal_and_model_stays_selectable():
    """As `forecast --intervals`: conformal by default (calibrated on a backtest of the history), the
    models' own intervals on request; the point forecasts are the same either way."""
    at = open_forecast(two_level_dataset())
    assert at.selectbox(key="fc_intervals").value == "conformal"
    run(at, "naive", horizon=3)
    conf = latest(at, "forecast")["result"]
    assert conf.info["intervals"] == "conformal"
    assert any(n.startswith("conformal intervals from backtests") for n in conf.info["notes"])
    at.selectbox(key="fc_intervals").set_value("model")
    run(at, "naive", horizon=3)
    own = latest(at, "forecast")["result"]
    assert own is not conf and own.info["intervals"] == "model"
    a, b = (r.forecasts.sort_values(["unique_id", "ds"]).reset_index(drop=True) for r in (conf, own))
    np.testing.assert_allclose(a["forecast"], b["forecast"])
    assert not np.allclose(a["hi_95"] - a["lo_95"], b["hi_95"] - b["lo_95"])   # other bounds, same forecasts


def test_auto_picks_a_model_per_series():
    at = open_forecast(two_level_dataset())
    run(at, "auto", horizon=3)
    res = latest(at, "forecast")["result"]
    assert len(res.forecasts) == 4 * 3 and res.forecasts["forecast"].notna().all()
    settings = next(d.value for d in at.dataframe if "settings" in d.value.columns)
    assert len(settings) == 4


def test_a_new_dataset_hides_old_results():
    ds = two_level_dataset()
    at = open_forecast(ds)
    run(at, "naive")
    other = ds.with_df(ds.df.assign(y=ds.df["y"] * 2))
    at.session_state["dataset"] = other
    at.run()
    assert not at.exception
    assert any("Run forecast" in i.value for i in at.info)
    assert not [d for d in at.dataframe if "forecast" in d.value.columns]


def test_user_strings_stay_inert():
    """A hostile file name and series id: markdown escaped in captions, HTML escaped in chart titles."""
    ds = two_level_dataset()
    evil = "<img src=x onerror=alert(1)>"
    df = ds.df.replace({"unique_id": {"North / A": evil}})
    id_map = ds.id_map.replace({"unique_id": {"North / A": evil}, "store": {"North": evil}})
    ds = Dataset(validate_long(df), "MS", id_cols=["store", "sku"], id_map=id_map,
                 source="[click](javascript:alert(1)).csv")
    at = open_forecast(ds)
    assert "\\[click\\]\\(javascript\\:alert\\(1\\)\\)" in at.caption[0].value
    run(at, "naive", horizon=2)
    at.selectbox(key="fc_series").set_value(evil).run()
    assert not at.exception
    spec = at.get("plotly_chart")[0].proto.spec
    assert "<img" not in spec and "&lt;img src=x onerror=alert(1)&gt;" in spec
    table = next(d.value for d in at.dataframe if "forecast" in d.value.columns)
    assert evil in set(table["store"])               # the data itself is shown as text, unchanged


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]


def test_transformer_forecast_shows_what_it_attended_to():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    at = open_forecast(two_level_dataset())
    at.selectbox(key="fc_intervals").set_value("model")      # the attention / settings, not 3 more trainings
    run(at, "transformer")
    assert any(e.label.startswith("Why this forecast") for e in at.expander)
    titles = chart_titles(at)
    assert "Attention over the lookback: North / A" in titles
    att = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "Attention" in c.proto.spec)
    assert att["layout"]["yaxis"]["title"]["text"] == "attention weight"
    res = latest(at, "forecast")["result"]
    shown = res.attention[res.attention["unique_id"] == "North / A"]
    assert abs(shown["weight"].sum() - 1) < 1e-4
    # another series: its own weights
    at.selectbox(key="fc_series").set_value("South / B").run()
    assert not at.exception
    assert "Attention over the lookback: South / B" in chart_titles(at)
    # a model without attention shows no such view
    run(at, "seasonal_naive")
    assert not any(e.label.startswith("Why this forecast") for e in at.expander)


def test_network_settings_on_the_forecast_page():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    at = open_forecast(two_level_dataset())
    assert not [s for s in at.selectbox if s.key == "fc_net_holidays"]      # a statistical model: none shown
    at.selectbox(key="fc_model").set_value("gru").run()
    at.selectbox(key="fc_net_holidays").set_value("DE")
    at.number_input(key="fc_max_epochs").set_value(3)
    at.number_input(key="fc_hidden_size").set_value(8)
    at.selectbox(key="fc_intervals").set_value("model")      # the attention / settings, not 3 more trainings
    run(at, "gru")
    res = latest(at, "forecast")["result"]
    assert res.info["config"]["model_params"]["gru"]["holiday_country"] == "DE"
    assert res.settings["settings"].str.contains("epochs_run=3").all()      # the page's epochs reached it
    assert res.settings["settings"].str.contains("holidays_in_period").all()
    assert res.settings["fallback"].eq("").all() and len(res.forecasts) == 4 * 6
