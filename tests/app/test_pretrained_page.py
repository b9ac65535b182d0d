"""Forecast and Models pages: the pretrained network is a one-click forecast (no training, no sizes to set)."""
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ui.sidebar import EngineSettings
from forecasting.data.contract import Dataset, validate_long

pytestmark = pytest.mark.slow


def monthly(n_series=3, n=48) -> Dataset:
    rng = np.random.default_rng(0)
    rows = [pd.DataFrame({"unique_id": f"shop {i}", "ds": pd.date_range("2019-01-01", periods=n, freq="MS"),
                          "y": 100 + 10 * i + 25 * np.sin(2 * np.pi * np.arange(n) / 12) + rng.normal(0, 1, n)})
            for i in range(n_series)]
    return Dataset(validate_long(pd.concat(rows, ignore_index=True)), "MS", source="shops.csv")


def open_page(page: str) -> AppTest:
    at = AppTest.from_file("app.py", default_timeout=180)
    at.session_state["engine_settings"] = EngineSettings("serial")
    at.session_state["dataset"] = monthly()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_pretrained_is_a_one_click_forecast():
    pytest.importorskip("torch")
    at = open_page("pages/4_Forecast.py")
    at.number_input(key="fc_horizon").set_value(6)
    at.selectbox(key="fc_model").set_value("pretrained").run()
    assert not [n for n in at.number_input if n.key in ("fc_max_epochs", "fc_hidden_size")]   # nothing to size
    assert not [s for s in at.selectbox if s.key == "fc_net_holidays"]
    at.button(key="run_forecast").click().run()
    assert not at.exception, at.exception
    store = at.session_state["results"]
    res = store["entries"]["forecast"][store["latest"]["forecast"]]["result"]
    assert len(res.forecasts) == 3 * 6 and res.forecasts["forecast"].notna().all()
    assert res.settings["fallback"].eq("").all(), res.settings["fallback"].tolist()
    assert res.settings["settings"].str.contains("trained_on_your_data=False").all()


def test_models_page_compares_pretrained_and_finetuned():
    pytest.importorskip("torch")
    at = open_page("pages/3_Models.py")
    at.multiselect(key="models_choice").set_value(["seasonal_naive", "pretrained", "finetuned"]).run()
    at.number_input(key="set_finetuned_steps").set_value(4)
    at.number_input(key="bt_horizon").set_value(6)
    at.number_input(key="bt_windows").set_value(1)
    at.button(key="run_backtest").click().run()
    assert not at.exception, at.exception
    store = at.session_state["results"]
    res = store["entries"]["backtest"][store["latest"]["backtest"]]["result"]
    assert set(res.summary["model"]) == {"seasonal_naive", "pretrained", "finetuned"}
    m = res.metrics
    assert m.loc[m["model"] == "finetuned", "settings"].str.contains("steps=4").all()
    assert m["fallback"].eq("").all(), m["fallback"].tolist()
