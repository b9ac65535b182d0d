"""`python -m forecasting forecast … --report OUT.html` writes the same report from the command line."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def test_cli_report(tmp_path, root):
    n = 36
    rows = []
    for store in ["North", "<img src=x onerror=alert(1)>"]:
        y = 100 + 20 * np.sin(2 * np.pi * np.arange(n) / 12)
        rows += [(str(m), store, float(v)) for m, v in zip(pd.period_range("2020-01", periods=n, freq="M"), y)]
    src = tmp_path / "cli sales.csv"
    pd.DataFrame(rows, columns=["month", "store", "units"]).to_csv(src, index=False)
    out = tmp_path / "report.html"
    p = subprocess.run([sys.executable, "-m", "forecasting", "forecast", str(src), "--date-col", "month",
                        "--target-col", "units", "--id-cols", "store", "--horizon", "6", "--model",
                        "seasonal_naive", "--report", str(out), "--output", str(tmp_path / "fc.csv")],
                       capture_output=True, text=True, cwd=root, timeout=300)
    assert p.returncode == 0, p.stderr[-500:]
    text = out.read_text(encoding="utf-8")
    for section in ("dataset", "forecasts", "settings", "reproduce"):
        assert f"<section id='{section}'>" in text
    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "cli sales.csv" in text
    fc = pd.read_csv(tmp_path / "fc.csv")
    first = fc[fc["store"] == "North"]["forecast"].iloc[0]
    assert f"{first:.4g}" in text
