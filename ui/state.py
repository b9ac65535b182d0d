"""The only module that touches ``st.session_state`` and ``st.cache_*``.

Everything user-specific lives in ``st.session_state`` (one per browser session), never in
``st.cache_resource`` or a shared path, so several analysts can use one running app safely.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from forecasting.errors import SalesCastError

DATASET = "dataset"


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)


def put(key: str, value: Any) -> None:
    st.session_state[key] = value


_RESTORERS: list = []     # functions giving this session's dataset kept elsewhere (the workspace), or None


def restore_dataset_with(fn) -> None:
    """Let ``fn()`` give the dataset of a session that has none yet (ui.workspace registers itself, so this
    module does not import it back)."""
    if fn not in _RESTORERS:
        _RESTORERS.append(fn)


def get_dataset():
    """The cleaned dataset of this session: the workspace's after a reload or in a new tab, else the bundled
    sample on first open."""
    ds = st.session_state.get(DATASET)
    if ds is None:
        ds = next((d for d in (fn() for fn in _RESTORERS) if d is not None), None)
        if ds is None:
            ds = load_sample()
        st.session_state[DATASET] = ds
    return ds


def reset_session() -> None:
    """Forget everything of this browser session (another workspace was opened in the same tab)."""
    for k in list(st.session_state.keys()):
        del st.session_state[k]


def set_dataset(ds) -> None:
    st.session_state[DATASET] = ds


SAMPLE_FILE = Path(__file__).resolve().parents[1] / "sample_data" / "store_sales_daily.csv"


@st.cache_data(show_spinner=False, max_entries=4)
def _parse_sample(path: str, mtime: float):
    from forecasting.data.ingest import load_report

    return load_report(path)


def load_sample():
    """The bundled sample dataset (parsing cached per file version; each caller gets its own copy)."""
    return _parse_sample(str(SAMPLE_FILE), SAMPLE_FILE.stat().st_mtime).dataset


def load_sample_report():
    """The sample's :class:`~forecasting.data.ingest.IngestReport` (for the Data page's quality report)."""
    return _parse_sample(str(SAMPLE_FILE), SAMPLE_FILE.stat().st_mtime)


@st.cache_data(show_spinner=False, max_entries=8)
def read_upload(_data: bytes, filename: str, sheet: str | None = None, digest: str = ""):
    """Read uploaded bytes into a raw table, cached on ``digest`` (a hash of the bytes, computed once per
    upload: hashing a 1 GB upload on every rerun would cost seconds), name and sheet; a copy per caller."""
    from forecasting.data.sniff import read_raw

    return read_raw(_data, filename=filename, sheet=sheet)


@st.cache_data(show_spinner="Reading the file …", max_entries=4)
def ingest_upload(_data: bytes, filename: str, sheet: str | None, mapping: tuple, digest: str = ""):
    """Read and build a dataset with the page's column mapping ``(layout, date_col, target_col, id_cols,
    freq, agg)``; cached on ``digest`` and the mapping, so other widgets do not re-read the file."""
    from forecasting.data.ingest import build

    layout, date_col, target_col, id_cols, freq, agg = mapping
    return build(read_upload(_data, filename, sheet, digest), date_col=date_col, target_col=target_col,
                 id_cols=None if id_cols is None else list(id_cols), freq=freq, agg=agg, layout=layout)


@st.cache_data(show_spinner="Checking the data …", max_entries=8)
def data_quality(_report, key: str, method: str):
    """The quality report of an ingest result (``key`` names the file and mapping it came from)."""
    from forecasting.data.quality import quality_report

    return quality_report(_report.dataset, combined=_report.combined_by_series, method=method)


@st.cache_data(show_spinner="Applying the treatments …", max_entries=8)
def data_treatments(_dataset, key: str, fill: str, outliers: str, method: str, zeros: str = "leave"):
    """(cleaned dataset, change log) for the page's treatment choices (``key`` as for data_quality)."""
    from forecasting.data.quality import Treatments, apply_treatments

    return apply_treatments(_dataset, Treatments(fill=fill, outliers=outliers, outlier_method=method, zeros=zeros))


# ---------------------------------------------------------------- results of the Models / Forecast pages
# Results live in this session's st.session_state, keyed by a hash of the dataset and the config:
# re-running with the same data and settings is instant, and no session sees another's results.

RESULTS = "results"
MAX_CACHED = 6


def dataset_fingerprint(ds) -> str:
    """A hash of the long frame and what describes it (frequency, names): equal data, equal hash."""
    import hashlib

    import pandas as pd

    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(ds.df, index=False).to_numpy().tobytes())
    h.update(repr((list(ds.df.columns), ds.freq, ds.target_col, ds.date_col, list(ds.id_cols))).encode())
    return h.hexdigest()[:20]


def config_fingerprint(cfg) -> str:
    """A hash of a config dataclass; callables inside it (progress hooks) are left out."""
    import dataclasses
    import hashlib
    import json

    def clean(v):
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0])) if not callable(x)}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    data = clean(dataclasses.asdict(cfg)) | {"type": type(cfg).__name__}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=repr).encode()).hexdigest()[:20]


def _results() -> dict:
    """This session's result store: ``{"entries": {kind: {key: entry}}, "latest": {kind: key},
    "running": {kind: start time}}``. Plain dicts on purpose: a run that Streamlit is stopping cannot
    touch ``st.session_state`` any more (every access raises its stop), but it can still write into
    these dicts, fetched before the run started."""
    return st.session_state.setdefault(RESULTS, {"entries": {}, "latest": {}, "running": {}})


def cached_result(kind: str, key: str):
    """The result of ``kind`` ("backtest" / "forecast") stored for ``key`` in this session, or None."""
    return _results()["entries"].get(kind, {}).get(key)


def _store(store: dict, kind: str, key: str, entry) -> None:
    entries = store["entries"].setdefault(kind, {})
    entries.pop(key, None)
    entries[key] = entry
    while len(entries) > MAX_CACHED:
        entries.pop(next(iter(entries)))
    store["latest"][kind] = key


def store_result(kind: str, key: str, entry) -> None:
    """Keep ``entry`` for ``key`` (and as the latest of ``kind``); at most MAX_CACHED per kind."""
    _store(_results(), kind, key, entry)


def latest_result(kind: str):
    """The entry most recently stored for ``kind`` in this session (finished or stopped), or None."""
    store = _results()
    key = store["latest"].get(kind)
    return store["entries"].get(kind, {}).get(key) if key else None


def memo(kind: str, key: str, compute):
    """``compute()`` once per ``key`` in this session (small per-page results such as residuals)."""
    store = st.session_state.setdefault(f"memo_{kind}", {})
    if key not in store:
        if len(store) >= 32:
            store.pop(next(iter(store)))
        store[key] = compute()
    return store[key]


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
        self._store = _results()
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
        _store(self._store, self.kind, key, entry)

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

    running = _results()["running"]
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
    try:
        cfg.validate()         # a setting a model refuses: one error, before any work
    except SalesCastError as exc:
        st.error(str(exc))
        st.stop()
    entry = cached_result(kind, key)
    if entry is not None and not entry["result"].info.get("cancelled"):
        store_result(kind, key, entry)
        st.toast("Same data and settings as before: cached result shown.")
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
        st.error(error)
        st.stop()


class _InProcessHook:
    """A progress callback that stays in this process: pickled into a worker it becomes None."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, ev) -> None:
        self.fn(ev)

    def __reduce__(self):
        return (type(None), ())


# ---------------------------------------------------------------- Explore page (issue 4)
# Heavy per-series work, cached on the inputs (pandas objects and frozen dataclasses hash by value).

@st.cache_data(show_spinner=False, max_entries=16)
def explore_aggregate(_ds, fingerprint: str, kind: str, column: str | None):
    """The series of the chosen aggregation (total, per level of an id column, or each series)."""
    from forecasting.explore.aggregate import aggregate

    return aggregate(_ds, kind, column)


@st.cache_data(show_spinner=False, max_entries=64)
def explore_analyze(y, freq: str, cfg):
    """Summary card and decomposition of one series (:func:`forecasting.explore.summary.analyze`)."""
    from forecasting.explore.summary import analyze

    return analyze(y, freq, cfg)


@st.cache_data(show_spinner=False, max_entries=8)
def explore_table(frame, freq: str, threshold: float):
    """The many-series table (:func:`forecasting.explore.summary.summary_table`)."""
    from forecasting.explore.summary import summary_table

    return summary_table(frame, freq, threshold)


@st.cache_data(show_spinner=False, max_entries=8)
def explore_components(frame, freq: str, method: str, periods, model: str, robust: bool):
    """Components of every series of an aggregation as one long table (for the CSV download)."""
    from forecasting.explore.components import components

    return components(frame, freq, method, list(periods) if periods else None, model, robust).frame
