"""Runs on the page: a backtest, forecast or plan with a progress bar, a stop button that keeps the results
so far and the networks' live training curves (:class:`ProgressPanel`, :func:`run_or_reuse`); and the run
block of the Models and Forecast pages (:func:`run_block`), which sends runs (reconciled ones too) to the
workspace's worker processes."""
from __future__ import annotations

import streamlit as st

from forecasting.errors import SalesCastError
from ui import feedback, workspace
from ui.state import cached_result, results_store, reuse_cached, store_in


class ProgressPanel:
    """A progress bar with series done, current step, elapsed time and ETA; a stop button above it.

    Use as the ``progress`` callback of a library call. Any click while the work runs (the stop button
    or another widget) makes Streamlit stop this script run (at its next ``st.*`` call, i.e. the next
    progress event) and start a new one at once. The panel turns the stop into
    :class:`~forecasting.progress.Cancelled`, so the library returns the results so far; the page stores
    them, calls :meth:`close` (which clears this session's "running" flag) and :meth:`resume`.
    The new run waits for that flag with :func:`wait_for_stopped_run` before it shows results."""

    def __init__(self, label: str, kind: str, stop_label: str = "Stop"):
        import time

        self.start = time.monotonic()
        self.label = label
        self.kind = kind
        self._store = results_store()
        self._store["running"][kind] = self.start
        self.box = st.empty()
        with self.box.container():
            st.button(stop_label, key=f"stop_{label}", help="Stop; the results so far are kept")
            self.bar = st.progress(0.0, text=f"{label}: starting …")
            self.detail = st.empty()
            self.live = st.empty()         # the loss curve of the network training now, epoch by epoch
        self.events: list = []             # training events (epoch, losses, device) for the charts
        self.curve: list[dict] = []        # the current training run's losses, drawn live
        self.drawn, self.redraw_every = 0.0, 0.3
        self.pending: BaseException | None = None
        self.cancelled = False

    def __call__(self, ev) -> None:
        import time

        from forecasting.progress import Cancelled

        epoch_done = ev.extra.get("epoch") is not None and "train_loss" in ev.extra
        if epoch_done:
            self.events.append({"stage": ev.stage, "message": ev.message, **ev.extra})
            self._extend_curve(ev.extra)
        if self.pending is not None:
            raise Cancelled()
        elapsed = time.monotonic() - self.start
        frac = ev.fraction
        eta = f" · about {elapsed * (1 - frac) / frac:.0f}s left" if frac and ev.stage != "train" else ""
        count = f"{ev.done:g}/{ev.total:g} · " if ev.total and ev.stage != "train" else ""
        text = f"{self.label}: {count}{ev.message} · {elapsed:.0f}s elapsed{eta}"
        try:
            if ev.stage == "train" and epoch_done:   # the bar follows the network's epochs, with its ETA
                eta_s = ev.extra.get("eta_s")
                left = f" · about {eta_s:.0f}s left" if eta_s is not None else ""
                self.bar.progress(frac or 0.0, text=f"{self.label}: {ev.message} · {elapsed:.0f}s elapsed{left}")
                self._draw_curve()
            elif ev.stage == "train":                 # a training note (NaN guard, memory retry) stays shown
                self.detail.caption(text)
            else:
                self.bar.progress(frac or 0.0, text=text)
        except BaseException as exc:  # Streamlit's rerun/stop request arrives at an st.* call
            if type(exc).__name__ in ("RerunException", "StopException"):
                self.pending, self.cancelled = exc, True
                raise Cancelled() from None
            raise

    def _extend_curve(self, extra: dict) -> None:
        """Add an epoch to the live curve; a new network, or epoch 1 again (the next backtest window),
        starts a new curve."""
        model = " · ".join(str(extra[k]) for k in ("model", "series") if extra.get(k))  # series: one network each
        if self.curve and (self.curve[-1]["model"] != model or extra["epoch"] <= self.curve[-1]["epoch"]):
            self.curve = []
        self.curve.append({"model": model, "epoch": int(extra["epoch"]), "train": extra["train_loss"],
                           "validation": extra.get("val_loss")})

    def _draw_curve(self) -> None:
        """Redraw the live loss chart (at most every ``redraw_every`` seconds: epochs can be short)."""
        import time

        import pandas as pd

        now = time.monotonic()
        if now - self.drawn < self.redraw_every and len(self.curve) > 1:
            return
        self.drawn = now
        df = pd.DataFrame(self.curve).set_index("epoch")[["train", "validation"]].astype(float)
        df = df.dropna(axis=1, how="all")
        with self.live.container():
            st.caption(f"{self.curve[-1]['model'] or 'network'}: loss by epoch (train, validation)")
            st.line_chart(df, height=180, x_label="epoch", y_label="loss")

    def store(self, key: str, entry) -> None:
        """Store the (maybe partial) result: works even while Streamlit is stopping this run."""
        store_in(self._store, self.kind, key, entry)

    def close(self) -> None:
        """Mark the run finished (first: a stopping run may not reach another st.* call), clear the bar."""
        self._store["running"].pop(self.kind, None)
        try:
            self.box.empty()
        except BaseException as exc:  # the stop request again: keep it for resume()
            if type(exc).__name__ not in ("RerunException", "StopException"):
                raise
            self.pending = self.pending or exc

    def hook(self):
        """This panel as a callback for a model's settings (deep models report epochs through it).

        Settings travel to worker processes with the local/Dask engines; there the hook unpickles to
        None (no Streamlit in a worker), while the networks, trained in this process, report to it."""
        return _InProcessHook(self)

    def resume(self) -> None:
        """Re-raise the rerun request caught while the work ran (after the partial results are stored)."""
        if self.pending is not None:
            raise self.pending


def wait_for_stopped_run(kind: str, timeout: float = 900) -> None:
    """If a stopped run of ``kind`` is still finishing its current step in the background (Streamlit
    starts the new run at once), wait until it has stored the results so far."""
    import time

    running = results_store()["running"]
    if running.get(kind) is None:
        return
    deadline = time.monotonic() + timeout
    with st.spinner("Stopping: the step in progress finishes first, then the results so far are shown …"):
        while running.get(kind) is not None and time.monotonic() < deadline:
            time.sleep(0.25)
    running.pop(kind, None)


def run_or_reuse(kind: str, title: str, key: str, data_key: str, cfg, run, progress_params=()) -> None:
    """Run ``run(cfg, progress)`` with a progress panel and a stop button, or reuse this session's cached
    result for the same data and settings. ``progress_params``: the settings dicts of networks, which
    report their epochs (training curves) through the same panel. A run's error is shown, never raised."""
    feedback.check(cfg)
    if reuse_cached(kind, key):
        return
    panel = ProgressPanel(title, kind)
    for params in progress_params:
        params["progress"] = panel.hook()
    error = None
    try:
        result = run(cfg, progress=panel)
        result.info["training_curves"] = panel.events
        result.info["cancelled"] = bool(result.info.get("cancelled") or panel.cancelled)
        panel.store(key, {"dataset": data_key, "result": result, "config": cfg, "key": key})
    except SalesCastError as exc:
        error = str(exc)
    finally:
        panel.close()
    panel.resume()
    if error:
        feedback.error(error)
        st.stop()


class _InProcessHook:
    """A progress callback that stays in this process: pickled into a worker it becomes None."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, ev) -> None:
        self.fn(ev)

    def __reduce__(self):
        return (type(None), ())


def run_block(kind: str, ds, cfg, key: str, data_key: str, *, hcfg=None, hint: str, disabled: bool = False):
    """The "Run {kind}" button of the Models and Forecast pages and the result it shows.

    The run (over every node of ``hcfg``'s hierarchy, reconciled, when given) is recorded in the workspace
    and computed by a worker process (leaving or reloading the page never stops it), whose progress is
    followed here. Returns this data's latest ``kind`` result (this session's, else the
    workspace's); without one it shows ``hint`` and stops the page."""
    if st.button(f"Run {kind}", type="primary", disabled=disabled, key=f"run_{kind}"):
        workspace.start_run(kind, ds, cfg, key, data_key, hcfg)
    wait_for_stopped_run(kind)
    workspace.follow(kind, ds)
    entry = workspace.latest_entry(kind, data_key)
    if entry is None or entry["dataset"] != data_key:
        st.info(hint)
        st.stop()
    if entry is not cached_result(kind, key):
        st.caption(f"Showing the last {kind} run; the settings above have changed since.")
    return entry
