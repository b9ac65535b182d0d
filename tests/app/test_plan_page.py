"""Plan page: targets from the UI, class filters, ABC/XYZ matrix, exceptions with their chart, policy backtest,
stock from a number or a column, neutralised downloads."""
import io

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
    at.selectbox(key="plan_series").set_value("South / B").run()
    assert not at.exception, at.exception
    assert any("zero forecast" in m.value for m in at.markdown)
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
