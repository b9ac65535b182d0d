"""The only module that touches ``st.session_state`` and ``st.cache_*``.

Everything user-specific lives in ``st.session_state`` (one per browser session), never in
``st.cache_resource`` or a shared path, so several analysts can use one running app safely.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st


DATASET = "dataset"


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)


def put(key: str, value: Any) -> None:
    st.session_state[key] = value


def follow_link(param: str, key: str, choices) -> None:
    """A page link's ``?param=value`` selects ``value`` in the widget ``key`` (when it is one of ``choices``), once:
    the parameter is then dropped, so later picks in the widget are the user's."""
    value = st.query_params.get(param)
    if value is None:
        return
    if value in set(choices):
        st.session_state[key] = value
    del st.query_params[param]


def keys_starting(prefixes: tuple[str, ...]) -> list[str]:
    """The session's keys (widget keys among them) that start with one of ``prefixes``."""
    return [k for k in list(st.session_state.keys()) if isinstance(k, str) and k.startswith(prefixes)]


def has(key: str) -> bool:
    return key in st.session_state


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


def run_key(data_key: str, *configs) -> str:
    """The key of a run's result in this session: the data's fingerprint and each config's (None skipped)."""
    return data_key + "".join(config_fingerprint(c) for c in configs if c is not None)


def results_store() -> dict:
    """This session's result store: ``{"entries": {kind: {key: entry}}, "latest": {kind: key},
    "running": {kind: start time}}``. Plain dicts on purpose: a run that Streamlit is stopping cannot
    touch ``st.session_state`` any more (every access raises its stop), but it can still write into
    these dicts, fetched before the run started."""
    return st.session_state.setdefault(RESULTS, {"entries": {}, "latest": {}, "running": {}})


def cached_result(kind: str, key: str):
    """The result of ``kind`` ("backtest" / "forecast") stored for ``key`` in this session, or None."""
    return results_store()["entries"].get(kind, {}).get(key)


def store_in(store: dict, kind: str, key: str, entry) -> None:
    """Keep ``entry`` in ``store`` (a :func:`results_store` fetched before a run: usable while Streamlit
    stops the run)."""
    entries = store["entries"].setdefault(kind, {})
    entries.pop(key, None)
    entries[key] = entry
    while len(entries) > MAX_CACHED:
        entries.pop(next(iter(entries)))
    store["latest"][kind] = key


def store_result(kind: str, key: str, entry) -> None:
    """Keep ``entry`` for ``key`` (and as the latest of ``kind``); at most MAX_CACHED per kind."""
    store_in(results_store(), kind, key, entry)


def reuse_cached(kind: str, key: str) -> bool:
    """Show this session's finished result for ``key`` again (the same data and settings) instead of a run."""
    entry = cached_result(kind, key)
    if entry is None or entry["result"].info.get("cancelled"):
        return False
    store_result(kind, key, entry)
    st.toast("Same data and settings as before: cached result shown.")
    return True


def latest_result(kind: str):
    """The entry most recently stored for ``kind`` in this session (finished or stopped), or None."""
    store = results_store()
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


# ---------------------------------------------------------------- Explore page
# Heavy per-series work, cached on the inputs (pandas objects and frozen dataclasses hash by value).

@st.cache_data(show_spinner=False, max_entries=16)
def explore_aggregate(_ds, fingerprint: str, kind: str, column: str | None):
    """The series of the chosen aggregation (total, per level of an id column, or each series)."""
    from forecasting.explore.aggregate import aggregate

    return aggregate(_ds, kind, column)


@st.cache_data(show_spinner=False, max_entries=64)
def explore_analyze(y, freq: str, cfg, flags=None):
    """Summary card and decomposition of one series (:func:`forecasting.explore.summary.analyze`)."""
    from forecasting.explore.summary import analyze

    return analyze(y, freq, cfg, flags)


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
