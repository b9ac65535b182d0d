"""Backtests and forecasts of every node of a hierarchy, base or reconciled.

The aggregated series go through the ordinary backtest / forecast (every model, every engine), then the
forecasts of each model (and, in a backtest, each cutoff) are reconciled with the chosen method. Results
have one row per node with a ``level`` column (see :func:`forecasting.hierarchy.data.with_level`).

Residuals for ``mint_wls`` (var) and ``mint_shrink`` are the in-sample errors of the seasonal naive
forecast of each node's history up to the cutoff (:func:`~forecasting.hierarchy.reconcile.seasonal_naive_residuals`):
available for every model, including the global networks, and free of look-ahead in a backtest.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, Dataset
from forecasting.errors import ConfigError
from forecasting.hierarchy.data import hierarchical_dataset, history_matrix
from forecasting.hierarchy.reconcile import (METHODS, ReconcileSettings, check_structure, reconcile_bottom,
                                             reconcile_intervals, seasonal_naive_residuals)
from forecasting.hierarchy.structure import LEVEL, Hierarchy, parse_levels
from forecasting.models.base import bound_column
from forecasting.progress import ProgressCallback, report

RECONCILE_CHOICES = ("none",) + METHODS


@dataclass
class HierarchyConfig:
    """What the analyst asked for: the levels (None = nested default) and the reconciliation method."""
    levels: list[list[str]] | None = None
    reconcile: str = "none"
    top_down: str = "forecast_proportions"
    middle_level: str | None = None
    wls: str = "var"

    @classmethod
    def from_text(cls, levels: str | None, reconcile: str = "none", **kw) -> "HierarchyConfig":
        return cls(parse_levels(levels), reconcile, **kw)

    @property
    def active(self) -> bool:
        """True when outputs cover every node (levels given, or a reconciliation chosen)."""
        return self.levels is not None or self.reconcile != "none"

    def settings(self, non_negative: bool) -> ReconcileSettings:
        return ReconcileSettings(self.reconcile, self.top_down, self.middle_level, self.wls, non_negative)

    def validate(self) -> None:
        if self.reconcile not in RECONCILE_CHOICES:
            raise ConfigError(f"unknown reconciliation '{self.reconcile}'; choose from {', '.join(RECONCILE_CHOICES)}")
        if self.reconcile != "none":
            self.settings(False).validate()


def _season(dataset: Dataset, season_length: int | None) -> tuple[int, str]:
    from forecasting.explore.seasonality import dataset_season_length

    return (int(season_length), "set by the user") if season_length else dataset_season_length(dataset)


def _matrices(frame: pd.DataFrame, pos: pd.Index, dates: np.ndarray, cols: list[str]) -> dict[str, np.ndarray]:
    r = pos.get_indexer(frame[ID])
    c = pd.Index(dates).get_indexer(frame[DS])
    out = {}
    for col in cols:
        M = np.full((len(pos), len(dates)), np.nan)
        M[r, c] = frame[col].to_numpy(dtype=float)
        out[col] = M
    return out


def _reconcile_block(hier: Hierarchy, frame: pd.DataFrame, levels: list[int], rs: ReconcileSettings,
                     history: np.ndarray, season_length: int) -> tuple[pd.DataFrame, int]:
    """Reconcile one model's (and cutoff's) forecasts of every node; returns the frame and missing count."""
    pos = pd.Index(hier.node_ids)
    dates = np.sort(frame[DS].unique())
    bands = [f"{s}_{l}" for l in levels for s in ("lo", "hi")]
    M = _matrices(frame, pos, dates, ["forecast"] + bands)
    base = M["forecast"]
    missing = int(np.isnan(base).sum())
    base = np.nan_to_num(base)
    s = replace(rs, non_negative=rs.non_negative and bool((np.nan_to_num(history[hier.n_aggregate:]) >= 0).all()))
    resid = seasonal_naive_residuals(history, season_length) if s.needs_residuals else None
    b = reconcile_bottom(hier, base, s, residuals=resid, history=history)
    mean = np.asarray(hier.S @ b)
    out = pd.DataFrame({ID: np.repeat(np.asarray(hier.node_ids, dtype=object), len(dates)),
                        DS: np.tile(dates, hier.n_nodes), "forecast": mean.ravel()})
    for l in levels:
        lo, hi = reconcile_intervals(hier, b, base, np.nan_to_num(M[bound_column("lo", l)]),
                                     np.nan_to_num(M[bound_column("hi", l)]), s.non_negative)
        out[bound_column("lo", l)], out[bound_column("hi", l)] = lo.ravel(), hi.ravel()
    return out, missing


def _run_nodes(run, dataset: Dataset, cfg, hcfg: HierarchyConfig, progress: ProgressCallback | None, **run_kw):
    """Checks both configs, builds every node's series and runs ``run`` (backtest or forecast) on them with the
    bottom series' season length ``m``; the result's info names the season and the hierarchy. ``run_kw``
    (``sink``, ``prior`` …) go to ``run``: a run kept in a workspace stores every node's results as they
    finish and resumes where it stopped. Returns ``(result, hierarchical dataset, hierarchy, m)``."""
    hcfg.validate()
    cfg.validate()
    m, why = _season(dataset, cfg.season_length)
    hds, hier = hierarchical_dataset(dataset, hcfg.levels)
    if hcfg.reconcile != "none":
        check_structure(hier, hcfg.settings(False))
    res = run(hds, replace(cfg, season_length=m), progress=progress, **run_kw)
    res.info["notes"] = [f"season length {m} ({why})"] + res.info["notes"][1:]
    res.info["hierarchy"] = {"levels": hier.level_names, "n_nodes": hier.n_nodes, "n_bottom": hier.n_bottom,
                             "reconcile": hcfg.reconcile, "bottom_ids": list(hier.node_ids[hier.n_aggregate:])}
    return res, hds, hier, m


def hierarchical_backtest(dataset: Dataset, cfg, hcfg: HierarchyConfig,
                          progress: ProgressCallback | None = None, **run_kw):
    """Backtest of every node; reconciled per model and cutoff unless ``hcfg.reconcile == "none"``.

    Returns ``(BacktestResult, hierarchical dataset, hierarchy)``; the result's frames hold every node."""
    from forecasting.evaluation.aggregate import per_model, pooled_metrics
    from forecasting.pipeline import run_backtest
    from forecasting.metrics import naive_scale

    res, hds, hier, m = _run_nodes(run_backtest, dataset, cfg, hcfg, progress, **run_kw)
    if hcfg.reconcile == "none" or res.forecasts.empty:
        return _finish_backtest(res, hds, hier), hds, hier
    t0 = time.perf_counter()
    levels = [int(l) for l in res.info["config"]["levels"]]
    hist, dates = history_matrix(hds, hier)
    date_pos = pd.Index(dates)
    rs = hcfg.settings(bool(cfg.non_negative))
    parts, missing = [], 0
    groups = list(res.forecasts.groupby(["model", "cutoff"], sort=False))
    for i, ((model, cutoff), g) in enumerate(groups):
        report(progress, "reconcile", i, len(groups), f"{model} at {pd.Timestamp(cutoff).date()}")
        end = int(date_pos.get_loc(pd.Timestamp(cutoff))) + 1
        rec, miss = _reconcile_block(hier, g, levels, rs, hist[:, :end], m)
        missing += miss
        rec.insert(1, "model", model)
        rec.insert(2, "cutoff", cutoff)
        act = pd.DataFrame({ID: np.repeat(np.asarray(hier.node_ids, dtype=object), hist.shape[1] - end),
                            DS: np.tile(dates[end:], hier.n_nodes), "actual": hist[:, end:].ravel()})
        rec = rec.merge(act, on=[ID, DS], how="left")
        scales = np.array([naive_scale(hist[j, :end], m) for j in range(hier.n_nodes)])
        sc = pd.DataFrame({ID: hier.node_ids, "scale": scales[:, 0], "scale_sq": scales[:, 1]})
        parts.append(rec.merge(sc, on=ID, how="left"))
    report(progress, "reconcile", len(groups), len(groups), hcfg.reconcile)
    fc = pd.concat(parts, ignore_index=True)
    scores = []
    for (uid, model), g in fc.groupby([ID, "model"], sort=False):
        wins = [{k: w[k].to_numpy() for k in w.columns} for _, w in g.groupby("cutoff", sort=True)]
        scores.append({ID: uid, "model": model, **pooled_metrics(wins, levels)})
    metrics = pd.DataFrame(scores)
    keep = [c for c in (ID, "model", "settings", "fallback", "notes") if c in res.metrics.columns]
    info = res.metrics[keep]
    metrics = info.merge(metrics, on=[ID, "model"], how="left")
    front = [ID, "model"]
    rest = [c for c in metrics.columns if c not in front + ["settings", "fallback", "notes"]]
    metrics = metrics[front + rest + ["settings", "fallback", "notes"]]
    cols = list(res.forecasts.columns)
    res.forecasts = fc[cols].reset_index(drop=True)
    res.metrics = metrics.reset_index(drop=True)
    res.summary = per_model(res.metrics)
    res.info["timings"]["reconcile_s"] = round(time.perf_counter() - t0, 3)
    if missing:
        res.info["notes"].append(f"reconciliation: {missing} missing base forecast value(s) taken as zero")
    return _finish_backtest(res, hds, hier), hds, hier


def _finish_backtest(res, hds: Dataset, hier: Hierarchy):
    from forecasting.evaluation.aggregate import per_model

    from forecasting.evaluation.aggregate import across_series

    lv = hier.nodes.set_index(ID)[LEVEL]
    bottom = res.metrics[res.metrics[ID].map(lv) == hier.level_names[-1]]
    res.summary = per_model(bottom) if len(bottom) else res.summary
    fc_bottom = res.forecasts[res.forecasts[ID].map(lv) == hier.level_names[-1]]
    levels = [int(l) for l in res.info["config"]["levels"]]
    res.total = across_series(fc_bottom, levels) if len(fc_bottom) else None   # the sum of the bottom series
    res.info["summary_by_level"] = summary_by_level(res.metrics, hier)
    return res


def summary_by_level(metrics: pd.DataFrame, hier: Hierarchy) -> list[dict[str, Any]]:
    """Mean of each metric per level and model: the leaderboard of every level."""
    if metrics.empty:
        return []
    lv = hier.nodes.set_index(ID)[LEVEL]
    m = metrics.assign(**{LEVEL: metrics[ID].map(lv)})
    num = [c for c in m.columns if c not in (ID, "model", LEVEL, "settings", "fallback", "notes")
           and pd.api.types.is_numeric_dtype(m[c])]
    out = m.groupby([LEVEL, "model"], sort=False)[num].mean().reset_index()
    out.insert(2, "n_series", m.groupby([LEVEL, "model"], sort=False).size().to_numpy())
    order = {n: i for i, n in enumerate(hier.level_names)}
    out["_order"] = out[LEVEL].map(order)
    out = out.sort_values(["_order", "mase"] if "mase" in out.columns else ["_order"], kind="stable")
    out = out.drop(columns="_order").astype(object)
    return out.where(out.notna(), None).to_dict(orient="records")


def hierarchical_forecast(dataset: Dataset, cfg, hcfg: HierarchyConfig, progress: ProgressCallback | None = None,
                          **run_kw):
    """Forecasts of every node; reconciled per model unless ``hcfg.reconcile == "none"``.

    Returns ``(ForecastResult, hierarchical dataset, hierarchy)``."""
    from forecasting.pipeline import run_forecast

    res, hds, hier, m = _run_nodes(run_forecast, dataset, cfg, hcfg, progress, **run_kw)
    if hcfg.reconcile == "none" or res.forecasts.empty:
        return res, hds, hier
    t0 = time.perf_counter()
    levels = [int(l) for l in res.info["config"]["levels"]]
    hist, _ = history_matrix(hds, hier)
    last = np.flatnonzero(np.isfinite(hist).any(axis=0))
    hist = hist[:, : int(last[-1]) + 1] if last.size else hist
    rs = hcfg.settings(bool(cfg.non_negative))
    parts, missing = [], 0
    for model, g in res.forecasts.groupby("model", sort=False):
        rec, miss = _reconcile_block(hier, g, levels, rs, hist, m)
        missing += miss
        rec.insert(2, "model", model)
        parts.append(rec)
    res.forecasts = pd.concat(parts, ignore_index=True)[list(res.forecasts.columns)]
    res.info["timings"]["reconcile_s"] = round(time.perf_counter() - t0, 3)
    if missing:
        res.info["notes"].append(f"reconciliation: {missing} missing base forecast value(s) taken as zero")
    return res, hds, hier


def hierarchy_of(config: dict):
    """A stored run's :class:`HierarchyConfig` (its ``config["hierarchy"]``) when the run covers every node of
    a hierarchy, else None (every run stored before hierarchies were)."""
    h = config.get("hierarchy")
    if not h:
        return None
    hcfg = HierarchyConfig(**{k: v for k, v in h.items() if k in HierarchyConfig.__dataclass_fields__})
    return hcfg if hcfg.active else None
