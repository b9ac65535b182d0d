"""Forecast and Models pages with a hierarchy: reconciliation choice, levels, per-level charts and leaderboard."""
import io

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ui.sidebar import EngineSettings
from forecasting.export import tables
from tests.app.test_forecast_page import two_level_dataset

pytestmark = pytest.mark.slow


def latest(at: AppTest, kind: str) -> dict:
    store = at.session_state["results"]
    return store["entries"][kind][store["latest"][kind]]


def open_page(page: str) -> AppTest:
    at = AppTest.from_file("app.py", default_timeout=180)
    at.session_state["engine_settings"] = EngineSettings("serial")
    at.session_state["dataset"] = two_level_dataset()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def adds_up(frame: pd.DataFrame, keys: list[str]) -> None:
    """total == sum of stores == sum of the bottom series, for every key group."""
    by = frame.pivot_table(index=keys, columns="level", values="forecast", aggfunc="sum")
    for lv in ("store", "store,sku"):
        np.testing.assert_allclose(by[lv], by["total"], rtol=1e-9)


def test_forecast_page_reconciles_every_level():
    at = open_page("pages/4_Forecast.py")
    at.selectbox(key="fc_reconcile").set_value("mint_shrink")
    at.number_input(key="fc_horizon").set_value(6)
    at.selectbox(key="fc_model").set_value("ets")
    at.button(key="run_forecast").click().run()
    assert not at.exception, at.exception
    assert any("adds up" in s.value and "mint_shrink" in s.value for s in at.success)
    table = next(d.value for d in at.dataframe if "forecast" in d.value.columns)
    assert list(table.columns[:3]) == ["store", "sku", "level"]
    assert len(table) == (1 + 2 + 4) * 6 and set(table["level"]) == {"total", "store", "store,sku"}
    adds_up(table, ["date"])
    # the chart of the total
    at.selectbox(key="fc_h_level").set_value("total").run()
    at.selectbox(key="fc_h_node").set_value("total").run()
    assert not at.exception
    spec = at.get("plotly_chart")[0].proto.spec
    assert "total" in spec
    # the Excel export carries every level
    res = latest(at, "forecast")["result"]
    from forecasting.hierarchy.data import hierarchical_dataset

    hds, _ = hierarchical_dataset(two_level_dataset())
    book = pd.read_excel(io.BytesIO(tables.to_excel_bytes(tables.export_tables(hds, res, None))), sheet_name=None)
    assert set(book["forecasts"]["level"]) == {"total", "store", "store,sku"}


def test_forecast_page_base_forecasts_of_every_level():
    at = open_page("pages/4_Forecast.py")
    at.checkbox(key="fc_every_level").check()
    at.multiselect(key="fc_levels").set_value(["total"])
    at.number_input(key="fc_horizon").set_value(3)
    at.selectbox(key="fc_model").set_value("naive")
    at.button(key="run_forecast").click().run()
    assert not at.exception, at.exception
    assert any("need not add up" in i.value for i in at.info)
    table = next(d.value for d in at.dataframe if "forecast" in d.value.columns)
    assert set(table["level"]) == {"total", "store,sku"} and len(table) == 5 * 3


def test_models_page_leaderboard_per_level():
    at = open_page("pages/3_Models.py")
    at.multiselect(key="models_choice").set_value(["naive", "seasonal_naive"])
    at.number_input(key="bt_horizon").set_value(6)
    at.number_input(key="bt_windows").set_value(2)
    at.selectbox(key="bt_reconcile").set_value("bottom_up")
    at.button(key="run_backtest").click().run()
    assert not at.exception, at.exception
    radio = at.radio(key="lb_level")
    assert list(radio.options) == ["total", "store", "store,sku"]
    radio.set_value("total").run()
    board = next(d.value for d in at.dataframe if "mase" in d.value.columns and "n_series" in d.value.columns)
    assert len(board) == 2 and (board["n_series"] == 1).all()
    # every method's accuracy per level, from the same base forecasts: bottom_up's row is this run's leaderboard
    at.selectbox(key="lb_methods").set_value("seasonal_naive").run()
    methods = next(d.value for d in at.dataframe if "mean over levels" in d.value.columns)
    assert {"none", "bottom_up", "top_down", "middle_out", "mint_ols", "mint_wls", "mint_shrink"} == set(methods.index)
    mine = board.set_index("model").loc["seasonal_naive", "mase"]
    assert methods.loc["bottom_up", "total"] == pytest.approx(mine, rel=1e-9)
    res = latest(at, "backtest")["result"]
    per_series = next(d.value for d in at.dataframe if "level" in d.value.columns and "mase" in d.value.columns)
    assert set(per_series["level"]) == {"total", "store", "store,sku"} and len(per_series) == 7 * 2
    assert len(res.forecasts) == 7 * 2 * 2 * 6     # nodes x models x windows x horizon
    # the backtest chart of a store node
    at.selectbox(key="bt_h_level").set_value("store").run()
    at.selectbox(key="bt_h_node").set_value("store=South").run()
    assert not at.exception
    assert "store=South" in at.get("plotly_chart")[0].proto.spec
