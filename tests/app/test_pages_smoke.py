"""Every page runs on the bundled sample data without an exception (and the result pages can run a model)."""
import pytest
from streamlit.testing.v1 import AppTest

from ui.sidebar import EngineSettings

PAGES = [("pages/1_Data.py", "Data"), ("pages/2_Explore.py", "Explore"), ("pages/3_Models.py", "Models"),
         ("pages/4_Forecast.py", "Forecast"), ("pages/5_Runs.py", "Runs"), ("pages/6_Plan.py", "Plan"),
         ("pages/7_Accuracy.py", "Accuracy")]


@pytest.mark.parametrize("page, title", PAGES, ids=[t for _, t in PAGES])
def test_page_runs_on_the_sample(page, title):
    at = AppTest.from_file("app.py", default_timeout=180)
    at.session_state["engine_settings"] = EngineSettings("serial")
    at.run()                                      # the Data page loads the bundled sample
    assert not at.exception, at.exception
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert at.title[0].value == title
    ds = at.session_state["dataset"]
    assert ds.source == "store_sales_daily.csv" and ds.n_series == 12
    if title == "Models":
        at.multiselect(key="models_choice").set_value(["naive", "seasonal_naive"])
        at.number_input(key="bt_horizon").set_value(7)
        at.number_input(key="bt_windows").set_value(1)
        at.button(key="run_backtest").click().run()
        assert not at.exception, at.exception
        assert "Best model" in at.success[0].value
    if title == "Forecast":
        at.number_input(key="fc_horizon").set_value(7)
        at.selectbox(key="fc_model").set_value("seasonal_naive")
        at.button(key="run_forecast").click().run()
        assert not at.exception, at.exception
        table = next(d.value for d in at.dataframe if "forecast" in d.value.columns)
        assert list(table.columns[:2]) == ["store", "product"] and len(table) == 12 * 7
    if title == "Accuracy":        # a new workspace has no archived forecast yet: the page says how to get one
        assert any("No archived forecasts yet" in i.value for i in at.info)
    if title == "Plan":
        at.selectbox(key="plan_model").set_value("seasonal_naive")
        at.number_input(key="plan_windows").set_value(1)
        at.button(key="run_plan").click().run()
        assert not at.exception, at.exception
        table = next(d.value for d in at.dataframe if "reorder_point" in d.value.columns)
        assert list(table.columns[:2]) == ["store", "product"] and len(table) == 12
