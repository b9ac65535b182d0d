"""Plan page: targets from the UI, class filters, ABC/XYZ matrix, exceptions with their chart, policy backtest,
stock from a number or a column, neutralised downloads."""
import io
import urllib.parse

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


def frame(at: AppTest, column: str) -> pd.DataFrame:
    """The shown table that has ``column`` (targets: reorder_point, exceptions: reasons, summary: group)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def shop() -> Dataset:
    """3 stores x 2 SKUs, monthly; one store's '=cmd' name must reach spreadsheets inert; a stock column;
    one SKU stopped selling (zero forecast with recent demand under naive)."""
    rng = np.random.default_rng(0)
    rows = []
    for i, store in enumerate(["North", "South", "=cmd"]):
        for sku in ["A", "B"]:
            y = 100 + 40 * i + rng.normal(0, 8, 48)
            if store == "South" and sku == "B":
                y[-1] = 0
            rows.append(pd.DataFrame({"store": store, "sku": sku, "y": y.round(), "stock": 50.0 + i,
                                      "ds": pd.date_range("2019-01-01", periods=48, freq="MS")}))
    raw = pd.concat(rows, ignore_index=True)
    raw["unique_id"] = raw["store"] + " / " + raw["sku"]
    id_map = raw[["unique_id", "store", "sku"]].drop_duplicates().reset_index(drop=True)
    return Dataset(validate_long(raw[["unique_id", "ds", "y", "stock"]]), "MS", date_col="month",
                   target_col="units", id_cols=["store", "sku"], id_map=id_map, covariates=["stock"],
                   source="shop.csv")


def test_plan_page_end_to_end():
    at = AppTest.from_file("app.py", default_timeout=180)
    at.session_state["engine_settings"] = EngineSettings("serial")
    at.session_state["dataset"] = shop()
    at.switch_page("pages/6_Plan.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Plan"
    at.selectbox(key="plan_model").set_value("naive")
    at.number_input(key="plan_lead").set_value(2)
    at.number_input(key="plan_alpha").set_value(0.9)
    at.number_input(key="plan_windows").set_value(2)
    at.radio(key="plan_stock").set_value("A column of the data").run()
    at.selectbox(key="plan_stock_col").set_value("stock")
    at.button(key="run_plan").click().run()
    assert not at.exception, at.exception
    res = latest(at, "plan")["result"]
    t = res.targets
    assert len(t) == 6 and (t["on_hand"] == t["unique_id"].map(lambda u: 50.0 + ["North", "South", "=cmd"].index(u.split(" / ")[0]))).all()
    assert (t["order_quantity"] >= 0).all()
    table = frame(at, "reorder_point")
    assert list(table.columns[:2]) == ["store", "sku"] and len(table) == 6
    assert {"reorder_point", "safety_stock", "order_up_to", "order_quantity", "abc", "xyz",
            "achieved_service_level"} <= set(table.columns)
    # class filter
    at.multiselect(key="plan_f_abc").set_value(["A"]).run()
    shown = frame(at, "reorder_point")
    assert len(shown) == int((t["abc"] == "A").sum()) and set(shown["abc"]) == {"A"}
    # exceptions: the stopped series is listed with its reason and its chart opens
    ex = frame(at, "reasons")
    row = ex[(ex["store"] == "South") & (ex["sku"] == "B")]
    assert len(row) == 1 and "zero forecast with recent demand" in row["reasons"].iloc[0]
    # … each exception row has a link to this page with ?series=<id> (URL-encoded, label escaped) …
    links = {urllib.parse.parse_qs(e.proto.query_string)["series"][0]: e.proto for e in at.get("page_link")}
    assert set(links) == set(res.exceptions["unique_id"])
    link = links["South / B"]
    assert link.page == "Plan" and link.query_string == "series=South+%2F+B"
    assert "zero forecast with recent demand" in link.label and links["=cmd / B"].label.startswith("2. \\=cmd")
    at.selectbox(key="plan_series").set_value("North / A").run()
    assert not any("zero forecast" in m.value for m in at.markdown)
    # … and following it (the link's query string on this page) opens that series' chart, once
    at.query_params["series"] = "South / B"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="plan_series").value == "South / B" and "series" not in at.query_params
    assert any("zero forecast" in m.value for m in at.markdown)
    at.query_params["series"] = "no such series"           # a stale or edited link: nothing breaks
    at.run()
    assert not at.exception and at.selectbox(key="plan_series").value == "South / B"
    # the policy backtest per class: a row per class with target and achieved
    s = frame(at, "target_service_level")
    assert s.iloc[0]["group"] == "all" and s.iloc[0]["cycles"] == 12 and s.iloc[0]["target_service_level"] == 0.9


def test_plan_page_stock_number_and_bad_thresholds():
    at = AppTest.from_file("app.py", default_timeout=180)
    at.session_state["engine_settings"] = EngineSettings("serial")
    at.session_state["dataset"] = shop()
    at.switch_page("pages/6_Plan.py").run()
    at.selectbox(key="plan_model").set_value("naive")
    at.number_input(key="plan_windows").set_value(0)
    at.radio(key="plan_stock").set_value("One number").run()
    at.number_input(key="plan_on_hand").set_value(1e6)
    at.button(key="run_plan").click().run()
    assert not at.exception, at.exception
    t = latest(at, "plan")["result"].targets
    assert (t["order_quantity"] == 0).all() and "achieved_service_level" not in t.columns
    # thresholds out of order: one error, no run
    at.number_input(key="plan_abc_a").set_value(0.9)
    at.number_input(key="plan_abc_b").set_value(0.5).run()
    assert not at.exception and any("ABC thresholds" in e.value for e in at.error)


def test_plan_downloads_are_neutralised():
    from forecasting.data.contract import ID
    from forecasting.export.tables import to_excel_bytes
    from forecasting.planning import PlanConfig, run_plan

    ds = shop()
    res = run_plan(ds, PlanConfig(horizon=3, lead_time=1, model="naive", engine="serial", calibration_windows=0))
    book = pd.read_excel(io.BytesIO(to_excel_bytes({"targets": ds.restore_ids(res.targets)})), sheet_name=None)
    assert "'=cmd" in set(book["targets"]["store"]) and ID not in book["targets"].columns


def last_cycle_file(ds: Dataset, jumped: str, factor: float) -> bytes:
    """Last cycle's forecast as the forecast command writes it (.xlsx, id columns, date, model, forecast;
    the '=cmd store neutralised with an apostrophe): each series' last value, ``jumped`` times ``factor``."""
    last = ds.df.groupby("unique_id")["y"].last()
    dates = pd.date_range(ds.df["ds"].max(), periods=7, freq="MS")[1:]
    rows = [{"store": ("'" + u.split(" / ")[0]) if u.startswith("=") else u.split(" / ")[0],
             "sku": u.split(" / ")[1], "date": d, "model": "naive",
             "forecast": last[u] * (factor if u == jumped else 1.0)} for u in last.index for d in dates]
    buf = io.BytesIO()
    pd.DataFrame(rows).to_excel(buf, sheet_name="forecast", index=False)
    return buf.getvalue()


def test_plan_page_previous_forecast_flags_a_jump():
    """The optional upload of last cycle's forecast feeds the jump exception (as plan --previous-forecast);
    a file that is not a forecast gets one clear error. AppTest cannot drive st.file_uploader: the page keeps
    the upload as (bytes, name) under ``plan_previous_upload``, so the test puts the file there."""
    ds = shop()
    at = AppTest.from_file("app.py", default_timeout=180)
    at.session_state["engine_settings"] = EngineSettings("serial")
    at.session_state["dataset"] = ds
    at.switch_page("pages/6_Plan.py").run()
    at.selectbox(key="plan_model").set_value("naive")
    at.number_input(key="plan_windows").set_value(0)
    at.button(key="run_plan").click().run()
    assert not at.exception, at.exception
    ex = latest(at, "plan")["result"].exceptions
    assert not ex.loc[ex["unique_id"] == "North / A", "reasons"].str.contains("jump").any()   # vs the last cutoff

    at.session_state["plan_previous_upload"] = (last_cycle_file(ds, "North / A", 0.25), "last_cycle.xlsx")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("last\\_cycle\\.xlsx" in c.value and "6 series" in c.value for c in at.caption)
    at.button(key="run_plan").click().run()
    assert not at.exception, at.exception
    res = latest(at, "plan")["result"]
    jumped = res.exceptions[res.exceptions["reasons"].str.contains("jump vs previous forecast")]
    assert list(jumped["unique_id"]) == ["North / A"]
    last = ds.series("North / A")["y"].iloc[-1]
    assert jumped["jump"].iloc[0] == pytest.approx(3.0, rel=1e-6)      # naive: last value vs a quarter of it
    shown = frame(at, "reasons")
    assert shown.loc[(shown["store"] == "North") & (shown["sku"] == "A"), "reasons"].str.contains("jump").all()
    assert f"{0.25 * last:.1f} -> {last:.1f}" in jumped["reasons"].iloc[0]

    # a file that is not a forecast: one readable error, no traceback, no run
    at.session_state["plan_previous_upload"] = (b"store,sku,on_hand\nNorth,A,5\n", "stock.csv")
    at.run()
    assert not at.exception
    assert any("stock\\.csv" in e.value and "date and a forecast column" in e.value for e in at.error)
