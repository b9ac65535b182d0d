"""CSV/Excel exports: content round-trips and formula injection is neutralised."""
import csv
import io

import openpyxl
import pandas as pd
import pytest

from forecasting.export.tables import neutralise, safe_frame, sheet_name, to_csv_bytes, to_excel_bytes

ATTACKS = ["=1+2", "=HYPERLINK(\"http://x\",\"click\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
           "\t=1+1", "\r=1+1", "-x"]
PLAIN_NUMBERS = ["-5", "+3", "-12.50", "+1e5", "-.5"]


@pytest.mark.parametrize("text", ATTACKS)
def test_formula_triggers_get_a_quote(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", PLAIN_NUMBERS + ["ok", "a=b", "", "store-1"])
def test_plain_numbers_and_harmless_text_pass(text):
    assert neutralise(text) == text


def test_non_strings_untouched():
    assert neutralise(-3.5) == -3.5 and neutralise(None) is None


def _frame():
    return pd.DataFrame({
        "=store": ATTACKS + PLAIN_NUMBERS,
        "units": [-1.5 * i for i in range(len(ATTACKS) + len(PLAIN_NUMBERS))],
        "date": pd.date_range("2024-01-01", periods=len(ATTACKS) + len(PLAIN_NUMBERS), freq="D"),
    })


def test_csv_neutralises_cells_and_headers_keeps_numbers():
    rows = list(csv.reader(io.StringIO(to_csv_bytes(_frame()).decode("utf-8"), newline="")))
    assert rows[0] == ["'=store", "units", "date"]
    texts = [r[0] for r in rows[1:]]
    assert texts[: len(ATTACKS)] == ["'" + a for a in ATTACKS]
    assert texts[len(ATTACKS):] == PLAIN_NUMBERS
    # numeric cells stay numbers (negative ones too), dates as plain dates
    assert [float(r[1]) for r in rows[1:4]] == [0.0, -1.5, -3.0]
    assert rows[1][2] == "2024-01-01"


def test_safe_frame_does_not_mutate_input():
    df = _frame()
    safe_frame(df)
    assert df["=store"].iloc[0] == "=1+2"


def test_excel_sheets_content_and_no_formulas():
    df = _frame()
    data = to_excel_bytes({"forecasts": df, "metrics": df.head(2), "settings": df.head(1), "data quality": df.head(3)})
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["forecasts", "metrics", "settings", "data quality"]
    ws = wb["forecasts"]
    assert ws["A1"].value == "'=store"
    for row in ws.iter_rows(min_row=2):
        assert row[0].data_type != "f", row[0].value   # nothing is stored as a formula
        assert row[1].data_type == "n"
    # (XML turns a bare carriage return into a newline; the quote is what matters)
    assert [c.value for c in ws["A"][1:len(ATTACKS) + 1]] == ["'" + a.replace("\r", "\n") for a in ATTACKS]
    back = pd.read_excel(io.BytesIO(data), sheet_name="metrics")
    assert back["units"].tolist() == [0.0, -1.5]


def test_sheet_names_are_valid_and_unique():
    taken: set[str] = set()
    a = sheet_name("a/b:c*d?[e]" * 5, taken)
    b = sheet_name("a/b:c*d?[e]" * 5, taken)
    assert len(a) <= 31 and len(b) <= 31 and a != b
    assert not set("[]:*?/\\") & set(a + b)


def test_empty_workbook_is_valid():
    wb = openpyxl.load_workbook(io.BytesIO(to_excel_bytes({})))
    assert wb.sheetnames == ["empty"]


def test_leading_space_before_a_formula_is_neutralised():
    from forecasting.export.tables import neutralise

    assert neutralise(" =1+1") == "' =1+1"
    assert neutralise("\u00a0=HYPERLINK(\"http://x\")").startswith("'")
    assert neutralise(" -12.5") == " -12.5"          # a number stays a number
    assert neutralise(" plain") == " plain"


def test_xlsx_stores_formula_like_text_as_text():
    import io

    import openpyxl

    from forecasting.export.tables import to_excel_bytes

    hostile = ["=cmd|' /C calc'!A0", "=HYPERLINK(\"http://evil\",\"x\")"]
    for neutral in (True, False):
        wb = openpyxl.load_workbook(io.BytesIO(to_excel_bytes({"s": pd.DataFrame({"id": hostile})}, neutralise=neutral)))
        cells = [c for row in wb["s"].iter_rows(min_row=2) for c in row]
        assert all(c.data_type == "s" for c in cells)
        assert [c.value for c in cells] == (["'" + h for h in hostile] if neutral else hostile)
