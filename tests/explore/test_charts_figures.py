"""Explore charts build from real results; HTML/PNG export, and a clear error without a browser."""
import numpy as np
import pandas as pd
import pytest

from forecasting.explore.cycles import cycles
from forecasting.explore.decompose import decompose
from forecasting.explore.smoothing import ema, sma, trend_line
from forecasting.explore.stationarity import acf_pacf
from forecasting.explore.summary import summarize
from forecasting.export import charts_explore as ch
from forecasting.export import figures

from explore_signals import daily_two_seasons, monthly


def test_series_figure_has_overlays_and_anomalies_and_escapes_names():
    s = monthly()
    s.iloc[40] += 20
    card = summarize(s, "MS")
    fig = ch.series_figure(s, "<script>x</script>", sma(s, 12), 12, ema(s, 6), 6, trend_line(s), card.anomalies)
    names = [t.name for t in fig.data]
    assert names[:3] == ["observed", "SMA (12)", "EMA (span 6)"] and names[-1] == "anomaly"
    assert names[3].startswith("trend line (+0.") and "per period" in names[3]
    assert pd.Timestamp(fig.data[-1].x[0]) == s.index[40] and len(fig.data[-1].x) == card.n_anomalies
    assert "<script>" not in fig.layout.title.text


def test_seasonal_and_subseries_plots_use_calendar_positions():
    s = monthly()
    fig = ch.seasonal_figure(s, 12, "MS")
    assert len(fig.data) == 10                                   # one line per year
    assert list(fig.layout.xaxis.categoryarray)[:3] == ["Jan", "Feb", "Mar"]
    sub = ch.subseries_figure(s, 12, "MS")
    assert list(sub.layout.xaxis.ticktext) == ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                                               "Oct", "Nov", "Dec"]
    d, _, _ = daily_two_seasons(n=100)
    wk = ch.seasonal_figure(d.iloc[2:], 7, "D")                   # starts mid-week: order stays Mon..Sun
    assert list(wk.layout.xaxis.categoryarray) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert "last 12" in wk.layout.title.text


def test_decomposition_acf_and_cycles_figures():
    s, _, _ = daily_two_seasons()
    dec = decompose(s, "D", "mstl")
    fig = ch.decomposition_figure(dec)
    assert [a.text for a in fig.layout.annotations] == ["observed", "trend", "seasonal 7", "seasonal 365", "residual"]
    acf = ch.acf_pacf_figure(acf_pacf(s, 30))
    assert len(acf.data) == 4 and len(acf.data[1].x) == 30
    cyc = ch.cycles_figure(cycles(dec.adjusted, "D", 7))
    assert {t.name for t in cyc.data} >= {"HP trend", "HP cycle"}


def test_html_export_is_standalone():
    html = figures.to_html(ch.seasonal_figure(monthly(), 12, "MS")).decode()
    assert html.startswith("<html>") and "plotly" in html.lower() and "Jan" in html


def test_png_without_a_browser_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(figures, "find_browser", lambda: None)
    ok, why = figures.png_available()
    assert not ok and "apt-get install -y chromium" in why
    with pytest.raises(figures.FigureExportError, match="needs a Chromium"):
        figures.to_png(ch.seasonal_figure(monthly(), 12, "MS"))


@pytest.mark.slow
def test_png_export_with_a_browser():
    if not figures.png_available()[0]:
        pytest.skip("no Chromium on this machine")
    png = figures.to_png(ch.seasonal_figure(monthly(), 12, "MS"), width=600, height=400)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
