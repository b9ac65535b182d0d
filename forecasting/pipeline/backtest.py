"""Rolling-origin backtests shared by every model.

For each series the last ``windows`` cutoffs are placed ``step`` periods apart (default ``step = horizon``)
so the last window ends at the series' last observed value. Each model is fit on the history up to a
cutoff (all of it with ``window_type="expanding"``, the same length as the first window's with
``"sliding"``) and forecasts ``horizon`` periods, compared with the actuals. Per-series models run on the
engine (:mod:`forecasting.pipeline.per_series`), global models once per cutoff on every series
(:mod:`forecasting.pipeline.across_series`).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import pandas as pd

from forecasting.data.contract import DS, ID, Dataset
from forecasting.errors import ConfigError, DataError
from forecasting.models.base import bound_column, bound_key
from forecasting.pipeline.options import RunOptions
from forecasting.pipeline.plan import Collector, Job, SeriesData, Window, bound_columns, run_device, versions
from forecasting.progress import PriorResults, ProgressCallback, ResultSink


@dataclass
class BacktestConfig(RunOptions):
    horizon: int
    models: Sequence[str]
    windows: int = 3
    step: int | None = None
    window_type: str = "expanding"
    intervals: str = "conformal"      # model | conformal (see forecasting.pipeline.calibration)

    def validate(self) -> None:
        if self.intervals not in ("model", "conformal"):
            raise ConfigError(f"intervals must be 'model' or 'conformal' (got '{self.intervals}')")
        if int(self.horizon) < 1:
            raise ConfigError(f"horizon must be at least 1 (got {self.horizon})")
        if int(self.windows) < 1:
            raise ConfigError(f"windows must be at least 1 (got {self.windows})")
        if self.step is not None and int(self.step) < 1:
            raise ConfigError(f"step must be at least 1 (got {self.step})")
        if self.window_type not in ("expanding", "sliding"):
            raise ConfigError(f"window_type must be 'expanding' or 'sliding' (got '{self.window_type}')")
        if not self.models:
            raise ConfigError("choose at least one model")
        self.check_options(self.models)


@dataclass
class BacktestResult:
    forecasts: pd.DataFrame   # unique_id, model, cutoff, ds, actual, forecast, lo_L, hi_L
    metrics: pd.DataFrame     # one row per unique_id × model: metrics, settings, fallback
    summary: pd.DataFrame     # one row per model: mean metrics over series
    info: dict[str, Any]      # config, versions, seed, device, timings, notes
    total: pd.DataFrame | None = None  # point metrics of the sum over series, per model
    coverage_steps: pd.DataFrame | None = None  # model, step, n, coverage_L: interval coverage per horizon step


@dataclass
class BacktestJob(Job):
    step: int = 1
    window_type: str = "expanding"

    def windows(self, ser: SeriesData) -> list[Window]:
        from forecasting.models.fitting import MIN_TRAIN, cutoff_ends

        ends = cutoff_ends(ser.y.size, self.h, self.n_origins, self.step)
        usable = [(k, e) for k, e in enumerate(ends) if e >= MIN_TRAIN]
        first_len = usable[0][1] if usable else 0
        X = ser.X
        return [Window(k + 1, end - first_len if self.window_type == "sliding" else 0, end,
                       ser.ds[end:end + self.h], None if X is None else X[end:end + self.h])
                for k, end in usable]

    def collector(self) -> "BacktestCollector":
        return BacktestCollector(self)


class BacktestCollector(Collector):
    """Forecasts with actuals and naive scales per window, and per series × model the pooled metrics
    (scored here, on the worker), the settings, the fallbacks per window and the notes."""

    def add(self, ser: SeriesData, name: str, windows: list[Window], fits: list) -> None:
        from forecasting.evaluation.aggregate import pooled_metrics
        from forecasting.metrics import naive_scale
        from forecasting.models.fitting import settings_text

        job, h = self.job, self.job.h
        fallbacks, notes, settings, frames = [], [], {}, []
        for w, out in zip(windows, fits):
            if isinstance(out, Exception):
                fallbacks.append(f"window {w.number}: no forecast: {out}")
                continue
            if out.fallback:
                fallbacks.append(f"window {w.number}: {out.fallback}")
            notes += [nt for nt in out.notes if nt not in notes]
            settings = out.settings
            sc, sc2 = naive_scale(ser.y[w.start:w.end], job.season_length)
            frame = {ID: ser.uid, "model": name, "cutoff": ser.ds[w.end - 1], DS: w.dates,
                     "actual": ser.y[w.end:w.end + h], "forecast": out.forecast["mean"]}
            for l in job.levels:
                for side in ("lo", "hi"):
                    frame[bound_column(side, l)] = out.forecast[bound_key(side, l)]
            frame["scale"], frame["scale_sq"] = sc, sc2
            self.rows.append(pd.DataFrame(frame))
            frames.append(frame)
        if frames:
            self.scores.append({ID: ser.uid, "model": name, **pooled_metrics(frames, job.levels)})
        skipped = job.n_origins - len(windows)
        if skipped:
            notes.insert(0, f"{skipped} of {job.n_origins} window(s) skipped: series has {ser.y.size} values, "
                            f"too few for horizon {h}")
        self.info.append({ID: ser.uid, "model": name, "settings": settings_text(settings),
                          "fallback": " | ".join(fallbacks), "notes": "; ".join(notes)})


def run_backtest(dataset: Dataset, cfg: BacktestConfig, progress: ProgressCallback | None = None, *,
                 sink: ResultSink | None = None, prior: PriorResults | None = None) -> BacktestResult:
    """Rolling-origin backtest of ``cfg.models`` on every series of ``dataset``.

    ``sink`` gets each partition's (and global model's) result as it finishes; ``prior`` holds the
    results of an earlier, unfinished run of the same config: only the missing work runs (see
    :class:`~forecasting.progress.PriorResults`).

    Never aborts because a model fails on a series: that series falls back (see ``fallback``).
    If ``progress`` raises :class:`Cancelled`, the series finished so far are returned
    (``info["cancelled"]`` is True); with the serial engine that is series by series."""
    from forecasting.evaluation.aggregate import across_series, per_model
    from forecasting.metrics import metric_columns
    from forecasting.pipeline.plan import plan_run
    from forecasting.pipeline.run_models import run_models

    cfg.validate()
    if dataset.df.empty:
        raise DataError("the dataset has no rows to backtest")
    t_start = time.perf_counter()
    plan = plan_run(dataset, cfg.models, cfg.season_length, cfg.levels)
    m, levels, series = plan.season_length, plan.levels, plan.series
    job = BacktestJob(h=int(cfg.horizon), levels=levels, season_length=m, params=dict(cfg.model_params),
                      non_negative=bool(cfg.non_negative), seed=int(cfg.seed), freq=dataset.freq,
                      n_origins=int(cfg.windows), step=int(cfg.step or cfg.horizon), window_type=cfg.window_type)
    engine = dict(engine=cfg.engine, address=cfg.address, n_workers=cfg.n_workers)
    results, cancelled = run_models(plan, series, job, "backtest", len(cfg.models), engine=engine,
                                    progress=progress, sink=sink, prior=prior or PriorResults())
    frames = [res["forecasts"] for res in results if res["forecasts"] is not None]
    cols = [ID, "model", "cutoff", DS, "actual", "forecast"] + bound_columns(levels)
    fc = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols + ["scale", "scale_sq"])
    info_rows = pd.DataFrame([r for res in results for r in res["info"]],
                             columns=[ID, "model", "settings", "fallback", "notes"])
    scores = [r for res in results for r in res["scores"]]
    if cfg.intervals == "conformal" and len(fc):
        from forecasting.pipeline.calibration import conformalize_backtest, rescore

        fc = conformalize_backtest(fc, dataset.df, m, levels, cfg.non_negative).drop(columns="interval")
        scores = rescore(fc, levels)
    metrics = pd.DataFrame(scores, columns=[ID, "model", *metric_columns(levels), "n_points", "n_windows"]) \
        if scores else pd.DataFrame(columns=[ID, "model"])
    metrics = info_rows.merge(metrics, on=[ID, "model"], how="left")
    front = [ID, "model"]
    rest = [c for c in metrics.columns if c not in front + ["settings", "fallback", "notes"]]
    metrics = metrics[front + rest + ["settings", "fallback", "notes"]]
    summary = per_model(metrics) if len(metrics) else pd.DataFrame()
    total = across_series(fc, levels) if len(fc) else None
    timings: dict[str, float] = {}
    for res in results:
        for k, v in res["timings"].items():
            timings[k] = timings.get(k, 0.0) + v
    info = {"config": {**asdict(cfg), "season_length": m, "step": job.step, "levels": levels},
            "versions": versions(), "seed": cfg.seed, "device": run_device(results), "n_series": len(series),
            "timings": {"total_s": round(time.perf_counter() - t_start, 3),
                        "model_s": {k: round(v, 3) for k, v in timings.items()}},
            "cancelled": cancelled,
            "notes": [f"season length {m} ({plan.season_why})"]}
    from forecasting.pipeline.calibration import coverage_by_step

    info["intervals"] = cfg.intervals
    if cfg.intervals == "conformal":
        info["notes"].append("conformal intervals: each window calibrated on the errors of all series before its "
                             "cutoff (the first window keeps the models' own intervals)")
    return BacktestResult(fc[cols].reset_index(drop=True), metrics.reset_index(drop=True), summary, info, total,
                          coverage_by_step(fc, levels))
