"""One call for the summary card of a series and the table of all series."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from forecasting.data.contract import ID
from forecasting.explore.anomalies import THRESHOLD, find_anomalies, series_flags
from forecasting.explore.decompose import Decomposition, decompose
from forecasting.explore.prep import to_series
from forecasting.explore.profile import DemandProfile, demand_profile
from forecasting.explore.seasonality import detect_periods, fmt_period
from forecasting.explore.stationarity import Stationarity, stationarity
from forecasting.progress import Cancelled, ProgressCallback, report


@dataclass
class SeriesSummary:
    n_obs: int
    n_missing: int
    periods: list[float]            # detected seasonal periods
    season_length: int              # what models use by default (1: none)
    trend_strength: float
    seasonal_strength: float        # NaN when no seasonal part could be estimated
    stationarity: Stationarity
    profile: DemandProfile
    n_anomalies: int
    anomalies: pd.DataFrame
    decomposition: Decomposition
    notes: list[str] = field(default_factory=list)
    anomaly_scale: str = "additive"     # the scale anomalies were scored on: additive | sqrt | multiplicative

    def row(self) -> dict:
        return {"n_obs": self.n_obs, "n_missing": self.n_missing,
                "periods": ", ".join(fmt_period(p) for p in self.periods) or "none",
                "trend_strength": self.trend_strength, "seasonal_strength": self.seasonal_strength,
                "stationary": {True: "yes", False: "no", None: "unclear"}[self.stationarity.stationary],
                "ndiffs": self.stationarity.ndiffs, "nsdiffs": self.stationarity.nsdiffs,
                "demand_class": self.profile.demand_class, "adi": self.profile.adi, "cv2": self.profile.cv2,
                "cv": self.profile.cv, "n_anomalies": self.n_anomalies, "anomaly_scale": self.anomaly_scale}


def summarize(y: pd.Series, freq: str | None = None, dec: Decomposition | None = None,
              threshold: float = THRESHOLD, flags: pd.DataFrame | None = None) -> SeriesSummary:
    """Periods, strengths, stationarity verdict, demand profile and anomalies of one series.

    ``dec`` is the decomposition to read strengths and anomalies from; by default a robust STL with the
    shortest detected period (trend only when none is found). ``flags``: the series' 0/1 covariates by date
    (promotion, holiday; :func:`~forecasting.explore.anomalies.series_flags`), expected effects for anomalies."""
    det = detect_periods(y, freq)
    if dec is None:
        dec = decompose(y, freq, "stl", det.periods[:1] or [], robust=True)
    t_str, s_str = dec.strengths()
    st = stationarity(y, det.season_length, None if math.isnan(s_str) else s_str, freq)
    anomalies = find_anomalies(dec, threshold, flags)
    notes = list(dict.fromkeys(det.notes + dec.notes))
    return SeriesSummary(int(y.notna().sum()), int(dec.frame["y"].isna().sum() + dec.frame["imputed"].sum()),
                         det.periods, det.season_length, t_str, s_str, st, demand_profile(y),
                         len(anomalies), anomalies, dec, notes, anomalies.attrs.get("scale", "additive"))


@dataclass(frozen=True)
class ExploreConfig:
    """What the Explore page asks for one series (hashable: pages cache on it)."""

    method: str = "stl"                       # stl | mstl | classical
    periods: tuple[float, ...] | None = None  # None: detected
    model: str = "additive"                   # classical only
    robust: bool = True
    threshold: float = THRESHOLD              # robust z-score for anomalies


def analyze(y: pd.Series, freq: str | None, cfg: ExploreConfig = ExploreConfig(),
            flags: pd.DataFrame | None = None) -> SeriesSummary:
    """The summary card of ``y`` with the decomposition ``cfg`` asks for (periods detected if not given)."""
    periods = list(cfg.periods) if cfg.periods else None
    dec = decompose(y, freq, cfg.method, periods, cfg.model, cfg.robust)
    return summarize(y, freq, dec=dec, threshold=cfg.threshold, flags=flags)


def summary_table(frame: pd.DataFrame, freq: str | None, threshold: float = THRESHOLD,
                  progress: ProgressCallback | None = None) -> pd.DataFrame:
    """One row per series of a long frame (see :meth:`SeriesSummary.row`), in the frame's order.

    A progress callback may raise ``Cancelled``: the rows done so far are returned."""
    ids = list(pd.unique(frame[ID]))
    rows = []
    try:
        for i, uid in enumerate(ids):
            s = summarize(to_series(frame, uid), freq, threshold=threshold, flags=series_flags(frame, uid))
            rows.append({ID: uid, **s.row()})
            report(progress, "explore", i + 1, len(ids), f"series {i + 1}/{len(ids)}")
    except Cancelled:
        pass
    return pd.DataFrame(rows)
