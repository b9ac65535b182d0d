"""Business cycles: swings longer than a season, from the seasonally adjusted series.

Hodrick–Prescott splits the series into a smooth trend and a cycle; the Christiano–Fitzgerald
band-pass keeps swings between 1.5 and 8 years (shortened to what the data can show)."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.explore.decompose import hp_lambda
from forecasting.explore.prep import prepare
from forecasting.explore.seasonality import periods_per_year


@dataclass
class Cycles:
    frame: pd.DataFrame                  # index ds; hp_trend, hp_cycle, cf_cycle (NaN when not computed)
    hp_lambda: float
    band: tuple[float, float] | None     # (shortest, longest) swing kept by the band-pass, in periods
    notes: list[str] = field(default_factory=list)


def cycles(y: pd.Series, freq: str | None = None, season_length: int = 1,
           band_years: tuple[float, float] = (1.5, 8.0)) -> Cycles:
    """HP trend and cycle, and the Christiano–Fitzgerald band-pass cycle, of ``y``.

    Pass the seasonally adjusted series: otherwise the seasonal swing lands in the HP cycle."""
    prep = prepare(y, freq)
    x = prep.y.to_numpy(dtype="float64")
    n = len(x)
    notes = list(prep.notes)
    lamb = hp_lambda(freq)
    frame = pd.DataFrame(index=prep.y.index, columns=["hp_trend", "hp_cycle", "cf_cycle"], dtype="float64")
    if n < 6:
        notes.append(f"{n} observations are too few to separate a cycle")
        return Cycles(frame, lamb, None, notes)
    from statsmodels.tsa.filters.cf_filter import cffilter
    from statsmodels.tsa.filters.hp_filter import hpfilter

    cycle, trend = hpfilter(x, lamb=lamb)
    frame["hp_cycle"], frame["hp_trend"] = np.asarray(cycle), np.asarray(trend)
    ppy = periods_per_year(freq) or 4.0
    low = max(2.0, band_years[0] * ppy, 2.0 * max(1, season_length))
    high = min(band_years[1] * ppy, n / 2)
    if high < 1.5 * low:   # no band left between the shortest swing kept and half the series
        notes.append(f"the series is too short for the band-pass filter: swings longer than {low:g} "
                     f"periods need at least {math.ceil(3 * low)} observations (it has {n})")
        return Cycles(frame, lamb, None, notes)
    if high < band_years[1] * ppy:
        notes.append(f"band-pass limited to swings of at most {high:g} periods (half the series)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cf, _ = cffilter(x, low=low, high=high, drift=True)
    frame["cf_cycle"] = np.asarray(cf)
    return Cycles(frame, lamb, (low, high), notes)
