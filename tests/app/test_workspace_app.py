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
