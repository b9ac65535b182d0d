"""One self-contained HTML report (viewable offline), its PDF, and a zip with every export.

The report holds: dataset summary and data quality, a decomposition of the total, the backtest
leaderboard (win counts, best model highlighted) with the error distribution, forecast fan charts
(the total and the first series), model settings per series, and the configuration, versions and seed
needed to reproduce it. plotly.js is inlined once in ``<head>``; every figure after that is a ``<div>``.
Every user string (file name, column names, series ids) is HTML-escaped.

``write_report`` is also the implementation of ``python -m forecasting forecast … --report OUT.html``.
"""
from __future__ import annotations

import datetime as _dt
import io
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from forecasting.errors import SalesCastError
from forecasting.export import charts_models as cm
from forecasting.export import tables
from forecasting.export.text import html_escape

MAX_SERIES_CHARTS = 6
MAX_TABLE_ROWS = 200
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ExportUnavailable(SalesCastError):
    """An export needs a tool this machine lacks (e.g. Chromium for the PDF)."""



# ---------------------------------------------------------------- HTML pieces

def html_table(df: pd.DataFrame, highlight: Mapping[str, str] | None = None, max_rows: int = MAX_TABLE_ROWS) -> str:
    """An escaped HTML table. ``highlight`` maps column → "min"/"max": that column's best cell is bold."""
    if df is None or len(df.columns) == 0:
        return "<p class='muted'>nothing to show</p>"
    shown = df.head(max_rows)
    best: dict[str, Any] = {}
    for col, how in (highlight or {}).items():
        if col in shown and pd.api.types.is_numeric_dtype(shown[col]) and shown[col].notna().any():
            best[col] = shown[col].idxmin() if how == "min" else shown[col].idxmax()
    head = "".join(f"<th>{html_escape(c)}</th>" for c in shown.columns)
    rows = []
    for idx, row in shown.iterrows():
        cells = []
        for col in shown.columns:
            v = row[col]
            text = _fmt(v)
            cls = " class='best'" if best.get(col) == idx else ""
            num = " class='num'" if isinstance(v, (int, float, np.number)) and not cls else cls
            cells.append(f"<td{num}>{html_escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p class='muted'>first {max_rows} of {len(df)} rows; the CSV/Excel exports hold all</p>" \
        if len(df) > max_rows else ""
    return f"<div class='tbl'><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{more}"


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:,.0f}"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d") if v == v.normalize() else str(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str)
    return str(v)


def _figure(fig) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def _section(title: str, body: str, anchor: str) -> str:
    return f"<section id='{anchor}'><h2>{html_escape(title)}</h2>{body}</section>"


def _kv(items: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html_escape(k)}</th><td>{html_escape(_fmt(v))}</td></tr>" for k, v in items.items())
    return f"<table class='kv'>{rows}</table>"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:24px;color:#222}
h1{margin-bottom:0}h2{border-bottom:2px solid #1f77b4;padding-bottom:4px;margin-top:36px}
.muted{color:#666;font-size:0.9em}table{border-collapse:collapse;font-size:0.85em;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left}td.num{text-align:right}
td.best{font-weight:bold;background:#dff0d8}thead th{background:#f3f6fa;position:sticky;top:0}
.tbl{overflow-x:auto;max-height:520px}table.kv th{background:#f3f6fa;width:220px}
nav a{margin-right:14px}section{page-break-inside:avoid}
@page{size:A4 landscape;margin:10mm}
@media print{body{max-width:none;padding:0}.tbl{max-height:none;overflow:visible}nav,.modebar{display:none!important}
table{font-size:0.7em}thead th{position:static}.plotly-graph-div,.js-plotly-plot{break-inside:avoid}}
"""


# ---------------------------------------------------------------- sections

def _dataset_section(dataset, explore: Mapping[str, Any]) -> str:
    df = dataset.df
    summary = {
        "source file": dataset.source or "(not recorded)",
        "series": dataset.n_series, "rows": len(df), "frequency": dataset.freq,
        "first date": df["ds"].min() if len(df) else "", "last date": df["ds"].max() if len(df) else "",
        "date column": dataset.date_col, "target column": dataset.target_col,
        "id columns": ", ".join(dataset.id_cols) or "(one series)",
        "covariates": ", ".join(dataset.covariates) or "(none)",
        "missing target values": int(df["y"].isna().sum()),
    }
    notes = list(dataset.notes) + list(explore.get("notes", []))
    notes_html = "<ul>" + "".join(f"<li>{html_escape(n)}</li>" for n in notes) + "</ul>" if notes else ""
    quality = explore.get("quality")
    qtab = quality if isinstance(quality, pd.DataFrame) else tables.quality_table(dataset)
    findings = tables.quality_findings(dataset)
    body = _kv(summary) + notes_html + "<h3>Data quality per series</h3>" + html_table(qtab, max_rows=50)
    if len(findings):
        body += "<h3>Quality findings</h3>" + html_table(findings, max_rows=50)
    return _section("Dataset", body, "dataset")


def _total_history(dataset) -> pd.Series:
    return dataset.df.groupby("ds")["y"].sum(min_count=1).sort_index()


def _decomposition_section(dataset, explore: Mapping[str, Any]) -> str:
    """STL of the total (Explore's ``decompose``), or a figure the caller made."""
    fig = explore.get("decomposition_figure")
    notes: list[str] = []
    if fig is None:
        try:
            from forecasting.explore.decompose import decompose
        except ImportError:
            return ""
        total = _total_history(dataset)
        if total.notna().sum() < 4:
            return ""
        try:
            dec = decompose(total, dataset.freq, method="stl")
        except Exception as exc:   # the report must not fail because one diagnostic did
            return _section("Decomposition of the total", f"<p class='muted'>not available: {html_escape(exc)}</p>", "decomposition")
        notes = dec.notes
        fig = _decomposition_figure(dec.frame, [c for c in dec.frame.columns if c not in ("y", "imputed")])
    body = _figure(fig) + ("<ul>" + "".join(f"<li>{html_escape(n)}</li>" for n in notes) + "</ul>" if notes else "")
    return _section("Decomposition of the total", body, "decomposition")


def _decomposition_figure(frame: pd.DataFrame, comps: Sequence[str]):
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    rows = ["y", *comps]
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.03,
                        subplot_titles=[cm.esc(r) for r in rows])
    for i, c in enumerate(rows, start=1):
        fig.add_trace(go.Scatter(x=frame.index, y=frame[c], mode="lines", name=cm.esc(c), showlegend=False,
                                 line=dict(color=cm.PALETTE[(i - 1) % len(cm.PALETTE)])), row=i, col=1)
    fig.update_layout(height=150 * len(rows) + 60, margin=dict(l=50, r=20, t=40, b=30), template="plotly_white")
    return fig


def _leaderboard_section(dataset, bt) -> str:
    summary = bt.summary if bt.summary is not None else pd.DataFrame()
    highlight = {c: "min" for c in tables.LOWER_IS_BETTER if c in summary}
    if "r2" in summary:
        highlight["r2"] = "max"
    metric = tables.rank_metric(bt.metrics) if len(bt.metrics) else None
    body = f"<p class='muted'>mean over series; ranked by {html_escape(metric or 'n/a')} (lower is better); " \
           f"best value per column in bold.</p>" + html_table(summary, highlight)
    if metric and bt.metrics["unique_id"].nunique() > 1:
        wins = tables.win_counts(bt.metrics, metric)
        body += f"<h3>Wins per model (lowest {html_escape(metric)} per series)</h3>" + html_table(wins)
    if bt.total is not None and len(bt.total):
        body += "<h3>Accuracy on the total over series</h3>" + html_table(bt.total)
    if len(bt.forecasts):
        body += _figure(cm.error_distribution_figure(bt.forecasts))
        uid = _first_series(dataset)
        body += _figure(cm.backtest_figure(dataset.series(uid), bt.forecasts[bt.forecasts["unique_id"] == uid],
                                           title=f"Backtest: {cm.esc(uid)}", history_tail=120))
    cfg = bt.info.get("config", {})
    keys = ("horizon", "windows", "step", "season_length", "window_type", "levels", "models")
    body += "<h3>Backtest settings</h3>" + _kv({k: cfg.get(k) for k in keys if k in cfg})
    return _section("Model comparison (backtest)", body, "leaderboard")


def _first_series(dataset) -> str:
    return dataset.series_ids[0]


def _forecast_section(dataset, fr, table=None) -> str:
    fc = fr.forecasts
    body = ""
    if dataset.n_series > 1:
        h, f = cm.aggregate(dataset.df, fc)
        body += _figure(cm.fan_chart(h.rename(columns={"group": "unique_id"}), f, title="Total over all series",
                                     history_tail=_tail(dataset), ytitle=cm.esc(dataset.target_col)))
        body += "<p class='muted'>Bands of the total add up the series' bounds: conservative (never too narrow).</p>"
    ids = dataset.series_ids[:MAX_SERIES_CHARTS]
    for uid in ids:
        body += _figure(cm.fan_chart(dataset.series(uid), fc[fc["unique_id"] == uid], title=cm.esc(uid),
                                     history_tail=_tail(dataset), ytitle=cm.esc(dataset.target_col)))
    if dataset.n_series > len(ids):
        body += f"<p class='muted'>Charts for the first {len(ids)} of {dataset.n_series} series; " \
                f"the forecast table covers all.</p>"
    if table is None:
        table = tables.export_tables(dataset, fr)["forecasts"]
    body += "<h3>Forecast numbers</h3>" + html_table(table)
    return _section("Forecasts", body, "forecasts")


def _tail(dataset) -> int:
    from forecasting.data.frequency import season_length_for

    return max(36, 4 * season_length_for(dataset.freq))


def _settings_section(dataset, fr, bt) -> str:
    t = tables.export_tables(dataset, fr, bt)
    return _section("Model settings per series", html_table(t["settings"]), "settings") if "settings" in t else ""


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version
    import platform

    out = {"python": platform.python_version()}
    for pkg in ("salescast", "numpy", "pandas", "scipy", "statsmodels", "torch", "plotly", "streamlit"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def _repro_section(fr, bt, info: Mapping[str, Any]) -> str:
    body = ""
    for label, res in (("Forecast", fr), ("Backtest", bt)):
        if res is None:
            continue
        ri = dict(res.info)
        keep = {"seed": ri.get("seed"), "device": ri.get("device"), "cancelled": ri.get("cancelled"),
                "timings": ri.get("timings"), "config": ri.get("config"), "notes": ri.get("notes")}
        body += f"<h3>{label}</h3>" + _kv({k: v for k, v in keep.items() if v is not None})
    versions = {**package_versions(), **((bt or fr).info.get("versions", {}) if (bt or fr) else {})}
    body += "<h3>Versions</h3>" + _kv(versions)
    shown = [dict(r.info) for r in (fr, bt) if r is not None]
    extra = {k: v for k, v in dict(info).items() if not any(k in d and d[k] == v for d in shown)}
    if extra:
        body += "<h3>Run</h3>" + _kv(extra)
    return _section("Reproduce", body, "reproduce")


# ---------------------------------------------------------------- public API

def build_report(dataset, forecast_result=None, backtest_result=None, explore: Mapping[str, Any] | None = None,
                 info: Mapping[str, Any] | None = None, title: str = "SalesCast report",
                 forecast_table=None) -> str:
    """The report as one HTML string (plotly.js inlined once, so it opens offline). ``forecast_table``
    replaces the forecast numbers made from ``forecast_result`` (e.g. with the planners' ``override`` and
    ``final`` columns)."""
    from plotly.offline import get_plotlyjs

    explore = explore or {}
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [_dataset_section(dataset, explore), _decomposition_section(dataset, explore)]
    if backtest_result is not None:
        parts.append(_leaderboard_section(dataset, backtest_result))
    if forecast_result is not None:
        parts.append(_forecast_section(dataset, forecast_result, forecast_table))
    parts.append(_settings_section(dataset, forecast_result, backtest_result))
    parts.append(_repro_section(forecast_result, backtest_result, info or {}))
    nav = "".join(f"<a href='#{a}'>{t}</a>" for a, t in (
        ("dataset", "Dataset"), ("decomposition", "Decomposition"), ("leaderboard", "Models"),
        ("forecasts", "Forecasts"), ("settings", "Settings"), ("reproduce", "Reproduce")))
    source = f" · {html_escape(dataset.source)}" if dataset.source else ""
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html_escape(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<style>{CSS}</style><script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            f"<h1>{html_escape(title)}</h1><p class='muted'>generated {stamp}{source}</p><nav>{nav}</nav>"
            + "".join(parts) + "</body></html>")


def write_report(path, dataset, forecast_result=None, backtest_result=None, explore=None, info=None) -> Path:
    """Write :func:`build_report` to ``path`` (UTF-8) and return the path."""
    from forecasting.export.files import write_text

    path = Path(path)
    write_text(build_report(dataset, forecast_result, backtest_result, explore, info), path)
    return path


def find_chromium() -> str | None:
    """The Chromium/Chrome binary: ``$SALESCAST_CHROMIUM``, else the first one on PATH."""
    env = os.environ.get("SALESCAST_CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in CHROMIUM_CANDIDATES:
        if found := shutil.which(name):
            return found
    return None


def html_to_pdf(html_text: str, timeout: float = 120) -> bytes:
    """Print an HTML document to PDF with headless Chromium (a private profile and temp dir per call)."""
    exe = find_chromium()
    if exe is None:
        raise ExportUnavailable("PDF export needs Chromium (Debian: apt-get install chromium); "
                                "the HTML report has the same content")
    with tempfile.TemporaryDirectory(prefix="salescast-pdf-") as tmp:
        src, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(html_text, encoding="utf-8")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--no-pdf-header-footer", f"--user-data-dir={Path(tmp) / 'profile'}",
               "--virtual-time-budget=20000", "--run-all-compositor-stages-before-draw",
               f"--print-to-pdf={out}", src.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ExportUnavailable(f"Chromium did not finish the PDF within {timeout:.0f}s") from None
        if not out.exists() or out.stat().st_size == 0:
            tail = (proc.stderr or "").strip().splitlines()[-1:] or [""]
            raise ExportUnavailable(f"Chromium could not print the PDF (exit {proc.returncode}): {tail[0][:200]}")
        return out.read_bytes()


def write_pdf(path, dataset, forecast_result=None, backtest_result=None, explore=None, info=None) -> Path:
    """The same report as :func:`write_report`, printed to PDF."""
    path = Path(path)
    path.write_bytes(html_to_pdf(build_report(dataset, forecast_result, backtest_result, explore, info)))
    return path


def zip_bytes(dataset, forecast_result=None, backtest_result=None, explore=None, info=None, *,
              charts: Mapping[str, Any] | None = None, include_pdf: bool = True,
              report_html: str | None = None, forecast_table=None) -> bytes:
    """Everything in one zip: CSVs, the Excel workbook, the HTML report (+ PDF when Chromium is there),
    and each chart in ``charts`` (name → plotly figure) as interactive HTML (+ PNG when it can be made).
    ``forecast_table`` replaces the forecasts table everywhere in it (as in :func:`build_report`)."""
    from forecasting.export.names import safe_filename

    frames = tables.export_tables(dataset, forecast_result, backtest_result, (explore or {}).get("quality"))
    if forecast_table is not None:
        frames = {**frames, "forecasts": forecast_table}
    report_html = report_html or build_report(dataset, forecast_result, backtest_result, explore, info,
                                              forecast_table=forecast_table)
    skipped: list[str] = []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, frame in frames.items():
            zf.writestr(safe_filename(name, "csv"), tables.to_csv_bytes(frame))
        zf.writestr("salescast.xlsx", tables.to_excel_bytes(frames))
        zf.writestr("report.html", report_html)
        if include_pdf:
            try:
                zf.writestr("report.pdf", html_to_pdf(report_html))
            except ExportUnavailable as exc:
                skipped.append(f"report.pdf: {exc}")
        for name, fig in (charts or {}).items():
            stem = safe_filename(name, "html")[:-5]
            zf.writestr(f"charts/{stem}.html", fig.to_html(include_plotlyjs=True, full_html=True))
            try:
                zf.writestr(f"charts/{stem}.png", figure_png(fig))
            except ExportUnavailable as exc:
                skipped.append(f"charts/{stem}.png: {exc}")
        if skipped:
            zf.writestr("SKIPPED.txt", "\n".join(skipped) + "\n")
    return buf.getvalue()


def figure_png(fig, width: int = 1000, height: int = 500) -> bytes:
    """PNG bytes of a figure through the shared exporter (kaleido + Chromium), or ExportUnavailable."""
    from forecasting.export.figures import FigureExportError, to_png

    try:
        return to_png(fig, width=width, height=height)
    except FigureExportError as exc:
        raise ExportUnavailable(str(exc)) from None
