"""Exceptions: the series a planner should look at first, each with its reasons, ranked by value at risk.

Rules (thresholds in :class:`ExceptionRules`):

- ``far from last year`` — the forecast over the next year (at most the horizon) differs from the actuals of
  the same periods one year earlier by more than ``yoy`` (default 50 %) of last year's total;
- ``jump vs previous forecast`` — the mean forecast per period moved by more than ``jump`` (default 50 %)
  against the previous forecast (given, or else the forecast made at the last backtest cutoff);
- ``bias`` — tracking signal ``|Σ(A − F) / MAD| > tracking`` (default 4) over the backtest's forecasts;
- ``zero forecast with recent demand`` — the forecast is zero over the horizon while the last ``recent``
  periods (default 3) had demand;
- ``model fell back`` — the chosen model failed on the series and a simpler one was used.

Value at risk = price × units × relative error: units = the larger of the forecast and the recent demand
over the horizon, relative error = the backtest's absolute error over its actuals (WAPE; 1 without a
backtest or without actuals).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ExceptionRules:
    yoy: float = 0.5
    jump: float = 0.5
    tracking: float = 4.0
    recent: int = 3


def tracking_signal(actual: np.ndarray, forecast: np.ndarray) -> float:
    e = np.asarray(actual, float) - np.asarray(forecast, float)
    e = e[np.isfinite(e)]
    mad = float(np.mean(np.abs(e))) if e.size else 0.0
    if mad <= 0:
        return 0.0
    return float(e.sum() / mad)


def series_exceptions(history: np.ndarray, forecast: np.ndarray, year: int, *,
                      previous: np.ndarray | None = None, bt_actual: np.ndarray | None = None,
                      bt_forecast: np.ndarray | None = None, fallback: str = "",
                      rules: ExceptionRules = ExceptionRules()) -> tuple[list[str], dict[str, float]]:
    """Reasons (empty when nothing is wrong) and the measures behind them, for one series; ``year`` is the
    number of periods in a year (12 for monthly data)."""
    y = np.asarray(history, float)
    f = np.asarray(forecast, float)
    reasons: list[str] = []
    m = int(year)
    measures: dict[str, float] = {"yoy_change": np.nan, "jump": np.nan, "tracking_signal": np.nan}
    if m > 1 and y.size >= m:
        k = min(m, f.size)
        last_year = y[y.size - m:y.size - m + k]
        ly, fc = float(np.nansum(last_year)), float(f[:k].sum())
        if np.isfinite(last_year).all() and ly > 0:
            measures["yoy_change"] = (fc - ly) / ly
            if abs(fc - ly) > rules.yoy * ly:
                reasons.append(f"far from last year ({fc - ly:+.0f} units, {100 * (fc - ly) / ly:+.0f}% over {k} periods)")
    if previous is not None and np.size(previous):
        prev = float(np.nanmean(previous))
        cur = float(np.mean(f[:max(1, np.size(previous))]))
        base = max(abs(prev), 1e-9)
        measures["jump"] = (cur - prev) / base if prev != 0 else (np.inf if cur > 0 else 0.0)
        if abs(cur - prev) > rules.jump * base and (prev != 0 or cur > 0):
            reasons.append(f"jump vs previous forecast ({prev:.1f} -> {cur:.1f} per period)")
    if bt_actual is not None and np.size(bt_actual):
        ts = tracking_signal(bt_actual, bt_forecast)
        measures["tracking_signal"] = ts
        if abs(ts) > rules.tracking:
            reasons.append(f"bias: tracking signal {ts:+.1f} ({'under' if ts > 0 else 'over'}-forecast)")
    recent = y[-rules.recent:] if y.size else y
    if f.size and float(np.abs(f).sum()) == 0 and np.nansum(recent) > 0:
        reasons.append(f"zero forecast with recent demand ({np.nansum(recent):.0f} units in the last {recent.size} periods)")
    if fallback:
        reasons.append(f"model fell back: {fallback[:160]}")
    return reasons, measures


def value_at_risk(history: np.ndarray, forecast: np.ndarray, price: float, bt_actual: np.ndarray | None,
                  bt_forecast: np.ndarray | None) -> float:
    f = np.asarray(forecast, float)
    y = np.asarray(history, float)
    recent = float(np.nansum(y[-f.size:])) if y.size and f.size else 0.0
    units = max(float(f.sum()), recent)
    rel = 1.0
    if bt_actual is not None and np.size(bt_actual):
        a, b = np.asarray(bt_actual, float), np.asarray(bt_forecast, float)
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.any() and np.abs(a[ok]).sum() > 0:
            rel = float(np.abs(a[ok] - b[ok]).sum() / np.abs(a[ok]).sum())
    return float(price) * units * rel
