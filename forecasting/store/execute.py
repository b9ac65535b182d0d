"""Running a stored run: the pipeline with the store's hooks (results kept per partition as they finish,
live progress and heartbeat, the Stop flag), and resuming one where it stopped.

The CLI (``backtest``/``forecast --workspace``, ``runs resume``) and the app's background workers all
come through :func:`execute_run`, so a run behaves the same whoever started it.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import pandas as pd

from forecasting.progress import Cancelled, ProgressCallback, ProgressEvent
from forecasting.store.files import merge_results
from forecasting.store.workspace import StoreError, Workspace

COMPACT_SECONDS = 10.0     # serial engine: the journal's finished series become one part at least this often
PROGRESS_SECONDS = 0.5     # series_done written (and the Stop flag read) at most this often
HEARTBEAT_SECONDS = 10.0   # a live run touches its row this often, even inside a long network fit


def config_of(kind: str, cfg) -> dict:
    """A run config as stored (JSON): the dataclass' fields, without in-memory frames."""
    from dataclasses import asdict

    d = asdict(cfg) if not isinstance(cfg, dict) else dict(cfg)
    d.pop("future_covariates", None)
    if kind == "forecast":
        d["models"] = list(cfg.models) if not isinstance(cfg, dict) else d.get("models") or d.get("model")
    return d


def hierarchy_of(config: dict):
    """The run's hierarchy settings when it covers every node of a hierarchy, else None
    (:func:`forecasting.hierarchy.run.hierarchy_of`)."""
    from forecasting.hierarchy.run import hierarchy_of as of_config

    return of_config(config)


def build_config(kind: str, config: dict):
    if kind == "backtest":
        from forecasting.pipeline import BacktestConfig

        return BacktestConfig(**{k: v for k, v in config.items() if k in BacktestConfig.__dataclass_fields__})
    from forecasting.pipeline import ForecastConfig

    return ForecastConfig(**{k: v for k, v in config.items() if k in ForecastConfig.__dataclass_fields__})


class StoreSink:
    """The pipeline's :data:`~forecasting.progress.ResultSink` for one run.

    ``journal=False`` (the local and Dask engines: few, large partitions): each partition is written as a
    part the moment it finishes. ``journal=True`` (the serial engine: one series per partition): each
    finished series is appended to the run's journal before the engine goes on (nothing handed over is
    lost if the process is killed: at most the series being fitted is), and every ``compact_seconds`` the
    journal's lines become one part (a run of tiny partitions would otherwise write thousands of files).
    ``seconds`` is the time spent keeping results, for the run's timings."""

    def __init__(self, ws: Workspace, run_id: str, journal: bool = False, compact_seconds: float | None = None):
        self.ws, self.run_id, self.use_journal = ws, run_id, journal
        self.compact_seconds = COMPACT_SECONDS if compact_seconds is None else compact_seconds
        self.buffer: list[tuple[list, dict]] = []
        self.writer = None
        self.first = 0.0
        self.seconds = 0.0
        self.stored = ws.series_stored(run_id)

    def __call__(self, what: str, series: list, result: dict) -> None:
        t0 = time.perf_counter()
        try:
            if what != "local" or not self.use_journal:
                self.flush()
                self.ws.add_part(self.run_id, what, series, result)
                if what == "local":
                    self.stored += len(series)
                return
            if self.writer is None:
                self.writer = self.ws.journal(self.run_id)
                self.first = time.monotonic()
            series = [str(s) for s in series]
            self.writer.append(series, result)
            self.stored += len(series)
            self.buffer.append((series, result))
            if time.monotonic() - self.first >= self.compact_seconds:
                self.flush()
        finally:
            self.seconds += time.perf_counter() - t0

    def flush(self) -> None:
        """Write the journal's series as one part (named after the journal file), then delete the file."""
        if not self.buffer:
            return
        t0 = time.perf_counter()
        series = [s for ss, _ in self.buffer for s in ss]
        self.ws.add_part(self.run_id, "local", series, merge_results([r for _, r in self.buffer]),
                         part_id=self.writer.path.stem)
        self.writer.close(remove=True)
        self.writer, self.buffer = None, []
        self.seconds += time.perf_counter() - t0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class StoreProgress:
    """Progress callback: writes ``series_done`` and reads the Stop flag (one round trip, throttled),
    forwards to ``inner``. ``durable`` (the serial engine): ``series_done`` never counts a series before
    its result is kept (its progress tick comes a moment before the result)."""

    def __init__(self, ws: Workspace, run_id: str, n_series: int, prior: int, inner: ProgressCallback | None,
                 durable: StoreSink | None = None):
        self.ws, self.run_id, self.n_series, self.prior, self.inner = ws, run_id, n_series, prior, inner
        self.durable = durable
        self.last = 0.0
        self.seconds = 0.0
        self.done = prior

    def __call__(self, ev: ProgressEvent) -> None:
        if "partitions" in ev.extra:            # the engines' events count the series of this session
            done = self.prior + int(ev.done)
            if self.durable is not None:
                done = min(done, self.durable.stored)
        else:
            done = int(ev.done)
        self.done = max(self.done, min(self.n_series, done))
        now = time.monotonic()
        if now - self.last >= PROGRESS_SECONDS:
            self.last = now
            t0 = time.perf_counter()
            stop = self.ws.heartbeat(self.run_id, self.done)
            self.seconds += time.perf_counter() - t0
            if stop:
                raise Cancelled("stopped by the user")
        if self.inner is not None:
            self.inner(ev)


def _heartbeat(ws: Workspace, run_id: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            ws.heartbeat(run_id)
        except Exception:
            pass


def canonical(kind: str, res, levels) -> dict[str, pd.DataFrame | None]:
    """A result's frames in one order (series, then model as chosen, then cutoff and date) with the
    per-model summary and the total recomputed from them: a resumed run, whose partitions came back in
    another order, stores exactly what an uninterrupted run stores."""
    models = list(res.info.get("config", {}).get("models") or res.info.get("config", {}).get("model") or [])
    if isinstance(models, str):
        models = [models]
    order = {m: i for i, m in enumerate(models)}

    def sort(frame: pd.DataFrame | None, extra: list[str]) -> pd.DataFrame | None:
        if frame is None:
            return None
        f = frame.assign(_m=frame["model"].map(order).fillna(len(order)))
        keys = ["unique_id", "_m"] + [c for c in extra if c in f.columns]
        return f.sort_values(keys, kind="stable").drop(columns="_m").reset_index(drop=True)

    if kind == "backtest":
        from forecasting.evaluation.aggregate import across_series, per_model

        metrics = sort(res.metrics, [])
        forecasts = sort(res.forecasts, ["cutoff", "ds"])
        if res.info.get("hierarchy"):      # every node: the leaderboard and total are the bottom series'
            bottom = set(res.info["hierarchy"].get("bottom_ids") or [])
            summary = per_model(metrics[metrics["unique_id"].isin(bottom)]) if bottom else res.summary
            fc_bottom = forecasts[forecasts["unique_id"].isin(bottom)]
            total = across_series(fc_bottom, levels) if bottom and len(fc_bottom) else res.total
            return {"metrics": metrics, "forecasts": forecasts, "summary": summary, "total": total}
        summary = per_model(metrics) if len(metrics) else pd.DataFrame()
        total = across_series(forecasts, levels) if len(forecasts) else None
        return {"metrics": metrics, "forecasts": forecasts, "summary": summary, "total": total}
    return {"forecasts": sort(res.forecasts, ["ds"]), "settings": sort(res.settings, []),
            "attention": sort(res.attention, ["lag"]) if res.attention is not None else None}


def execute_run(ws: Workspace, run_id: str, progress: ProgressCallback | None = None, *,
                engine: str | None = None, address: str | None = None, n_workers: int | None = None):
    """Run (or resume) stored run ``run_id``: only the series (and global models) not stored yet run.

    Returns the pipeline's result (a BacktestResult or ForecastResult holding every series). The run
    ends ``finished``, ``stopped`` (Stop flag, or a ``Cancelled`` from ``progress``: finished series
    kept), or ``failed`` (the error is kept and raised); a killed process leaves it ``running`` with a
    dead pid, which the store reports as ``interrupted``."""
    rec = ws.get_run(run_id)
    if rec.status == "running":
        raise StoreError(f"run {run_id} is already running (pid {rec.pid} on {rec.host})")
    if rec.status == "finished":     # archived: a finished run's results are never recomputed or overwritten
        raise StoreError(f"run {run_id} has finished; its results are archived and are not recomputed "
                         "(start a new run instead)")
    config = dict(rec.config)
    if engine:
        config["engine"] = engine
        config["address"] = address
    if n_workers:
        config["n_workers"] = n_workers
    try:
        cfg = build_config(rec.kind, config)
        curves = _attach_curves(cfg, ws.path / "runs" / run_id / "live.json")
        cfg.validate()
        t_store = time.perf_counter()
        dataset = ws.load_dataset(rec.dataset_id)
        ws.compact_journal(run_id)       # a killed serial run's last series: into a part before it resumes
        prior = ws.prior_results(run_id)
        t_store = time.perf_counter() - t_store
        hcfg = hierarchy_of(config)
        if hcfg is not None:       # every node of the hierarchy is a series of the run
            from forecasting.hierarchy.data import hierarchical_dataset

            hcfg.validate()
            n_nodes = hierarchical_dataset(dataset, hcfg.levels)[1].n_nodes
            if n_nodes != rec.n_series:
                ws._set(run_id, n_series=n_nodes)
                rec = ws.get_run(run_id)
    except Exception as exc:       # a run that cannot start is failed, not left in the queue
        ws._set(run_id, status="failed", finished=time.time(), error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    ws.mark_running(run_id)
    # serial partitions hold one series each: each goes to the run's journal as it finishes; the other
    # engines' partitions are large and few, and are written as parts the moment they finish
    serial = cfg.engine == "serial"
    sink = StoreSink(ws, run_id, journal=serial)
    prog = StoreProgress(ws, run_id, rec.n_series, len(prior.series), progress, durable=sink if serial else None)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(ws, run_id, stop), daemon=True)
    beat.start()
    try:
        if hcfg is not None:     # reconciled (or every level): the nodes' results kept as they finish
            from forecasting.hierarchy.run import hierarchical_backtest, hierarchical_forecast

            if rec.kind == "backtest":
                res = hierarchical_backtest(dataset, cfg, hcfg, progress=prog, sink=sink, prior=prior)[0]
            else:               # the networks trained on every node are kept, as in a plain forecast
                from forecasting.store.models import keep_model

                res = hierarchical_forecast(dataset, cfg, hcfg, progress=prog, sink=sink, prior=prior,
                                            on_model=lambda name, model: keep_model(ws, run_id, name, model))[0]
        elif rec.kind == "backtest":
            from forecasting.pipeline import run_backtest

            res = run_backtest(dataset, cfg, progress=prog, sink=sink, prior=prior)
        else:
            from forecasting.pipeline import run_forecast

            from forecasting.store.models import keep_model

            res = run_forecast(dataset, cfg, progress=prog, sink=sink, prior=prior,
                               on_model=lambda name, model: keep_model(ws, run_id, name, model))
        sink.flush()
        res.info["training_curves"] = curves
        if rec.kind == "forecast":      # the archive's cutoff: the last date of the history the run saw
            from forecasting.store.archive import cutoff_of

            try:
                res.info["cutoff"] = cutoff_of(dataset).isoformat()
            except StoreError:
                pass
        t0 = time.perf_counter()
        ws.save_result(run_id, canonical(rec.kind, res, res.info["config"]["levels"]))
        # the store's own time on this run's thread: loading the dataset and what was kept, keeping each
        # finished piece, progress writes, the final frames (the benchmark's noise-free measure of its cost)
        t_store += sink.seconds + prog.seconds + time.perf_counter() - t0
        if isinstance(res.info.get("timings"), dict):
            res.info["timings"]["store_s"] = round(t_store, 3)
        cancelled = bool(res.info.get("cancelled"))
        if rec.kind == "forecast" and not cancelled:
            from forecasting.store.models import keep_settings

            keep_settings(ws, run_id, list(cfg.models), rec.config, rec.dataset_id,
                          res.info["config"].get("season_length"))
        done = sink.stored if cancelled else rec.n_series
        ws._set(run_id, status="stopped" if cancelled else "finished", finished=time.time(),
                series_done=done, device=res.info.get("device"), versions=res.info.get("versions"),
                timings=res.info.get("timings"), info=_jsonable(res.info), heartbeat=time.time())
        return res
    except Cancelled:               # stopped before any partition ran (or between the global models)
        sink.flush()
        ws._set(run_id, status="stopped", finished=time.time(), series_done=sink.stored, heartbeat=time.time())
        raise
    except BaseException as exc:
        try:
            sink.flush()
        except Exception:
            pass
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        ws._set(run_id, status=status, finished=time.time() if status == "failed" else None,
                series_done=sink.stored, error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    finally:
        stop.set()
        sink.close()


class _Curves:
    """Collects the networks' epoch events (losses, device) for the run's info, and keeps them in
    ``live.json`` beside the run's results (at most every 0.5 s) so a page can draw the loss curve while
    the network trains. Stays in this process (pickled into an engine's worker it becomes None)."""

    def __init__(self, events: list, live_file=None):
        self.events, self.live_file, self.written = events, live_file, 0.0

    def __call__(self, ev) -> None:
        if ev.extra.get("epoch") is not None and "train_loss" in ev.extra:
            self.events.append({"stage": ev.stage, "message": ev.message, **ev.extra})
            now = time.monotonic()
            if self.live_file is not None and now - self.written >= 0.5:
                self.written = now
                try:
                    from forecasting.store.files import write_json_atomic

                    write_json_atomic(self.live_file, self.events[-400:])
                except OSError:
                    pass

    def __reduce__(self):
        return (type(None), ())


def _attach_curves(cfg, live_file=None) -> list:
    from forecasting.models.registry import get_spec

    events: list = []
    hook = _Curves(events, live_file)
    for name in cfg.models:
        if get_spec(name).capabilities.global_model:
            cfg.model_params = dict(cfg.model_params)
            cfg.model_params[name] = {**cfg.model_params.get(name, {}), "progress": hook}
    return events


def _jsonable(info: dict) -> dict:
    import json

    return json.loads(json.dumps(info, default=str))
