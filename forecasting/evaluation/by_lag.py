"""Accuracy of archived forecasts by lag, and forecast value added (FVA), on plain frames (vectorised).

The scored rows hold, per archived run × series × model × target date: ``lag`` (1 = the first period after
the cutoff), ``actual``, ``forecast`` (the statistical forecast), ``final`` (statistical + overrides) and
``naive`` (the seasonal naive forecast made at the same cutoff). From them:

- :func:`summarise`: per group (e.g. run × model × lag) ``wape``, ``mae`` and ``bias`` of the final forecast
  (``bias`` = Σ(final − actual) / Σ|actual|, a fraction: > 0 over-forecasts), the WAPE of each step of the
  FVA stairstep (naive → statistical → final), the value each step added (``fva_statistical`` = WAPE of
  naive − WAPE of statistical, ``fva_final`` = WAPE of statistical − WAPE of final: > 0 means the step
  helped) and the share of series where each step lowered the error;
- :func:`tracking_signal`: the running sum of errors over the running mean absolute error, over time;
- :func:`aggregate_rows`: the rows of a level of the hierarchy (sums over the series of each group).

Errors are ``forecast − actual`` everywhere, as in :mod:`forecasting.metrics`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, ID_SEPARATOR, Y

STEPS = ("naive", "forecast", "final")          # the FVA stairstep, in order
STEP_NAMES = {"naive": "naive", "forecast": "statistical", "final": "final"}


class History:
    """A dataset's observed history indexed for the lookups of scoring (integer codes, no string work after
    the one factorisation): per series its first and last observed positions, the values with gaps filled
    by the last value before them, and its cutoff (last observed date)."""

    def __init__(self, history: pd.DataFrame):
        ids = history[ID]
        if isinstance(ids.dtype, pd.CategoricalDtype):
            code, uniq = ids.cat.codes.to_numpy().astype(np.int64), pd.Index(ids.cat.categories)
        else:
            code, uniq = pd.factorize(ids.to_numpy())
            code, uniq = code.astype(np.int64), pd.Index(uniq)
        ds = history[DS].to_numpy()
        y = history[Y].to_numpy(dtype=float)
        order = np.lexsort((ds, code))
        if not (order == np.arange(order.size)).all():
            code, ds, y = code[order], ds[order], y[order]
        n = y.size
        pos = np.arange(n)
        fin = np.isfinite(y)
        G = len(uniq)
        starts = np.full(G, n, dtype=np.int64)
        np.minimum.at(starts, code, pos) if n else None
        self.first = np.full(G, n, dtype=np.int64)            # first observed position per series
        np.minimum.at(self.first, code[fin], pos[fin])
        self.last = np.full(G, -1, dtype=np.int64)            # last observed position per series
        np.maximum.at(self.last, code[fin], pos[fin])
        filled = np.maximum.accumulate(np.where(fin, pos, -1)) if n else pos
        ok = filled >= (starts[code] if n else filled)           # not from the series before
        self.y_ff = np.where(ok & (filled >= 0), y[np.maximum(filled, 0)], np.nan) if n else y
        self.ids, self.ds = uniq, ds

    def codes(self, ids) -> np.ndarray:
        """Each id's series number here (-1 when unknown)."""
        inv, u = pd.factorize(np.asarray(ids, dtype=object))
        return self.ids.get_indexer(u)[inv] if len(u) else np.zeros(0, dtype=np.int64)

    def cutoffs(self, codes: np.ndarray) -> np.ndarray:
        out = np.full(codes.size, np.datetime64("NaT"), dtype="datetime64[ns]")
        ok = (codes >= 0)
        ok[ok] = self.last[codes[ok]] >= 0
        out[ok] = self.ds[self.last[codes[ok]]]
        return out

    def seasonal_naive(self, codes: np.ndarray, lags: np.ndarray, season_length: int) -> np.ndarray:
        m = max(1, int(season_length))
        out = np.full(codes.size, np.nan)
        ok = codes >= 0
        ok[ok] = self.last[codes[ok]] >= 0
        if not ok.any():
            return out
        c = codes[ok]
        f, l, lag = self.first[c], self.last[c], np.asarray(lags)[ok].astype(np.int64)
        at = np.where(l - f + 1 >= m, l - m + 1 + (lag - 1) % m, l)   # shorter than a season: the last value
        out[ok] = self.y_ff[at]
        return out


def series_cutoffs(history: pd.DataFrame) -> pd.Series:
    """Per series the last date with an observed value (the cutoff a forecast made on it starts after)."""
    ok = history[np.isfinite(history[Y].to_numpy(dtype=float))]
    return ok.groupby(ID, sort=False)[DS].max()


def with_lags(forecasts: pd.DataFrame) -> pd.DataFrame:
    """``forecasts`` (unique_id, ds, model, …) with ``lag``: 1 for each series × model's first date."""
    g = forecasts.groupby([ID, "model"], sort=False).ngroup().to_numpy()
    order = np.lexsort((forecasts[DS].to_numpy(), g))
    out = forecasts.iloc[order].reset_index(drop=True) if not (order == np.arange(order.size)).all() \
        else forecasts.reset_index(drop=True)
    g = g[order]
    pos = np.arange(g.size)
    start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1] if g.size else pos
    first = np.repeat(start, np.diff(np.r_[start, g.size])) if g.size else pos
    out["lag"] = pos - first + 1
    return out


def seasonal_naive(history: pd.DataFrame, season_length: int, wanted: pd.DataFrame) -> np.ndarray:
    """The seasonal naive forecast made at each series' cutoff, for the (``unique_id``, ``lag``) pairs of
    ``wanted``: the value one season before the target period, i.e. ``y[n - m + (lag - 1) % m]`` of the
    series' observed history ``y[0..n-1]`` (as :class:`~forecasting.models.baselines.SeasonalNaive`).
    A gap in that season takes the last value before it; a history shorter than a season gives the last
    value (naive). Series without history give NaN."""
    h = History(history)
    return h.seasonal_naive(h.codes(wanted[ID].to_numpy()), wanted["lag"].to_numpy(), season_length)


def _group_codes(rows: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's group number (0 … G-1, groups in sorted order) and the groups' key values."""
    if not keys:
        return np.zeros(len(rows), dtype=np.int64), pd.DataFrame(index=range(1 if len(rows) else 0))
    g = rows.groupby(keys, sort=True, dropna=False)
    return g.ngroup().to_numpy(dtype=np.int64), g.size().index.to_frame(index=False)


def summarise(rows: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Accuracy and FVA per group of ``keys`` (e.g. ``["run", "model", "lag"]``); see the module's doc.
    One factorisation of the keys, then sums by group number (``np.bincount``): fast at any size."""
    keys = list(keys)
    code, out = _group_codes(rows, keys)
    G = len(out)
    a = rows["actual"].to_numpy(dtype=float)
    v = {s: rows[s].to_numpy(dtype=float) for s in STEPS}
    ae = {s: np.nan_to_num(np.abs(v[s] - a)) for s in STEPS}       # a missing naive counts as no error

    def total(w=None) -> np.ndarray:
        return np.bincount(code, weights=w, minlength=G)[:G]

    n = total()
    den = total(np.abs(a))
    den = np.where(den > 0, den, np.nan)
    out["n"] = n.astype(int)
    # per series within each group (errors summed over its rows): which steps helped it
    sid = pd.factorize(rows[ID])[0].astype(np.int64)
    pcode, _ = pd.factorize(code * (int(sid.max()) + 1 if sid.size else 1) + sid)
    P = int(pcode.max()) + 1 if pcode.size else 0
    pgroup = np.zeros(P, dtype=np.int64)
    pgroup[pcode] = code
    pe = {s: np.bincount(pcode, weights=ae[s], minlength=P) for s in STEPS}
    changed = np.bincount(pcode, weights=(v["final"] != v["forecast"]).astype(float), minlength=P) > 0
    n_series = np.bincount(pgroup, minlength=G)[:G]
    out["n_series"] = n_series.astype(int)
    sums = {s: total(ae[s]) for s in STEPS}
    out["wape"] = sums["final"] / den
    out["bias"] = total(np.nan_to_num(v["final"] - a)) / den
    out["mae"] = sums["final"] / np.where(n > 0, n, np.nan)
    for s in STEPS:
        out[f"wape_{STEP_NAMES[s]}"] = sums[s] / den
    out["fva_statistical"] = out["wape_naive"] - out["wape_statistical"]
    out["fva_final"] = out["wape_statistical"] - out["wape_final"]
    per_group = np.where(n_series > 0, n_series, np.nan)
    out["helped_statistical"] = np.bincount(pgroup, weights=(pe["forecast"] < pe["naive"]).astype(float),
                                            minlength=G)[:G] / per_group
    out["helped_final"] = np.bincount(pgroup, weights=(pe["final"] < pe["forecast"]).astype(float),
                                      minlength=G)[:G] / per_group
    out["series_overridden"] = np.bincount(pgroup, weights=changed.astype(float), minlength=G)[:G].astype(int)
    return out.reset_index(drop=True)


def stairstep(rows: pd.DataFrame, keys: Sequence[str] = ()) -> pd.DataFrame:
    """The FVA stairstep in long form: per group and step (naive, statistical, final) its WAPE and the
    value it added over the step before (NaN for naive) and the share of series where it helped."""
    s = summarise(rows, keys)
    parts = []
    for step, prev in (("naive", None), ("statistical", "naive"), ("final", "statistical")):
        p = s[list(keys)].copy()
        p["step"] = step
        p["wape"] = s[f"wape_{step}"]
        p["value_added"] = np.nan if prev is None else s[f"fva_{step}"]
        p["helped"] = np.nan if prev is None else s[f"helped_{step}"]
        parts.append(p)
    return pd.concat(parts, ignore_index=True)


def tracking_signal(rows: pd.DataFrame, keys: Sequence[str] = (ID, "model", "lag"),
                    column: str = "final") -> pd.DataFrame:
    """Per group of ``keys`` over time (target date): the error, the running sum of errors, the running mean
    absolute error and their ratio, the tracking signal (beyond ±4 the forecast is biased)."""
    keys = list(keys)
    work = rows[keys + [DS, "actual", column]].copy()
    work = work.groupby(keys + [DS], sort=False, dropna=False)[["actual", column]].sum().reset_index()
    work = work.sort_values(keys + [DS], kind="stable").reset_index(drop=True)
    e = work[column].to_numpy(dtype=float) - work["actual"].to_numpy(dtype=float)
    work["error"] = e
    g = work.groupby(keys, sort=False, dropna=False)
    work["cum_error"] = g["error"].cumsum()
    n = g.cumcount().to_numpy() + 1
    mad = pd.Series(np.abs(e)).groupby([work[k] for k in keys], sort=False, dropna=False).cumsum().to_numpy() / n
    work["mad"] = mad
    work["tracking_signal"] = np.where(mad > 0, work["cum_error"].to_numpy() / np.where(mad > 0, mad, 1), 0.0)
    return work


def aggregate_rows(rows: pd.DataFrame, id_map: pd.DataFrame | None, cols: Sequence[str]) -> pd.DataFrame:
    """The scored rows of a level: sums over the series sharing the values of ``cols`` (``[]``: the total),
    with ``unique_id`` the group's values joined with " / " ("total" for the total)."""
    cols = list(cols)
    values = ["actual", "forecast", "final", "naive"]
    keys = [c for c in ("run", "model", DS, "lag") if c in rows.columns]
    if cols:
        if id_map is None:
            raise ValueError("the dataset has no id columns to aggregate by")
        r = rows.merge(id_map[[ID] + cols], on=ID, how="left")
        gid = r[cols].astype(str).agg(ID_SEPARATOR.join, axis=1) if len(cols) > 1 else r[cols[0]].astype(str)
        r = r.assign(**{ID: gid.to_numpy()})
    else:
        r = rows.assign(**{ID: "total"})
    g = r.groupby([ID] + keys, sort=True, dropna=False)
    out = g[values].sum(min_count=1)
    if "cutoff" in r.columns:
        out.insert(0, "cutoff", g["cutoff"].max())
    out = out.reset_index()
    out["abs_error"] = (out["final"] - out["actual"]).abs()
    return out
