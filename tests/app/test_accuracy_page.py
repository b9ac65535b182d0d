"""The forecast cycle in the app (AppTest) on a real workspace: an override made on the Forecast page shows in
the final forecast and the read-only audit trail (and again after a reload), and the Accuracy page scores the archived forecast against
newer actuals (WAPE and FVA at lag 1 checked against values computed here by hand)."""
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.store.cycle_data import SERIES, archived_forecast, load_csv, sales
from ui.sidebar import EngineSettings

pytestmark = pytest.mark.slow


def _workspace(tmp_path):
    from forecasting.store.workspace import home, new_id

    wid = new_id()
    full = sales(39)
    ws, run_id, _ = archived_forecast(home() / "workspaces" / wid, full[full["month"] <= "2023-12"],
                                      tmp_path / "sales_2023.csv", ws_id=wid)
    return wid, ws, run_id, full


def _open(wid: str, page: str) -> AppTest:
    at = AppTest.from_file("app.py", default_timeout=240)
    at.session_state["engine_settings"] = EngineSettings("serial")
    at.query_params["ws"] = wid
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_override_on_the_forecast_page_then_accuracy_page(tmp_path):
    wid, ws, run_id, full = _workspace(tmp_path)
    old_id = ws.get_run(run_id).dataset_id
    ws.set_state({"dataset_id": old_id})
    at = _open(wid, "pages/4_Forecast.py")                   # shows the archived forecast run
    assert any("Overrides" == s.value for s in at.subheader)
    at.selectbox(key="ov_level").set_value("Series")
    at.selectbox(key="ov_series").set_value("North / A-1")
    at.select_slider(key="ov_dates").set_value(("2024-01-01", "2024-01-01"))
    at.radio(key="ov_how").set_value("Set to a value")
    at.number_input(key="ov_amount").set_value(77.0)
    at.text_input(key="ov_reason").input("promotion agreed with sales")
    at.button(key="ov_apply").click().run()
    assert not at.exception, at.exception
    assert any("Override 1 applied" in s.value for s in at.success)
    table = next(d.value for d in at.dataframe if "final" in d.value.columns)
    row = table[(table["store"] == "North") & (table["sku"] == "A-1")].iloc[0]
    assert row["final"] == 77 and row["override"] == pytest.approx(77 - row["forecast"])
    trail = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert list(trail["user"]) == ["local"] and list(trail["reason"]) == ["promotion agreed with sales"]
    assert not at.get("data_editor") and not any("Delete" in b.label for b in at.button)   # read-only
    # a reason is required: nothing recorded without one
    at.text_input(key="ov_reason").input("")
    at.button(key="ov_apply").click().run()
    assert any("needs a reason" in e.value for e in at.error)
    from forecasting.store.overrides import list_overrides

    assert len(list_overrides(ws, run_id)) == 1
    again = _open(wid, "pages/4_Forecast.py")                # a reload (new session, same link) keeps it
    table = next(d.value for d in again.dataframe if "final" in d.value.columns)
    assert table[(table["store"] == "North") & (table["sku"] == "A-1")].iloc[0]["final"] == 77
    assert next(d.value for d in again.dataframe if "reason" in d.value.columns)["user"].tolist() == ["local"]

    # newer actuals arrive: three more months
    path = tmp_path / "sales_2024_03.csv"
    full.to_csv(path, index=False)
    new = ws.add_dataset(load_csv(path), raw=path, name=path.name, mapping={}, treatments=[])
    ws.set_state({"dataset_id": new.id})
    at = _open(wid, "pages/7_Accuracy.py")
    assert at.title[0].value == "Accuracy"
    assert any("1 covered by these actuals" in c.value for c in at.caption)
    y = {(s, k, m): float(v) for s, k, m, v in full[["store", "sku", "month", "units"]].itertuples(index=False)}
    den = sum(y[(s, k, "2024-01")] for s, k in SERIES)
    final = {(s, k): 77.0 if (s, k) == ("North", "A-1") else y[(s, k, "2023-12")] for s, k in SERIES}
    wape_final = sum(abs(final[sk] - y[(*sk, "2024-01")]) for sk in SERIES) / den
    wape_stat = sum(abs(y[(*sk, "2023-12")] - y[(*sk, "2024-01")]) for sk in SERIES) / den
    wape_naive = sum(abs(y[(*sk, "2023-01")] - y[(*sk, "2024-01")]) for sk in SERIES) / den
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["WAPE at lag 1 (final)"] == f"{wape_final:.1%}"
    assert metrics["Value added by the model"] == f"{wape_naive - wape_stat:+.1%}"
    assert metrics["Value added by overrides"] == f"{wape_stat - wape_final:+.1%}"
    at.selectbox(key="acc_step_lag").set_value("1").run()
    stair = next(d.value for d in at.dataframe if "step" in d.value.columns)
    assert list(stair["step"]) == ["naive", "statistical", "final"]
    assert stair["wape"].tolist() == pytest.approx([wape_naive, wape_stat, wape_final])
    at.selectbox(key="acc_level").set_value("total").run()
    assert not at.exception, at.exception
    labels = [b.label for b in at.get("download_button")]
    assert "Scored forecasts (CSV)" in labels and "Excel workbook" in labels
