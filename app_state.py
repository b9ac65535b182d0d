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


def get_dataset():
    """The cleaned dataset of this session; the bundled sample on first open."""
    ds = st.session_state.get(DATASET)
    if ds is None:
        ds = load_sample()
        st.session_state[DATASET] = ds
    return ds


def set_dataset(ds) -> None:
    st.session_state[DATASET] = ds


SAMPLE_FILE = Path(__file__).resolve().parent / "sample_data" / "store_sales_daily.csv"


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
def read_upload(data: bytes, filename: str, sheet: str | None = None):
    """Read uploaded bytes into a raw table (cached on the bytes, name and sheet; a copy per caller)."""
    from forecasting.data.sniff import read_raw

    return read_raw(data, filename=filename, sheet=sheet)
