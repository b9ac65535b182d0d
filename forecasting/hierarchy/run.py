"""Backtests and forecasts of every node of a hierarchy, base or reconciled.

The aggregated series go through the ordinary backtest / forecast (every model, every engine), then the
forecasts of each model (and, in a backtest, each cutoff) are reconciled with the chosen method. Results
have one row per node with a ``level`` column (see :func:`forecasting.hierarchy.data.with_level`).

Residuals for ``mint_wls`` (var) and ``mint_shrink`` (``residuals="backtest"``, the default) are the base
model's own out-of-sample errors, one row per (cutoff, date), from the rolling-origin windows (:func:`backtest_errors`):
in a backtest, the errors of the same model's earlier windows up to each cutoff (no look-ahead); in a forecast,
those of the calibration backtests of the history (the ``calibration_windows`` most recent origins, shared
with conformal intervals).
Where fewer than :data:`MIN_ERROR_ROWS` rows exist (a backtest's first window), and with
``residuals="in_sample"``, they are the in-sample errors of the seasonal naive forecast of each node's history
(:func:`~forecasting.hierarchy.reconcile.seasonal_naive_residuals`). Those are a linear function of the summed
history, hence coherent themselves (a node's residual is the sum of its bottom series' residuals), and with
coherent residuals the shrunk covariance's off-diagonal part cancels out of MinT: ``mint_shrink`` then gives the
same forecasts as ``mint_wls`` (var). The base model's errors are not coherent (each node is fit on its own),
so their covariance is what ``mint_shrink`` needs (``benchmarks/results/hierarchy.md``).

``residuals="fitted"``: the base model's in-sample one-step errors ``y - fitted`` (the textbook MinT input,
Wickramasuriya, Athanasopoulos & Hyndman 2019), one row per date of the history up to the cutoff, from the
model refit on each node's history up to that cutoff (:func:`fitted_errors`: one more fit per node and window;
no look-ahead). Many more error vectors than the earlier windows give (every date, not ``h`` per window).
Models without in-sample errors (global networks, models with covariates on a dataset that has them, ``auto``)
keep the ``backtest`` rule; a node whose refit fails takes its seasonal naive errors.
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
MEAN_OVER_LEVELS = "mean over levels"
MIN_ERROR_ROWS = 3          # fewer backtest error rows than this: in-sample residuals instead


@dataclass
class HierarchyConfig:
    """What the analyst asked for: the levels (None = nested default) and the reconciliation method."""
    levels: list[list[str]] | None = None
    reconcile: str = "none"
    top_down: str = "forecast_proportions"
    middle_level: str | None = None
    wls: str = "var"
    residuals: str = "backtest"

    @classmethod
    def from_text(cls, levels: str | None, reconcile: str = "none", **kw) -> "HierarchyConfig":
        return cls(parse_levels(levels), reconcile, **kw)

    @property
    def active(self) -> bool:
        """True when outputs cover every node (levels given, or a reconciliation chosen)."""
        return self.levels is not None or self.reconcile != "none"

    def settings(self, non_negative: bool) -> ReconcileSettings:
        return ReconcileSettings(self.reconcile, self.top_down, self.middle_level, self.wls, non_negative,
                                 self.residuals)

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


def backtest_errors(frame: pd.DataFrame, hier: Hierarchy, until=None, scale_steps: bool = True) -> np.ndarray:
    """Errors ``actual - forecast`` of every node in a backtest frame (one model), ``(rows, n_nodes)`` with one
    row per (cutoff, date); only dates up to ``until`` when given (no look-ahead). Missing values count as
    zero, like the gaps of the in-sample residuals. Every horizon step's errors are kept (a window of ``h``
    steps gives ``h`` rows, not one), each step's rows divided by one factor common to every node
    (:func:`scale_by_step`; ``scale_steps=False``: as they are), so that the larger errors of the far steps do
    not outweigh the near ones."""
    f = frame if until is None else frame[frame[DS] <= pd.Timestamp(until)]
    if f.empty:
        return np.zeros((0, hier.n_nodes))
    keys = pd.MultiIndex.from_frame(f[["cutoff", DS]])
    rows = keys.unique()
    E = np.full((len(rows), hier.n_nodes), np.nan)
    E[rows.get_indexer(keys), pd.Index(hier.node_ids).get_indexer(f[ID])] = (
        f["actual"].to_numpy(dtype=float) - f["forecast"].to_numpy(dtype=float))
    if not scale_steps:
        return np.nan_to_num(E)
    r = rows.to_frame(index=False)
    steps = r.groupby("cutoff", sort=False)[DS].rank(method="dense").to_numpy(dtype=int) - 1
    return scale_by_step(np.nan_to_num(E), steps)


def scale_by_step(E: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``E`` (rows, nodes) with the rows of horizon step ``k`` divided by ``c_k``, where ``c_k^2`` is the mean
    over nodes of (the node's mean squared error at step ``k``) / (its mean squared error over all rows).

    MinT's covariance is that of the errors at the step being forecast; the usual assumption (Wickramasuriya
    et al. 2019) is ``W_h = k_h W_1``, one factor per step, which does not change the reconciliation. Pooling
    the steps gives ``h`` times as many error vectors for the covariance; one common factor per step keeps
    each node's share of it (unlike standardising per node and step) while equalising the steps."""
    E = np.asarray(E, dtype=float)
    steps = np.asarray(steps)
    if E.shape[0] == 0:
        return E
    mse = (E ** 2).mean(axis=0)
    use = mse > 0
    if not use.any():
        return E
    out = E.copy()
    for k in np.unique(steps):
        rows = steps == k
        ratio = float(np.mean((E[rows][:, use] ** 2).mean(axis=0) / mse[use]))
        if ratio > 0:
            out[rows] /= np.sqrt(ratio)
    return out


def _earlier_errors(by_model: dict, model: str, cutoff, hier: Hierarchy, scale_steps: bool = True) -> np.ndarray | None:
    """A backtest's errors of ``model`` in the windows before ``cutoff``, on dates up to it (no look-ahead)."""
    if model not in by_model:
        return None
    earlier = by_model[model]
    return backtest_errors(earlier[earlier["cutoff"] < cutoff], hier, until=cutoff, scale_steps=scale_steps)


def _residuals(errors: np.ndarray | None, s: ReconcileSettings, history: np.ndarray, season_length: int,
               fitted: np.ndarray | None = None):
    """(residuals for ``s``, True when the in-sample seasonal naive fallback was used) — see the module doc.
    ``fitted``: the base model's in-sample errors (:func:`fitted_errors`) for ``residuals="fitted"``."""
    if not s.needs_residuals:
        return None, False
    if s.residuals == "fitted" and fitted is not None and len(fitted) >= MIN_ERROR_ROWS:
        return fitted, False
    if s.residuals in ("backtest", "fitted") and errors is not None and len(errors) >= MIN_ERROR_ROWS:
        return errors, False
    return seasonal_naive_residuals(history, season_length), s.residuals != "in_sample"


def has_fitted_errors(model: str, dataset: Dataset | None = None) -> bool:
    """True when ``model`` gives in-sample one-step errors :func:`fitted_errors` can use: a per-series model
    with its own ``in_sample_residuals`` (ETS, ARIMA, theta, the baselines …), not a global network, and not a
    model that uses covariates when ``dataset`` has some (its refit would differ from the run's fit)."""
    from forecasting.models.base import PerSeriesModel
    from forecasting.models.registry import get_model_class, get_spec

    try:
        spec = get_spec(model)
        cls = get_model_class(model)
    except ConfigError:
        return False
    if spec.capabilities.global_model or not (isinstance(cls, type) and issubclass(cls, PerSeriesModel)):
        return False
    if spec.capabilities.covariates and dataset is not None and dataset.covariates:
        return False
    return cls.in_sample_residuals is not PerSeriesModel.in_sample_residuals


def _one_step_errors(fit, y: np.ndarray) -> np.ndarray | None:
    """``y - fitted`` of a fitted model, aligned to the end of ``y`` (NaN where it has none)."""
    e = fit.in_sample_errors() if hasattr(fit, "in_sample_errors") else fit.in_sample_residuals()
    if e is None:
        return None
    e = np.asarray(e, dtype=float).ravel()
    if e.size > y.size:
        return None
    out = np.full(y.size, np.nan)
    out[y.size - e.size:] = e
    return out


def fitted_errors(model: str, history: np.ndarray, season_length: int, params: dict | None = None
                  ) -> np.ndarray | None:
    """In-sample one-step errors ``y - fitted`` of ``model`` refit on each node's history, ``(T, n_nodes)``
    from ``history`` ``(n_nodes, T)`` (the history up to a cutoff: nothing after it is seen), one row per
    date; None when the model has none (:func:`has_fitted_errors`). Each node is fit on its observed span
    (leading and trailing gaps dropped, interior gaps interpolated, as the pipeline fits it) with the same
    season length and settings as the run; a node whose fit fails takes its seasonal naive errors. Dates
    without an error (before a launch, a model's first values) are zero, like the gaps of the other
    residuals."""
    import warnings

    from forecasting.models.fitting import fill_gaps
    from forecasting.models.registry import get_model_class

    if not has_fitted_errors(model):
        return None
    cls = get_model_class(model)
    H = np.asarray(history, dtype=float)
    n, T = H.shape
    E = np.zeros((T, n))
    for j in range(n):
        seen = np.flatnonzero(np.isfinite(H[j]))
        if seen.size == 0:
            continue
        a, b = int(seen[0]), int(seen[-1]) + 1
        y, _ = fill_gaps(H[j, a:b])
        e = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    e = _one_step_errors(cls(season_length=season_length, **(params or {})).fit(y), y)
        except Exception:  # noqa: BLE001 - any failure: the node's seasonal naive errors (as fit_predict falls back)
            e = None
        if e is None or not np.isfinite(e).any():
            k = season_length if y.size > season_length + 2 else 1
            e = np.full(y.size, np.nan)
            e[k:] = y[k:] - y[:-k] if y.size > k else np.nan
        E[a:b, j] = np.nan_to_num(e, nan=0.0, posinf=0.0, neginf=0.0)
    return E


class FittedErrors:
    """:func:`fitted_errors` per (model, cutoff), each computed once and only for ``residuals="fitted"``
    (the per-level comparison of methods and the reconciliation share them)."""

    def __init__(self, hist: np.ndarray, season_length: int, model_params: dict | None = None,
                 dataset: Dataset | None = None, progress: ProgressCallback | None = None) -> None:
        self.hist, self.m, self.params = hist, int(season_length), dict(model_params or {})
        self.dataset, self.progress, self.cache, self.without = dataset, progress, {}, set()

    def get(self, model: str, end: int) -> np.ndarray | None:
        """Errors of ``model`` fit on the first ``end`` dates of every node (None: the model has none)."""
        transformed = str(self.params.get(model, {}).get("transform") or "none").lower() != "none"
        if transformed or not has_fitted_errors(model, self.dataset):   # arima on a log/Box-Cox scale: its
            self.without.add(model)                                       # residuals are not on the data's
            return None
        key = (model, int(end))
        if key not in self.cache:
            report(self.progress, "reconcile", 0, 1, f"in-sample errors of {model}: one fit per node")
            self.cache[key] = fitted_errors(model, self.hist[:, :end], self.m, self.params.get(model))
        return self.cache[key]


def _reconcile_block(hier: Hierarchy, frame: pd.DataFrame, levels: list[int], rs: ReconcileSettings,
                     history: np.ndarray, season_length: int, errors: np.ndarray | None = None,
                     fitted: np.ndarray | None = None) -> tuple[pd.DataFrame, int, bool]:
    """Reconcile one model's (and cutoff's) forecasts of every node; returns the frame, the missing count and
    whether in-sample residuals stood in for too few backtest ``errors``."""
    pos = pd.Index(hier.node_ids)
    dates = np.sort(frame[DS].unique())
    bands = [f"{s}_{l}" for l in levels for s in ("lo", "hi")]
    M = _matrices(frame, pos, dates, ["forecast"] + bands)
    base = M["forecast"]
    missing = int(np.isnan(base).sum())
    base = np.nan_to_num(base)
    s = replace(rs, non_negative=rs.non_negative and bool((np.nan_to_num(history[hier.n_aggregate:]) >= 0).all()))
    resid, fell_back = _residuals(errors, s, history, season_length, fitted)
    b = reconcile_bottom(hier, base, s, residuals=resid, history=history)
    mean = np.asarray(hier.S @ b)
    out = pd.DataFrame({ID: np.repeat(np.asarray(hier.node_ids, dtype=object), len(dates)),
                        DS: np.tile(dates, hier.n_nodes), "forecast": mean.ravel()})
    for l in levels:
        lo, hi = reconcile_intervals(hier, b, base, np.nan_to_num(M[bound_column("lo", l)]),
                                     np.nan_to_num(M[bound_column("hi", l)]), s.non_negative)
        out[bound_column("lo", l)], out[bound_column("hi", l)] = lo.ravel(), hi.ravel()
    return out, missing, fell_back


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
    if res.forecasts.empty:
        return _finish_backtest(res, hds, hier), hds, hier
    t0 = time.perf_counter()
    hist, dates = history_matrix(hds, hier)
    report(progress, "reconcile", 0, 1, "every reconciliation method on the base forecasts")
    fe = FittedErrors(hist, m, cfg.model_params, dataset, progress) if hcfg.residuals == "fitted" else None
    table = compare_methods(res.forecasts, hier, hist, dates, m, hcfg, bool(cfg.non_negative), fe)
    res.info["methods_by_level"] = table.astype(object).where(table.notna(), None).to_dict(orient="records")
    res.info["timings"]["compare_methods_s"] = round(time.perf_counter() - t0, 3)
    if hcfg.reconcile == "none":
        return _finish_backtest(res, hds, hier), hds, hier
    t0 = time.perf_counter()
    levels = [int(l) for l in res.info["config"]["levels"]]
    date_pos = pd.Index(dates)
    rs = hcfg.settings(bool(cfg.non_negative))
    parts, missing, fallbacks = [], 0, 0
    groups = list(res.forecasts.groupby(["model", "cutoff"], sort=False))
    by_model = dict(list(res.forecasts.groupby("model", sort=False))) if rs.needs_residuals else {}
    for i, ((model, cutoff), g) in enumerate(groups):
        report(progress, "reconcile", i, len(groups), f"{model} at {pd.Timestamp(cutoff).date()}")
        end = int(date_pos.get_loc(pd.Timestamp(cutoff))) + 1
        errors = _earlier_errors(by_model, model, cutoff, hier)
        fitted = fe.get(model, end) if fe is not None and rs.needs_residuals else None
        rec, miss, fell = _reconcile_block(hier, g, levels, rs, hist[:, :end], m, errors, fitted)
        missing += miss
        fallbacks += fell
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
    _note_residuals(res.info, rs, fallbacks, len(groups), "window(s) with fewer than "
                    f"{MIN_ERROR_ROWS} earlier errors (the first)", fe)
    return _finish_backtest(res, hds, hier), hds, hier


def _note_residuals(info: dict, rs: ReconcileSettings, fallbacks: int, n: int, why: str,
                    fitted: FittedErrors | None = None) -> None:
    if not rs.needs_residuals:
        return
    if rs.residuals == "in_sample":
        info["notes"].append(f"{rs.method}: covariance of the in-sample seasonal naive errors")
        return
    if rs.residuals == "fitted":
        used = sorted({k[0] for k, v in (fitted.cache if fitted else {}).items() if v is not None})
        if used:
            info["notes"].append(f"{rs.method}: covariance of the base model's in-sample one-step errors "
                                 f"({', '.join(used)}, refit on every node's history up to each cutoff)")
        if used and not fallbacks and not (fitted and fitted.without):
            return
    note = f"{rs.method}: covariance of the base model's backtest errors"
    if rs.residuals == "fitted":
        note += " for models without in-sample errors"
    if fallbacks:
        note += f"; in-sample seasonal naive errors for {fallbacks} of {n} {why}"
    info["notes"].append(note)


def compare_methods(forecasts: pd.DataFrame, hier: Hierarchy, hist: np.ndarray, dates: np.ndarray, m: int,
                    hcfg: HierarchyConfig, non_negative: bool = True, fitted: FittedErrors | None = None
                    ) -> pd.DataFrame:
    """Accuracy per level of the base forecasts (``none``) and of every reconciliation method the levels allow,
    from one base backtest of every node (reconciling is cheap next to fitting): one row per level, model and
    method with the mean over the level's series of MASE, RMSSE and MAE, plus a ``mean over levels`` row per
    model and method (the mean of the levels' means). Each method is reconciled exactly as
    :func:`hierarchical_backtest` with that method would (same residuals, same non-negativity), so the analyst
    can pick one without rerunning the models (``fitted``: the in-sample errors for ``residuals="fitted"``).
    Sorted by level, model, then MASE."""
    settings = {"none": None}
    for name in METHODS:
        s = replace(hcfg, reconcile=name).settings(non_negative)
        try:
            check_structure(hier, s)
        except ConfigError:            # top_down / middle_out on grouped levels: not offered
            continue
        settings[name] = s
    date_pos = pd.Index(dates)
    pos = pd.Index(hier.node_ids)
    needs = any(s is not None and s.needs_residuals for s in settings.values())
    by_model = dict(list(forecasts.groupby("model", sort=False))) if needs else {}
    from forecasting.metrics import naive_scale

    sums: dict[tuple[str, str], np.ndarray] = {}       # (model, method) -> per node: sum |e|/s, sum e²/s², sum |e|, n
    scales: dict[int, np.ndarray] = {}                  # cutoff position -> per node: naive MAE, naive MSE
    for (model, cutoff), g in forecasts.groupby(["model", "cutoff"], sort=False):
        end = int(date_pos.get_loc(pd.Timestamp(cutoff))) + 1
        h_cut = hist[:, :end]
        fdates = np.sort(g[DS].unique())
        r, c = pos.get_indexer(g[ID]), pd.Index(fdates).get_indexer(g[DS])
        base, has_base = np.zeros((hier.n_nodes, len(fdates))), np.zeros((hier.n_nodes, len(fdates)), dtype=bool)
        base[r, c] = np.nan_to_num(g["forecast"].to_numpy(dtype=float))
        has_base[r, c] = True
        # actuals of every node (a reconciled run scores nodes the base model missed, their forecast taken as 0)
        cols = date_pos.get_indexer(fdates)
        actual = np.where(cols >= 0, hist[:, np.maximum(cols, 0)], np.nan)
        if end not in scales:           # the nodes' naive scales depend on the cutoff only, not the model
            scales[end] = np.array([naive_scale(h_cut[j], m) for j in range(hier.n_nodes)])
        scale, scale_sq = scales[end][:, :1], scales[end][:, 1:]
        ok = np.isfinite(actual) & (scale > 0) & (scale_sq > 0)
        errors = _earlier_errors(by_model, model, cutoff, hier)
        fit_e = fitted.get(model, end) if fitted is not None and needs else None
        nonneg_hist = bool((np.nan_to_num(h_cut[hier.n_aggregate:]) >= 0).all())
        for name, s in settings.items():
            if s is None:                   # the base run scores only the forecasts it made
                mean = np.where(has_base, base, np.nan)
            else:
                s = replace(s, non_negative=s.non_negative and nonneg_hist)
                resid, _ = _residuals(errors, s, h_cut, m, fit_e)
                mean = np.asarray(hier.S @ reconcile_bottom(hier, base, s, residuals=resid, history=h_cut))
            use = ok & np.isfinite(mean)
            e = np.where(use, mean - np.nan_to_num(actual), 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                part = np.stack([np.where(use, np.abs(e) / scale, 0.0).sum(axis=1),
                                 np.where(use, e ** 2 / scale_sq, 0.0).sum(axis=1),
                                 np.abs(e).sum(axis=1), use.sum(axis=1).astype(float)])
            key = (model, name)
            sums[key] = part if key not in sums else sums[key] + part
    level_of = hier.nodes[LEVEL].to_numpy()
    rows = []
    for (model, name), (sa, sq, ae, n) in sums.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            node = pd.DataFrame({LEVEL: level_of, "mase": np.where(n > 0, sa / n, np.nan),
                                 "rmsse": np.where(n > 0, np.sqrt(sq / n), np.nan),
                                 "mae": np.where(n > 0, ae / n, np.nan)})
        per = node.groupby(LEVEL, sort=False).agg(n_series=("mase", "size"), mase=("mase", "mean"),
                                                  rmsse=("rmsse", "mean"), mae=("mae", "mean")).reset_index()
        per.insert(1, "model", model)
        per.insert(2, "method", name)
        rows.append(per)
        rows.append(pd.DataFrame([{LEVEL: MEAN_OVER_LEVELS, "model": model, "method": name,
                                   "n_series": int(len(level_of)), "mase": per["mase"].mean(),
                                   "rmsse": per["rmsse"].mean(), "mae": np.nan}]))
    if not rows:
        return pd.DataFrame(columns=[LEVEL, "model", "method", "n_series", "mase", "rmsse", "mae"])
    out = pd.concat(rows, ignore_index=True)
    order = {n: i for i, n in enumerate(hier.level_names + [MEAN_OVER_LEVELS])}
    out["_o"] = out[LEVEL].map(order)
    out = out.sort_values(["_o", "model", "mase"], kind="stable").drop(columns="_o").reset_index(drop=True)
    return out


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
    fe = FittedErrors(hist, m, cfg.model_params, dataset, progress) if rs.residuals == "fitted" else None
    groups = list(res.forecasts.groupby("model", sort=False))
    need_calib = fe is None or not all(has_fitted_errors(model, dataset) for model, _ in groups)
    calib = _calibration(res, hds, cfg, m, rs, progress) if need_calib else None
    parts, missing, fallbacks = [], 0, 0
    for model, g in groups:
        errors = backtest_errors(calib[calib["model"] == model], hier) if calib is not None else None
        fitted = fe.get(model, hist.shape[1]) if fe is not None and rs.needs_residuals else None
        rec, miss, fell = _reconcile_block(hier, g, levels, rs, hist, m, errors, fitted)
        missing += miss
        fallbacks += fell
        rec.insert(2, "model", model)
        parts.append(rec)
    res.forecasts = pd.concat(parts, ignore_index=True)[list(res.forecasts.columns)]
    res.info["timings"]["reconcile_s"] = round(time.perf_counter() - t0, 3)
    if missing:
        res.info["notes"].append(f"reconciliation: {missing} missing base forecast value(s) taken as zero")
    _note_residuals(res.info, rs, fallbacks, len(groups), "model(s) whose history is too short for a backtest",
                    fe)
    return res, hds, hier


def _calibration(res, hds: Dataset, cfg, m: int, rs: ReconcileSettings, progress) -> pd.DataFrame | None:
    """Backtest forecasts of the history for the backtest residuals of a forecast: the conformal intervals'
    calibration backtests when the run made them, else the same backtests made here (``cfg.intervals ==
    "model"``): the ``cfg.calibration_windows`` most recent origins of
    :func:`~forecasting.pipeline.forecast.calibration_origins`, as the conformal calibration uses."""
    if not rs.needs_residuals or rs.residuals == "in_sample":
        return None
    if getattr(res, "calibration", None) is not None:
        return res.calibration
    from forecasting.pipeline.forecast import calibration_origins, history_backtest_forecasts

    report(progress, "reconcile", 0, 1,
           f"errors for {rs.method}: backtest at the {cfg.calibration_windows} most recent origins")
    origins = calibration_origins(int(cfg.horizon), int(cfg.calibration_windows), hds.n_series)
    try:
        return history_backtest_forecasts(hds, cfg, m, res.info["config"]["levels"], origins, progress,
                                          points_only=True)
    except ConfigError:         # history too short for a backtest: the in-sample residuals stand in
        return None


def hierarchy_of(config: dict):
    """A stored run's :class:`HierarchyConfig` (its ``config["hierarchy"]``) when the run covers every node of
    a hierarchy, else None (every run stored before hierarchies were)."""
    h = config.get("hierarchy")
    if not h:
        return None
    hcfg = HierarchyConfig(**{k: v for k, v in h.items() if k in HierarchyConfig.__dataclass_fields__})
    return hcfg if hcfg.active else None
