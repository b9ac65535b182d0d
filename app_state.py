"""The only module that touches ``st.session_state`` and ``st.cache_*``.

Everything user-specific lives in ``st.session_state`` (one per browser session), never in
``st.cache_resource`` or a shared path, so several analysts can use one running app safely.
"""
from __future__ import annotations

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


def load_sample():
    """Load the bundled sample dataset (filled in by the Foundation work)."""
    raise NotImplementedError
