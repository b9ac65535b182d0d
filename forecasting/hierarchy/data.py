"""The long frame of every node of a hierarchy: the bottom series plus one aggregated series per node.

Aggregated series are ordinary series of the data contract, so every model and engine forecasts them
like any other. All series are laid on one date grid: a series that starts late (a product launch) counts
as zero before its first value, one that stops early as zero after its last (up to the last observed date
of the data), so every node has the same history and the same backtest cutoffs, and aggregates are the
plain sums of their bottom series. Covariates of an aggregate are the mean over its bottom series.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, Y, Dataset, validate_long
from forecasting.errors import ConfigError
from forecasting.hierarchy.structure import LEVEL, Hierarchy, build_hierarchy


def check_hierarchical(dataset: Dataset) -> None:
    if not dataset.id_cols or dataset.id_map is None:
        raise ConfigError("reconciliation and hierarchy levels need id columns (store, product …): the data is one series, "
                          "so there is no hierarchy to add up")
    if dataset.n_series < 2:
        raise ConfigError("reconciliation needs at least two series; the data has one")


def wide(df: pd.DataFrame, ids: list[str], dates: np.ndarray, col: str) -> np.ndarray:
    """``col`` as an ``(len(ids), len(dates))`` matrix (NaN where a series has no row)."""
    out = np.full((len(ids), len(dates)), np.nan)
    r = pd.Index(ids).get_indexer(df[ID])
    c = pd.Index(dates).get_indexer(df[DS])
    ok = (r >= 0) & (c >= 0)
    out[r[ok], c[ok]] = df[col].to_numpy(dtype=float)[ok]
    return out


def date_grid(dataset: Dataset) -> np.ndarray:
    dates = np.sort(dataset.df[DS].unique())
    try:
        grid = pd.date_range(dates[0], dates[-1], freq=dataset.freq).to_numpy()
        if len(grid) >= len(dates) and np.isin(dates, grid).all():
            return grid
    except (ValueError, TypeError):
        pass
    return dates


def hierarchical_dataset(dataset: Dataset, levels: list[list[str]] | None = None) -> tuple[Dataset, Hierarchy]:
    """The dataset of every node (bottom series first filled as described above) and its hierarchy."""
    check_hierarchical(dataset)
    ids = dataset.series_ids
    keys = dataset.id_map.set_index(ID).loc[ids].reset_index()
    hier = build_hierarchy(keys, dataset.id_cols, levels)
    df = dataset.df
    dates = date_grid(dataset)
    Yb = wide(df, ids, dates, Y)
    fin = np.isfinite(Yb)
    any_obs = fin.any(axis=0)
    last = int(np.flatnonzero(any_obs)[-1]) if any_obs.any() else -1
    first_i = np.where(fin.any(axis=1), fin.argmax(axis=1), last + 1)
    last_i = np.where(fin.any(axis=1), Yb.shape[1] - 1 - fin[:, ::-1].argmax(axis=1), -1)
    t = np.arange(Yb.shape[1])[None, :]
    pad = (t <= last) & ((t < first_i[:, None]) | (t > last_i[:, None]))
    n_padded = int(pad.any(axis=1).sum())
    Yb[pad] = 0.0
    fin = np.isfinite(Yb)
    A = hier.A
    Ya = np.asarray(A @ np.nan_to_num(Yb))
    Ya[np.asarray(A @ fin.astype(float)) == 0] = np.nan
    Y_all = np.vstack([Ya, Yb])
    covs = [c for c in dataset.covariates if c in df.columns] or [c for c in df.columns if c not in (ID, DS, Y)]
    X_all = {}
    for c in covs:
        Xb = wide(df, ids, dates, c)
        xf = np.isfinite(Xb).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            Xa = np.asarray(A @ np.nan_to_num(Xb)) / np.asarray(A @ xf)
        X_all[c] = np.vstack([Xa, Xb])
    T = len(dates)
    node_ids = np.asarray(hier.node_ids, dtype=object)
    long = pd.DataFrame({ID: np.repeat(node_ids, T), DS: np.tile(dates, hier.n_nodes), Y: Y_all.ravel()})
    for c, X in X_all.items():
        long[c] = X.ravel()
    keep = np.tile(np.arange(T) <= last, hier.n_nodes)
    if covs:
        keep |= np.isfinite(long[covs].to_numpy(dtype=float)).any(axis=1)
    long = validate_long(long[keep])
    notes = list(dataset.notes)
    if n_padded:
        notes.append(f"hierarchy: {n_padded} series start late or stop early; counted as zero outside their data")
    notes.append(f"hierarchy: {hier.n_nodes} nodes on {len(hier.levels)} levels "
                 f"({', '.join(hier.level_names)})")
    out = Dataset(**{**dataset.__dict__, "df": long, "id_map": hier.nodes.copy(), "notes": notes})
    return out, hier


def history_matrix(dataset: Dataset, hier: Hierarchy) -> tuple[np.ndarray, np.ndarray]:
    """Actuals of every node in hierarchy order, ``(n_nodes, T)``, and the dates."""
    dates = date_grid(dataset)
    return wide(dataset.df, hier.node_ids, dates, Y), dates


def with_level(dataset: Dataset, frame: pd.DataFrame) -> pd.DataFrame:
    """:meth:`Dataset.restore_ids` for a frame of nodes, with ``level`` right after the id columns."""
    out = dataset.restore_ids(frame)
    if LEVEL in out.columns:
        cols = [c for c in out.columns if c != LEVEL]
        k = len(dataset.id_cols)
        out = out[cols[:k] + [LEVEL] + cols[k:]]
    return out
