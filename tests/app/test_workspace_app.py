"""The app on workspaces (AppTest): the ?ws= link reopens dataset and results in a new session, the Runs
page lists, renames and deletes (with confirmation), the sign-in header is required when configured, and
the administrator's limits give clear messages."""
import pytest
from streamlit.testing.v1 import AppTest

from ui.sidebar import EngineSettings

pytestmark = pytest.mark.slow


def test_link_reopens_dataset_and_results_and_runs_page(monkeypatch):
    at = AppTest.from_file("app.py", default_timeout=240)
    at.session_state["engine_settings"] = EngineSettings("serial")
    at.run()
    assert not at.exception, at.exception
    wid = at.query_params["ws"][0] if isinstance(at.query_params["ws"], list) else at.query_params["ws"]
    assert len(wid) == 32
    at.switch_page("pages/3_Models.py").run()
    at.multiselect(key="models_choice").set_value(["naive", "seasonal_naive"])
    at.number_input(key="bt_horizon").set_value(7)
    at.number_input(key="bt_windows").set_value(1)
    at.button(key="run_backtest").click().run()
    assert not at.exception, at.exception
    best = at.success[0].value
    assert "Best model" in best

    again = AppTest.from_file("app.py", default_timeout=240)       # a reload / new tab with the link
    again.query_params["ws"] = wid
    again.switch_page("pages/3_Models.py").run()
    assert not again.exception, again.exception
    assert again.success and again.success[0].value == best          # the stored result, not a new run
    assert "12 series" in again.caption[0].value

    again.switch_page("pages/5_Runs.py").run()
    assert not again.exception, again.exception
    assert any("1 run(s) in this workspace" in c.value for c in again.caption)
    run_id = again.selectbox(key="runs_pick").value
    again.text_input(key=f"runs_name_{run_id}").input("March cycle").run()
    from forecasting.store import open_workspace
    from forecasting.store.workspace import home

    ws = open_workspace(home() / "workspaces" / wid, create=False)
    assert ws.get_run(run_id).name == "March cycle"
    assert again.button(key="runs_delete").disabled                  # not without the confirmation
    again.checkbox(key=f"runs_sure_{run_id}").check().run()
    again.button(key="runs_delete").click().run()
    assert not again.exception, again.exception
    assert ws.list_runs() == []


def test_sign_in_header_required(monkeypatch):
    monkeypatch.setenv("SALESCAST_AUTH_HEADER", "X-Forwarded-User")
    at = AppTest.from_file("app.py", default_timeout=120).run()
    assert any("Sign-in required" in e.value for e in at.error)
    assert not at.title                                              # nothing of the app is shown


def test_unknown_link_is_refused():
    at = AppTest.from_file("app.py", default_timeout=120)
    at.query_params["ws"] = "0" * 32
    at.run()
    assert any("no workspace at this link" in e.value for e in at.error)


def test_limits_give_clear_messages(monkeypatch, tmp_path):
    from ui import workspace as ui_workspace
    from forecasting.store import open_workspace

    ws = open_workspace(tmp_path / "ws")
    assert ui_workspace.check_room(ws, 10_000_000) is None
    monkeypatch.setenv("SALESCAST_MAX_UPLOAD_MB", "1")
    assert "limited to 1 MB" in ui_workspace.check_room(ws, 2_000_000)
    monkeypatch.setenv("SALESCAST_MAX_DISK_MB", "0.0001")
    assert "SALESCAST_MAX_DISK_MB" in ui_workspace.check_room(ws, 500)


def test_model_settings_come_back_after_a_reload_and_a_page_switch():
    at = AppTest.from_file("app.py", default_timeout=240)
    at.session_state["engine_settings"] = EngineSettings("serial")
    at.run()
    wid = at.query_params["ws"][0] if isinstance(at.query_params["ws"], list) else at.query_params["ws"]
    at.switch_page("pages/3_Models.py").run()
    at.multiselect(key="models_choice").set_value(["naive", "moving_average"]).run()
    at.number_input(key="bt_windows").set_value(2)
    at.number_input(key="set_moving_average_window").set_value(9)
    at.selectbox(key="bt_intervals").set_value("model")
    at.number_input(key="bt_seed").set_value(42).run()
    assert not at.exception, at.exception
    at.switch_page("pages/4_Forecast.py").run()
    at.selectbox(key="fc_model").set_value("theta")
    at.number_input(key="fc_horizon").set_value(11).run()
    assert not at.exception, at.exception
    at.switch_page("pages/3_Models.py").run()                 # back from another page: as left
    assert at.multiselect(key="models_choice").value == ["naive", "moving_average"]
    assert at.number_input(key="bt_windows").value == 2

    again = AppTest.from_file("app.py", default_timeout=240)   # a reload / a new tab with the link
    again.query_params["ws"] = wid
    again.switch_page("pages/3_Models.py").run()
    assert not again.exception, again.exception
    assert again.multiselect(key="models_choice").value == ["naive", "moving_average"]
    assert again.number_input(key="bt_windows").value == 2
    assert again.number_input(key="set_moving_average_window").value == 9
    assert again.selectbox(key="bt_intervals").value == "model"
    assert again.number_input(key="bt_seed").value == 42
    assert not any("Session State API" in w.value for w in again.warning)
    again.switch_page("pages/4_Forecast.py").run()
    assert again.selectbox(key="fc_model").value == "theta"
    assert again.number_input(key="fc_horizon").value == 11

    fresh = AppTest.from_file("app.py", default_timeout=240)   # another workspace keeps the defaults
    fresh.switch_page("pages/3_Models.py").run()
    assert fresh.number_input(key="bt_windows").value == 3
    assert fresh.multiselect(key="models_choice").value != ["naive", "moving_average"]


def test_a_reconciled_forecast_is_a_stored_run_that_comes_back_with_the_link():
    from forecasting.store import open_workspace
    from forecasting.store.workspace import home
    from tests.app.test_hierarchy_pages import open_page

    at = open_page("pages/4_Forecast.py")
    at.selectbox(key="fc_reconcile").set_value("mint_ols")
    at.number_input(key="fc_horizon").set_value(4)
    at.selectbox(key="fc_model").set_value("seasonal_naive")
    at.button(key="run_forecast").click().run()
    assert not at.exception, at.exception
    assert any("adds up" in s.value and "mint_ols" in s.value for s in at.success)
    wid = at.query_params["ws"][0] if isinstance(at.query_params["ws"], list) else at.query_params["ws"]
    runs = open_workspace(home() / "workspaces" / wid, create=False).list_runs()
    assert [(r.kind, r.status, r.n_series, r.config["hierarchy"]["reconcile"]) for r in runs] == \
        [("forecast", "finished", 7, "mint_ols")]                    # total + 2 stores + 4 series

    again = AppTest.from_file("app.py", default_timeout=180)         # a reload: the stored reconciled run
    again.query_params["ws"] = wid
    again.switch_page("pages/4_Forecast.py").run()
    assert not again.exception, again.exception
    assert any("adds up" in s.value and "mint_ols" in s.value for s in again.success)
    assert again.selectbox(key="fc_reconcile").value == "mint_ols"
