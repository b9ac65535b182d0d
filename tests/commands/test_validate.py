"""``python -m forecasting validate``: the JSON contract, column flags and one-line errors."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "forecasting", "validate", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_sample_file_json_matches_the_data():
    p = cli(ROOT / "sample_data" / "store_sales_daily.csv", "--json")
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    raw = pd.read_csv(ROOT / "sample_data" / "store_sales_daily.csv")
    assert j["n_series"] == raw.groupby(["store", "product"]).ngroups == 12
    assert j["n_rows"] == len(raw) and j["total"] == pytest.approx(raw["units"].sum())
    assert (j["freq"], j["date_col"], j["target_col"], j["id_cols"]) == ("D", "date", "units", ["store", "product"])
    assert j["start"].startswith("2022-01-01") and j["end"].startswith("2024-12-31")
    assert j["missing_values"] == 0 and j["missing_dates"] == 0 and j["duplicates"] == 0
    assert isinstance(j["warnings"], list)


def test_flags_one_series_coarser_freq_and_mean(tmp_path):
    f = tmp_path / "tx.csv"
    f.write_text("day;shop;qty\n" + "".join(f"2024-01-{d:02d};{s};{d}\n" for d in range(1, 15) for s in ("a", "b")))
    j = json.loads(cli(f, "--date-col", "day", "--target-col", "qty", "--id-cols", "", "--freq", "W-SUN",
                       "--json").stdout)
    assert (j["n_series"], j["n_rows"], j["freq"], j["id_cols"]) == (1, 2, "W-SUN", [])
    assert j["total"] == 2 * sum(range(1, 15))
    j = json.loads(cli(f, "--id-cols", "", "--agg", "mean", "--json").stdout)
    assert j["n_rows"] == 14 and j["total"] == pytest.approx(sum(range(1, 15))) and j["duplicates"] == 14


def test_wide_file_counts_series_columns():
    j = json.loads(cli(ROOT / "sample_data" / "wide_sales.csv", "--json").stdout)
    wide = pd.read_csv(ROOT / "sample_data" / "wide_sales.csv")
    assert j["n_series"] == wide.shape[1] - 1 and j["n_rows"] == len(wide) * (wide.shape[1] - 1)


def test_excel_sheet_flag(tmp_path):
    f = tmp_path / "book.xlsx"
    with pd.ExcelWriter(f, engine="openpyxl") as xw:
        pd.DataFrame({"note": ["a", "b", "c"]}).to_excel(xw, sheet_name="about", index=False)
        pd.DataFrame({"Monat": pd.date_range("2020-01-01", periods=6, freq="MS"), "Absatz": range(6)}).to_excel(
            xw, sheet_name="Daten", index=False)
    j = json.loads(cli(f, "--sheet", "Daten", "--json").stdout)
    assert (j["n_rows"], j["freq"], j["date_col"], j["target_col"], j["total"]) == (6, "MS", "Monat", "Absatz", 15.0)
    p = cli(f, "--sheet", "Data", "--json")
    assert p.returncode == 2 and "no sheet 'Data'" in p.stderr and "Daten" in p.stderr


def test_human_summary_without_json():
    p = cli(ROOT / "sample_data" / "monthly_sales.csv")
    assert p.returncode == 0 and "1 series, 120 rows" in p.stdout and "frequency MS" in p.stdout


@pytest.mark.parametrize("content, args, needle", [
    (b"", (), "is empty"),
    (b"date,units\n", (), "no data rows"),
    (b"date,units\n2024-01-01,1\n", (), "single data row"),
    (b"PK\x03\x04" + b"\x00" * 64, (), "zip"),
    (b"date,units\n2024-01-01,1\n2024-01-02,1,2\n", (), "line 3"),
    (b"date,units\n2024-01-01,1\n2024-01-02,-inf\n", (), "infinite"),
    (b"date,units\n2024-01-01,1\n2024-01-02,2\n", ("--date-col", "day"), "no column 'day'"),
    (b"month,units\n2024-01,1\n2024-02,2\n", ("--freq", "D"), "cannot be made finer"),
    (b"month,units\n2024-01,1\n2024-02,2\n", ("--freq", "fortnight"), "unknown frequency"),
])
def test_bad_input_exits_2_with_one_error_line(tmp_path, content, args, needle):
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    p = cli(f, *args, "--json")
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2 and p.stdout == ""
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], p.stderr


def test_missing_file():
    p = cli("/nonexistent/sales.csv")
    assert p.returncode == 2 and "file not found" in p.stderr


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; sys.argv=['forecasting','--help']\nimport forecasting.cli as c\n"
            "try:\n    c.main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch','statsmodels','pandas','plotly') if m in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.stdout.strip().splitlines()[-1] == "[]"
