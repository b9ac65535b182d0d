"""``python -m forecasting plan``: the output contract, stock inputs and one-line errors."""
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "forecasting", "plan", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def sales(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plan")
    rng = np.random.default_rng(0)
    rows = []
    for store in ("North", "=South"):          # a formula-looking id: neutralised in the workbook
        for sku in ("A-1", "B-2"):
            y = 100 + 30 * (store == "North") + rng.normal(0, 8, 48)
            for i, v in enumerate(y):
                rows.append((f"{2018 + i // 12}-{i % 12 + 1:02d}", store, sku, round(v), 40.0 + i))
    f = tmp / "sales.csv"
    pd.DataFrame(rows, columns=["month", "store", "sku", "units", "stock"]).to_csv(f, index=False)
    return tmp, f


COLS = ["--date-col", "month", "--target-col", "units", "--id-cols", "store,sku", "--model", "naive",
        "--engine", "serial"]


def test_output_columns_with_stock_column_and_policy_backtest(sales):
    tmp, f = sales
    out = tmp / "plan.csv"
    p = cli(f, *COLS, "--horizon", 3, "--lead-time", 2, "--service-level", 0.9, "--on-hand", "stock",
            "--backtest-windows", 2, "--output", out)
    assert p.returncode == 0, p.stderr
    t = pd.read_csv(out)
    need = ["store", "sku", "model", "lead_time", "service_level", "lead_time_demand", "safety_stock",
            "reorder_point", "order_up_to", "order_quantity", "fill_rate", "abc", "xyz", "demand_class",
            "achieved_service_level", "achieved_fill_rate"]
    assert [c for c in need if c not in t.columns] == [] and len(t) == 4
    assert "stock" not in t.columns and "unique_id" not in t.columns
    # the last stock value per series is 40 + 47 = 87; nothing on order
    assert np.allclose(t["order_quantity"], np.maximum(0, t["order_up_to"] - 87))
    assert np.allclose(t["reorder_point"], t["lead_time_demand"] + t["safety_stock"])
    assert t["achieved_service_level"].between(0, 1).all()
    assert "policy backtest: achieved" in p.stderr


def test_stock_number_stock_file_and_workbook(sales):
    tmp, f = sales
    p = cli(f, *COLS, "--horizon", 3, "--lead-time", 1, "--on-hand", 1e6, "--output", tmp / "a.csv")
    assert p.returncode == 0, p.stderr
    a = pd.read_csv(tmp / "a.csv")
    assert (a["order_quantity"] == 0).all() and "achieved_service_level" not in a.columns
    stock = tmp / "stock.csv"
    pd.DataFrame({"store": ["North", "North", "=South", "=South"], "sku": ["A-1", "B-2", "A-1", "B-2"],
                  "on_hand": [0, 10, 20, 30], "on_order": [5, 0, 0, 0]}).to_csv(stock, index=False)
    x = tmp / "plan.xlsx"
    p = cli(f, *COLS, "--horizon", 3, "--lead-time", 1, "--stock-file", stock, "--backtest-windows", 1,
            "--output", x)
    assert p.returncode == 0, p.stderr
    book = pd.read_excel(x, sheet_name=None)
    assert {"targets", "exceptions", "policy backtest", "summary"} <= set(book)
    t = book["targets"]
    assert set(t["store"]) == {"North", "'=South"}
    row = t[(t["store"] == "North") & (t["sku"] == "A-1")].iloc[0]
    assert row["order_quantity"] == pytest.approx(max(0, row["order_up_to"] - 5))
    assert row["on_order"] == 5


@pytest.mark.parametrize("args, word", [
    (("--lead-time", 0), "lead-time"), (("--lead-time", 2, "--service-level", 1), "service-level"),
    (("--lead-time", 2, "--service-level", 0), "service-level"), (("--lead-time", 2, "--review-period", 0), "review"),
    (("--lead-time", 2, "--on-hand", "nosuch"), "nosuch")])
def test_bad_input_is_one_error_line(sales, args, word):
    tmp, f = sales
    p = cli(f, *COLS, "--horizon", 3, *args, "--output", tmp / "bad.csv")
    lines = [l for l in p.stderr.strip().splitlines() if l.startswith("error:")]
    assert p.returncode == 2 and len(lines) == 1 and word in lines[0] and "Traceback" not in p.stderr, p.stderr


def _forecast(f, out, *extra):
    p = subprocess.run([sys.executable, "-m", "forecasting", "forecast", str(f), *COLS, "--horizon", "3",
                        "--intervals", "model", "--output", str(out), *map(str, extra)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    return out


def _jumps(path) -> set:
    ex = pd.read_csv(path, keep_default_na=False)
    return {(r.store, r.sku) for r in ex.itertuples() if "jump vs previous forecast" in r.reasons}


def test_previous_forecast_file_drives_the_jump_exception(sales):
    """--previous-forecast: last cycle's forecast file (as the forecast command writes it); the series whose
    forecast moved by more than half is flagged, those that stayed put are not."""
    tmp, f = sales
    prev = pd.read_csv(_forecast(f, tmp / "prev.csv"), keep_default_na=False)
    assert {"store", "sku", "date", "forecast"} <= set(prev.columns)
    moved = (prev["store"] == "North") & (prev["sku"] == "B-2")
    prev.loc[moved, "forecast"] *= 3                        # last cycle said three times as much for one series
    prev.to_csv(tmp / "prev_moved.csv", index=False)
    p = cli(f, *COLS, "--horizon", 3, "--lead-time", 1, "--previous-forecast", tmp / "prev_moved.csv",
            "--exceptions", tmp / "ex.csv", "--output", tmp / "plan_prev.csv")
    assert p.returncode == 0, p.stderr
    assert _jumps(tmp / "ex.csv") == {("North", "B-2")}
    # the unchanged file: no jump anywhere (the same forecast as this cycle's)
    p = cli(f, *COLS, "--horizon", 3, "--lead-time", 1, "--previous-forecast", tmp / "prev.csv",
            "--exceptions", tmp / "ex2.csv", "--output", tmp / "plan_prev2.csv")
    assert p.returncode == 0, p.stderr
    assert _jumps(tmp / "ex2.csv") == set()


@pytest.mark.parametrize("kind", ["xlsx", "safe_csv"])
def test_previous_forecast_from_a_workbook_or_a_safe_csv(sales, kind):
    """The forecast command's .xlsx and its --safe-csv file (ids like =South written as '=South) are read back
    and matched to the data's series."""
    tmp, f = sales
    if kind == "xlsx":                     # edited in place with openpyxl: the ids stay text cells
        import openpyxl

        book = openpyxl.load_workbook(_forecast(f, tmp / "prev.xlsx"))
        sheet = book["forecast"]
        head = [c.value for c in sheet[1]]
        s, fc = head.index("store"), head.index("forecast")
        assert {row[s].value for row in sheet.iter_rows(min_row=2)} == {"=South", "North"}
        for row in sheet.iter_rows(min_row=2):
            if row[s].value == "=South":
                row[fc].value = row[fc].value / 4
        moved = tmp / "prev_moved.xlsx"
        book.save(moved)
    else:
        prev = pd.read_csv(_forecast(f, tmp / "prev_safe.csv", "--safe-csv"), keep_default_na=False)
        assert "'=South" in set(prev["store"])
        prev["forecast"] = prev["forecast"].astype(float).where(prev["store"] != "'=South", prev["forecast"] / 4)
        moved = tmp / "prev_moved_safe.csv"
        prev.to_csv(moved, index=False)
    p = cli(f, *COLS, "--horizon", 3, "--lead-time", 1, "--previous-forecast", moved,
            "--exceptions", tmp / "ex3.csv", "--output", tmp / "plan3.csv")
    assert p.returncode == 0, p.stderr
    assert _jumps(tmp / "ex3.csv") == {("=South", "A-1"), ("=South", "B-2")}


@pytest.mark.parametrize("body, word", [
    ("store,sku,when,units\nNorth,A-1,2022-01-01,5\n", "date and a forecast column"),
    ("store,sku,date,forecast\nWest,A-1,2022-01-01,5\n", "shares no series"),
    ("sku,date,forecast\nA-1,2022-01-01,5\n", "id column(s)"),
    ("store,sku,date,model,forecast\nNorth,A-1,2022-01-01,ets,5\nNorth,A-1,2022-01-01,theta,6\n",
     "holds models ets, theta"),
])
def test_bad_previous_forecast_is_one_error_line(sales, body, word):
    tmp, f = sales
    bad = tmp / "bad_prev.csv"
    bad.write_text(body)
    p = cli(f, *COLS, "--horizon", 3, "--lead-time", 1, "--previous-forecast", bad, "--output", tmp / "bad.csv")
    lines = [l for l in p.stderr.strip().splitlines() if l.startswith("error:")]
    assert p.returncode == 2 and len(lines) == 1 and word in lines[0] and "Traceback" not in p.stderr, p.stderr
    assert not (tmp / "bad.csv").exists()
