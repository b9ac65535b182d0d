"""The HTML report is self-contained, escaped and complete; the zip holds every export; PDF via Chromium."""
import io
import re
import shutil
import zipfile

import openpyxl
import pandas as pd
import pytest

from forecasting.export import report, tables
from tests.export.conftest import EVIL


def test_report_is_offline_complete_and_escaped(tmp_path, dataset, results):
    bt, fr = results
    path = report.write_report(tmp_path / "r.html", dataset, fr, bt, info={"app": "test"})
    text = path.read_text(encoding="utf-8")
    # plotly.js inlined exactly once; no network references at all
    assert text.count("plotly.js v") <= 2 and "Plotly.newPlot" in text
    assert len(re.findall(r"<script type='text/javascript'>/\*\*", text)) <= 1
    assert not re.search(r"<script[^>]+src=", text)
    body = text.split("</head>", 1)[1]
    assert "plotly.js v" not in body and "cdn.plot.ly" not in body and "https://" not in body
    # every section is there
    for anchor in ("dataset", "decomposition", "leaderboard", "forecasts", "settings", "reproduce"):
        assert f"<section id='{anchor}'>" in text
    # user strings escaped everywhere: the table cells, the chart titles, the source file name
    assert EVIL not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "sales &lt;b&gt;.csv" in text
    # the numbers: seed, winner highlighted, forecast values in the table
    assert "<th>seed</th><td>7</td>" in text
    assert "class='best'" in text
    first = fr.forecasts.iloc[0]["forecast"]
    assert f"{first:.4g}" in text
    assert "Wins per model" in text


def test_html_table_highlights_best_and_escapes():
    df = pd.DataFrame({"model": ["<i>a</i>", "b"], "mae": [2.0, 1.0], "r2": [0.5, 0.9]})
    out = report.html_table(df, {"mae": "min", "r2": "max"})
    assert "<i>a</i>" not in out and "&lt;i&gt;a&lt;/i&gt;" in out
    assert out.count("class='best'") == 2 and "<td class='best'>1</td>" in out


def test_report_without_results_still_describes_data(dataset):
    text = report.build_report(dataset)
    assert "<section id='dataset'>" in text and "<section id='forecasts'>" not in text


def test_zip_holds_every_export(dataset, results):
    bt, fr = results
    from forecasting.export.charts_models import error_distribution_figure

    data = report.zip_bytes(dataset, fr, bt, charts={"errors / <all>": error_distribution_figure(bt.forecasts)},
                            include_pdf=False)
    zf = zipfile.ZipFile(io.BytesIO(data))
    names = set(zf.namelist())
    assert {"forecasts.csv", "metrics.csv", "settings.csv", "data_quality.csv", "salescast.xlsx",
            "report.html", "charts/errors_all.html"} <= names
    fc = pd.read_csv(zf.open("forecasts.csv"))
    assert list(fc.columns[:3]) == ["store", "sku", "date"] and len(fc) == len(fr.forecasts)
    assert set(fc["sku"]) == {"A", "'=B"}               # injection-safe in the zip too
    wb = openpyxl.load_workbook(io.BytesIO(zf.read("salescast.xlsx")))
    assert {"forecasts", "metrics", "settings", "data quality"} <= set(wb.sheetnames)
    for name in names:
        assert not name.startswith("/") and ".." not in name


def test_export_tables_restore_ids(dataset, results):
    bt, fr = results
    t = tables.export_tables(dataset, fr, bt)
    assert list(t["forecasts"].columns[:3]) == ["store", "sku", "date"]
    assert t["settings"]["settings"].iloc[0] == '{"season_length": 12}'
    q = t["data quality"]
    assert len(q) == dataset.n_series and (q["length"] == 48).all() and list(q.columns[:2]) == ["store", "sku"]
    wins = tables.win_counts(bt.metrics)
    assert wins["wins"].sum() == dataset.n_series


def test_pdf_needs_chromium(monkeypatch, dataset):
    monkeypatch.setattr(report, "find_chromium", lambda: None)
    with pytest.raises(report.ExportUnavailable, match="Chromium"):
        report.html_to_pdf("<p>x</p>")


@pytest.mark.slow
@pytest.mark.skipif(not report.find_chromium(), reason="Chromium is not installed")
def test_pdf_of_the_report(tmp_path, dataset, results):
    bt, fr = results
    path = report.write_pdf(tmp_path / "r.pdf", dataset, fr, bt)
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000
    assert data.count(b"/Type /Page") >= 3 or data.count(b"/Type/Page") >= 3


def test_zip_and_report_carry_the_planners_final_forecast(dataset, results):
    """The Forecast page passes its table with ``override`` and ``final``: the zip's CSV, its workbook and
    both reports show those numbers, not only the statistical forecast."""
    bt, fr = results
    table = tables.export_tables(dataset, fr)["forecasts"].copy()
    table["override"] = 0.0
    table.loc[0, "override"] = 1234.5
    table["final"] = table["forecast"] + table["override"]
    data = report.zip_bytes(dataset, fr, bt, include_pdf=False, forecast_table=table)
    zf = zipfile.ZipFile(io.BytesIO(data))
    fc = pd.read_csv(zf.open("forecasts.csv"))
    assert fc.loc[0, "final"] == pytest.approx(table.loc[0, "forecast"] + 1234.5)
    assert (fc["final"].iloc[1:] == fc["forecast"].iloc[1:]).all()
    wb = openpyxl.load_workbook(io.BytesIO(zf.read("salescast.xlsx")))
    header = [c.value for c in next(wb["forecasts"].iter_rows(max_row=1))]
    assert {"forecast", "override", "final"} <= set(header)
    for html in (zf.read("report.html").decode("utf-8"),
                 report.build_report(dataset, fr, bt, forecast_table=table)):
        numbers = html.split("<h3>Forecast numbers</h3>", 1)[1]
        assert "<th>final</th>" in numbers and "<th>override</th>" in numbers and "1234" in numbers
    plain = report.build_report(dataset, fr, bt).split("<h3>Forecast numbers</h3>", 1)[1]
    assert "<th>final</th>" not in plain
