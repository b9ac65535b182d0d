"""From the long frame to a :class:`~forecasting.models.deep.windows.Panel`: per-series scaling, calendar
and covariate features on one shared date grid, padding, and the time-ordered validation sizes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, Y, covariate_columns
from forecasting.errors import ConfigError, DataError
from forecasting.models.deep.features import calendar_features
from forecasting.models.deep.windows import Panel

SCALERS = ("standard", "robust", "none")


@dataclass
class Prepared:
    panel: Panel
    scale: np.ndarray            # (n, 2): location, scale per series (y_scaled = (y - loc) / scale)
    cov_names: list[str]
    cov_stats: np.ndarray        # (k, 2): mean, std per covariate
    cal_names: list[str]
    last_ds: np.ndarray          # (n,) datetime64[ns], last observed period per series
    val_sizes: np.ndarray        # (n,) int64
    min_obs: np.ndarray          # (n,) int64


def pick_covariates(df: pd.DataFrame, setting) -> list[str]:
    """``True`` uses every covariate column of the frame, ``False`` none, a list those named."""
    available = covariate_columns(df)
    if setting is True or setting in ("auto", "true", "True", 1):
        return available
    if setting in (False, None, "false", "False", 0, "none"):
        return []
    names = [setting] if isinstance(setting, str) else list(setting)
    missing = [c for c in names if c not in available]
    if missing:
        raise ConfigError(f"covariate(s) {missing} not in the data; available: {available or 'none'}")
    return names


def check_covariates(frame: pd.DataFrame, names: list[str], where: str) -> None:
    for c in names:
        vals = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(vals)
        if bad.any():
            first = frame.loc[frame.index[np.argmax(bad)], [ID, DS]]
            raise DataError(f"covariate '{c}' has {int(bad.sum())} missing or non-numeric value(s) in {where} "
                            f"(first: series '{first[ID]}', {pd.Timestamp(first[DS]).date()}); fill them first")


def series_scale(y: np.ndarray, codes: np.ndarray, n: int, use: np.ndarray, kind: str) -> np.ndarray:
    """(n, 2) location and scale per series from the observed values where ``use`` is True."""
    if kind not in SCALERS:
        raise ConfigError(f"unknown scaler '{kind}'; use one of {', '.join(SCALERS)}")
    out = np.tile(np.array([0.0, 1.0]), (n, 1))
    if kind == "none":
        return out
    ok = use & np.isfinite(y)
    s = pd.Series(y[ok])
    g = s.groupby(codes[ok])
    if kind == "standard":
        loc, scale = g.mean(), g.std(ddof=0)
    else:
        loc = g.median()
        scale = (g.quantile(0.75) - g.quantile(0.25)) / 1.349
        scale = scale.where(scale > 0, g.std(ddof=0))
    out[loc.index.to_numpy(), 0] = loc.to_numpy()
    sc = scale.reindex(loc.index).to_numpy()
    absloc = np.abs(loc.to_numpy())
    sc = np.where(np.isfinite(sc) & (sc > 1e-8 * np.maximum(absloc, 1.0)), sc, np.maximum(absloc, 1.0))
    out[loc.index.to_numpy(), 1] = sc
    return out


def prepare(df: pd.DataFrame, freq: str, *, lookback: int, horizon: int, covariates, scaler: str,
            holiday_country: str | None, val_size: int | None, calendar: bool = True,
            fixed_scale: dict[str, np.ndarray] | None = None, fixed_cov_stats: np.ndarray | None = None) -> Prepared:
    """Build the panel. Series are in first-appearance order of the sorted frame.

    ``fixed_scale`` (series id -> location, scale) and ``fixed_cov_stats`` (mean, std per covariate): a
    trained network's own scaling, for new history of the series it was trained on (no statistics are
    taken from the new data)."""
    for c in (ID, DS, Y):
        if c not in df.columns:
            raise DataError(f"the long frame lacks column '{c}'; it needs unique_id, ds and y")
    df = df.sort_values([ID, DS], kind="stable").reset_index(drop=True)
    cov_names = pick_covariates(df, covariates)
    check_covariates(df, cov_names, "the history")
    codes, ids = pd.factorize(df[ID].astype(str), sort=False)
    n = len(ids)
    y = df[Y].to_numpy(dtype=float)
    lengths = np.bincount(codes, minlength=n).astype(np.int64)
    observed = np.bincount(codes[np.isfinite(y)], minlength=n)
    if (observed == 0).any():
        empty = [ids[i] for i in np.flatnonzero(observed == 0)][:5]
        raise DataError(f"series {empty} have no observed values; remove them before training a network")
    pos = df.groupby(codes, sort=False).cumcount().to_numpy()

    # validation: last V periods of each series (at least one horizon), shorter series keep training data
    if val_size is None:
        windows_per_series = int(np.clip(np.ceil(200 / n), 1, horizon))
        val_size = horizon + windows_per_series - 1
    if val_size and val_size < horizon:
        raise ConfigError(f"val_size ({val_size}) must be 0 or at least the horizon ({horizon})")
    val_sizes = np.minimum(int(val_size), np.maximum(lengths - horizon - 1, 0))
    val_sizes = np.where(val_sizes >= horizon, val_sizes, 0)
    train_len = lengths - val_sizes
    if (train_len < horizon + 1).all():
        raise DataError(f"every series is shorter than {horizon + 1} periods (horizon {horizon} + 1); "
                        "a network needs longer history or a shorter horizon")
    min_obs = np.minimum((lookback + 1) // 2, np.maximum(train_len - horizon, 1)).astype(np.int64)

    if fixed_scale is not None:
        scale = np.asarray([fixed_scale[str(i)] for i in ids], dtype=float).reshape(n, 2)
    else:
        scale = series_scale(y, codes, n, pos < train_len[codes], scaler)
    ys = (y - scale[codes, 0]) / scale[codes, 1]

    # one date grid for all series: padding dates, calendar features once per distinct date
    ds = df[DS].to_numpy(dtype="datetime64[ns]")
    first = pd.Series(ds).groupby(codes, sort=False).min().to_numpy()
    last = pd.Series(ds).groupby(codes, sort=False).max().to_numpy()
    start = pd.date_range(end=pd.Timestamp(first.min()), periods=lookback + 1, freq=freq)[0]
    grid = pd.date_range(start, pd.Timestamp(last.max()), freq=freq)
    g_first = grid.searchsorted(first)
    if (g_first >= len(grid)).any() or (grid.values[np.minimum(g_first, len(grid) - 1)] != first).any():
        raise DataError(f"series dates do not lie on one '{freq}' grid; re-read the data with that frequency")
    offsets = np.concatenate([[0], np.cumsum(lengths + lookback)]).astype(np.int64)
    N = int(offsets[-1])
    flat_grid = np.repeat(g_first - lookback, lengths + lookback) + (
        np.arange(N) - np.repeat(offsets[:-1], lengths + lookback))
    if (grid.values[flat_grid[offsets[:-1] + lookback + lengths - 1]] != last).any():
        raise DataError(f"some series have gaps or duplicate dates on the '{freq}' grid; fill gaps first")
    cal, cal_names = calendar_features(grid[flat_grid], freq, holiday_country)
    if not calendar:
        cal, cal_names = cal[:, :0], []

    cov = df[cov_names].to_numpy(dtype=float) if cov_names else np.zeros((len(df), 0))
    use = pos < train_len[codes]
    cmean = cov[use].mean(0) if cov_names else np.zeros(0)
    cstd = cov[use].std(0) if cov_names else np.ones(0)
    cstd = np.where(cstd > 1e-12, cstd, 1.0)
    if fixed_cov_stats is not None and cov_names:
        cmean, cstd = fixed_cov_stats[:, 0], fixed_cov_stats[:, 1]
    obs_flat = offsets[codes] + lookback + pos
    feats = np.zeros((N, cal.shape[1] + len(cov_names)), dtype=np.float32)
    feats[:, :cal.shape[1]] = cal
    feats[obs_flat, cal.shape[1]:] = (cov - cmean) / cstd
    yf = np.zeros(N, dtype=np.float32)
    mf = np.zeros(N, dtype=np.float32)
    ok = np.isfinite(ys)
    yf[obs_flat[ok]] = ys[ok]
    mf[obs_flat[ok]] = 1.0
    sid = np.repeat(np.arange(n, dtype=np.int64), lengths + lookback)
    panel = Panel([str(i) for i in ids], offsets, lengths, lookback, yf, mf, feats, sid)
    return Prepared(panel, scale, cov_names, np.stack([cmean, cstd], 1) if cov_names else np.zeros((0, 2)),
                    cal_names, last, val_sizes.astype(np.int64), min_obs)


def future_features(prep_last: np.ndarray, ids: list[str], freq: str, horizon: int, futr_df: pd.DataFrame | None,
                    cov_names: list[str], cov_stats: np.ndarray, holiday_country: str | None, h: int,
                    calendar: bool = True) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """(n, horizon, F) known features for the periods after each series' end, and their flat dates.

    Covariate values come from ``futr_df`` for the first ``h`` periods (required); later periods up to the
    trained horizon repeat the last given value (their outputs are discarded)."""
    n = len(ids)
    step = pd.tseries.frequencies.to_offset(freq)
    first_future = pd.DatetimeIndex(prep_last) + step
    start, end = first_future.min(), pd.DatetimeIndex(prep_last).max()
    grid = pd.date_range(start, periods=len(pd.date_range(start, end, freq=freq)) + horizon, freq=freq)
    g0 = grid.searchsorted(first_future)
    gi = g0[:, None] + np.arange(horizon)[None, :]                                   # (n, H)
    dates = grid[gi.reshape(-1)]
    cal, _ = calendar_features(dates, freq, holiday_country)
    if not calendar:
        cal = cal[:, :0]
    feats = np.zeros((n * horizon, cal.shape[1] + len(cov_names)), dtype=np.float32)
    feats[:, :cal.shape[1]] = cal
    if cov_names and h > 0:      # h == 0: only the history matters (attention maps); covariates left at 0
        if futr_df is None:
            raise DataError(f"the model was trained with covariates {cov_names}; give their values for the "
                            f"{h} forecast period(s) of every series (futr_df), or train with covariates=False")
        miss_cols = [c for c in cov_names if c not in futr_df.columns]
        if miss_cols:
            raise DataError(f"future covariate values lack column(s) {miss_cols}")
        want = pd.DataFrame({ID: np.repeat(np.asarray(ids, dtype=object), horizon), DS: dates,
                             "_step": np.tile(np.arange(horizon), n)})
        fut = futr_df.assign(**{ID: futr_df[ID].astype(str),
                                DS: pd.to_datetime(futr_df[DS]).astype("datetime64[ns]")})
        got = want.merge(fut[[ID, DS, *cov_names]].drop_duplicates([ID, DS]), on=[ID, DS], how="left")
        needed = got["_step"] < h
        vals = got[cov_names]
        missing = needed & vals.isna().any(axis=1)
        if missing.any():
            row = got[missing].iloc[0]
            raise DataError(f"future covariate values missing for {int(missing.sum())} forecast period(s) "
                            f"(first: series '{row[ID]}', {pd.Timestamp(row[DS]).date()}); give all {h} periods")
        filled = vals.where(needed).groupby(got[ID], sort=False).ffill().to_numpy(dtype=float)
        feats[:, cal.shape[1]:] = (filled - cov_stats[:, 0]) / cov_stats[:, 1]
    return feats.reshape(n, horizon, -1), dates
