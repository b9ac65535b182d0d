"""``python -m forecasting decompose``: output columns, additivity, detection message, errors."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
PATTERN = np.array([5.0, 3, 0, -2, -4, -6, -4, -1, 2, 4, 6, -3]) - 0.25


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "forecasting", "decompose", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def sales(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    months = pd.period_range("2016-01", periods=60, freq="M").astype(str)
    rows = []
    for store in ["North", "South"]:
        for sku in ["A-1", "B-2"]:
            y = 200 + np.arange(60) + np.resize(PATTERN * 3, 60) + rng.normal(0, 1, 60)
            rows += [(m, store, sku, round(float(v), 2)) for m, v in zip(months, y)]
    df = pd.DataFrame(rows, columns=["month", "store", "sku", "units"])
    df = df.drop(index=[10, 11])                     # two missing months in North / A-1
    path = tmp_path_factory.mktemp("dec") / "sales.csv"
    df.to_csv(path, index=False)
    return path


COLS = ["--date-col", "month", "--target-col", "units", "--id-cols", "store,sku"]


def test_stl_with_detected_period(sales, tmp_path):
    out = tmp_path / "dec.csv"
    p = cli(sales, *COLS, "--method", "stl", "--output", out)
    assert p.returncode == 0, p.stderr
    assert "detected period(s): 12 (4 series)" in p.stderr
    d = pd.read_csv(out)
    assert list(d.columns) == ["store", "sku", "date", "y", "trend", "seasonal", "resid", "imputed", "anomaly"]
    assert len(d) == 240                                 # one row per series x month, gaps included
    assert d["imputed"].sum() == 2
    assert np.allclose(d["y"], d["trend"] + d["seasonal"] + d["resid"])
    na = d[(d["store"] == "North") & (d["sku"] == "A-1")]
    assert np.corrcoef(na["seasonal"], np.resize(PATTERN, 60))[0, 1] > 0.95


def test_mstl_with_periods_and_one_series(sales, tmp_path):
    out = tmp_path / "m.csv"
    p = cli(sales, *COLS, "--method", "mstl", "--period", "3,12", "--series", "South / B-2", "--output", out)
    assert p.returncode == 0, p.stderr
    assert "detected" not in p.stderr
    d = pd.read_csv(out)
    assert list(d.columns) == ["store", "sku", "date", "y", "trend", "seasonal_3", "seasonal_12", "resid", "imputed", "anomaly"]
    assert len(d) == 60 and set(d["store"]) == {"South"}
    assert np.allclose(d["y"], d["trend"] + d["seasonal_3"] + d["seasonal_12"] + d["resid"])


def test_classical_multiplicative_multiplies(sales, tmp_path):
    out = tmp_path / "c.csv"
    p = cli(sales, *COLS, "--method", "classical", "--model", "multiplicative", "--period", "12", "--output", out)
    assert p.returncode == 0, p.stderr
    d = pd.read_csv(out)
    assert np.allclose(d["y"], d["trend"] * d["seasonal"] * d["resid"])


def test_single_series_gets_a_series_column_and_a_short_history_note(tmp_path):
    path = tmp_path / "short.csv"
    pd.DataFrame({"month": pd.period_range("2020-01", periods=18, freq="M").astype(str),
                  "sales": np.arange(18) + 10.0}).to_csv(path, index=False)
    out = tmp_path / "s.csv"
    p = cli(path, "--period", "12", "--output", out)
    assert p.returncode == 0, p.stderr
    assert "two full seasons" in p.stderr
    d = pd.read_csv(out)
    assert list(d.columns) == ["series", "date", "y", "trend", "resid", "imputed", "anomaly"]


@pytest.mark.parametrize("args,message", [
    (["--series", "Nowhere"], "--series 'Nowhere' is not in"),
    (["--period", "weekly"], "is not a number"),
    (["--period", "1"], "at least 2"),
    (["--date-col", "nope"], "nope"),
])
def test_bad_input_exits_2_with_one_error_line(sales, tmp_path, args, message):
    cols = [c for c in COLS]
    if "--date-col" in args:
        cols = cols[2:]
    p = cli(sales, *cols, *args, "--output", tmp_path / "x.csv")
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert lines[-1].startswith("error:") and message in lines[-1]


def test_missing_file_and_output_folder(tmp_path):
    p = cli(tmp_path / "none.csv", "--output", tmp_path / "x.csv")
    assert p.returncode == 2 and p.stderr.strip().splitlines()[-1].startswith("error:")
    p = cli(ROOT / "sample_data" / "monthly_sales.csv", "--output", tmp_path / "no" / "x.csv")
    assert p.returncode == 2 and "does not exist" in p.stderr
