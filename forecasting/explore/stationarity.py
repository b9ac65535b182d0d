"""Autocorrelation (ACF/PACF with confidence bands) and ADF/KPSS stationarity tests in plain words."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.explore.prep import prepare


def acf_pacf(y: pd.Series, nlags: int | None = None, alpha: float = 0.05, freq: str | None = None) -> pd.DataFrame:
    """ACF and PACF up to ``nlags`` with the half-width of the (1 - alpha) band around zero.

    Columns: lag, acf, acf_band (Bartlett: grows with lag), pacf, pacf_band (1.96 / sqrt(n)).
    Gaps are interpolated first."""
    from statsmodels.tsa.stattools import acf, pacf

    x = prepare(y, freq).y.to_numpy(dtype="float64")
    n = len(x)
    cols = ["lag", "acf", "acf_band", "pacf", "pacf_band"]
    if n < 4 or np.std(x) == 0:
        return pd.DataFrame(columns=cols, dtype="float64")
    nlags = min(int(nlags) if nlags else min(40, n // 2), n // 2 - 1, n - 2)
    nlags = max(nlags, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, ci_a = acf(x, nlags=nlags, alpha=alpha, fft=True)
        p, ci_p = pacf(x, nlags=nlags, alpha=alpha, method="ywm")
    return pd.DataFrame({"lag": np.arange(nlags + 1), "acf": a, "acf_band": ci_a[:, 1] - a,
                         "pacf": p, "pacf_band": ci_p[:, 1] - p})


@dataclass
class Stationarity:
    adf_stat: float
    adf_p: float
    kpss_stat: float
    kpss_p: float
    stationary: bool | None         # None: the tests disagree or could not run
    ndiffs: int                     # ordinary differences suggested
    nsdiffs: int                    # seasonal differences suggested (lag = season_length)
    verdict: str                    # one or two plain sentences
    notes: list[str] = field(default_factory=list)


LONG = 3000   # above this many observations the ADF lag is not searched


def _tests(x: np.ndarray, season_length: int = 1) -> tuple[float, float, float, float]:
    """ADF with the lag chosen by AIC up to Schwert's 12·(n/100)^¼, or fewer when one season plus one
    (or 4·(n/100)^¼) lags suffice: each candidate lag is a regression, the costly part on long series.
    Above ``LONG`` observations that lag is used as is."""
    from statsmodels.tsa.stattools import adfuller, kpss

    n = len(x)
    maxlag = min(int(12 * (n / 100) ** 0.25), max(season_length + 1, int(4 * (n / 100) ** 0.25)), n // 2 - 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # long series: the lag is fixed at maxlag (one regression instead of maxlag + 1)
        adf = adfuller(x, maxlag=max(maxlag, 0), autolag="AIC" if n <= LONG else None)
        kp = kpss(x, regression="c", nlags="auto")
    return float(adf[0]), float(adf[1]), float(kp[0]), float(kp[1])


def _kpss_p(x: np.ndarray) -> float:
    from statsmodels.tsa.stattools import kpss

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(kpss(x, regression="c", nlags="auto")[1])


def stationarity(y: pd.Series, season_length: int = 1, seasonal_strength: float | None = None,
                 freq: str | None = None, alpha: float = 0.05) -> Stationarity:
    """ADF (null: unit root) and KPSS (null: stationary) at level ``alpha``, with a verdict.

    Ordinary differences: KPSS repeated on the differenced series until it passes (at most 2).
    Seasonal differences: 1 when the seasonal strength is above 0.64 (Hyndman & Athanasopoulos)."""
    prep = prepare(y, freq)
    x = prep.y.to_numpy(dtype="float64")
    n = len(x)
    notes = list(prep.notes)
    nan = float("nan")
    if n < 10 or np.std(x) == 0:
        why = "constant" if n >= 10 else f"only {n} observations"
        return Stationarity(nan, nan, nan, nan, None, 0, 0,
                            f"Stationarity not tested: the series is {why}.", notes)
    nsdiffs = int(season_length > 1 and seasonal_strength is not None and seasonal_strength > 0.64
                  and n >= 2 * season_length + 10)
    z = x[season_length:] - x[:-season_length] if nsdiffs else x
    adf_s, adf_p, kpss_s, kpss_p = _tests(x, season_length)
    ndiffs, d, zz = 0, 0, z
    while d < 2 and len(zz) > 10 and np.std(zz) > 0 and _kpss_p(zz) < alpha:
        d += 1
        zz = np.diff(zz)
    ndiffs = d
    adf_rej, kpss_rej = adf_p < alpha, kpss_p < alpha
    p_txt = f"ADF p{_fmt_p(adf_p)}, KPSS p{_fmt_p(kpss_p)}"
    if adf_rej and not kpss_rej:
        stationary, head = True, f"The series looks stationary: both tests agree ({p_txt})."
    elif not adf_rej and kpss_rej:
        stationary, head = False, f"The series is not stationary: its level wanders ({p_txt})."
    elif adf_rej and kpss_rej:
        stationary, head = None, (f"The tests disagree ({p_txt}): likely stationary around a trend "
                                  "or with a break; detrend or difference before modelling.")
    else:
        stationary, head = None, (f"The tests are inconclusive ({p_txt}): too little evidence either "
                                  "way, often a sign of a short series.")
    advice = []
    if ndiffs:
        advice.append(f"{ndiffs} ordinary difference{'s' if ndiffs > 1 else ''}")
    if nsdiffs:
        advice.append(f"1 seasonal difference (lag {season_length}; seasonality is strong)")
    tail = ("Suggested differencing: " + " and ".join(advice) + ".") if advice else "No differencing suggested."
    return Stationarity(adf_s, adf_p, kpss_s, kpss_p, stationary, ndiffs, nsdiffs, f"{head} {tail}", notes)


def _fmt_p(p: float) -> str:
    if math.isnan(p):
        return " n/a"
    return "<0.01" if p < 0.01 else f"={p:.2f}"
