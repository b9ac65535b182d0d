"""What the pages say to the analyst: errors in one line (never a traceback), and user strings (file and
column names, ids, messages quoting them) made inert in Markdown."""
from __future__ import annotations

import streamlit as st

from forecasting.errors import SalesCastError
from forecasting.export.text import md_escape as md

__all__ = ["check", "error", "fail", "md"]


def error(message) -> None:
    """Show ``message`` as an error; it may quote user strings, so it is escaped."""
    st.error(md(message))


def fail(what: str, exc: Exception) -> None:
    """Show a readable error for ``exc`` and stop the page."""
    msg = str(exc) if isinstance(exc, SalesCastError) else f"unexpected problem ({type(exc).__name__}: {exc})"
    error(f"{what}: {msg}")
    st.stop()


def check(cfg) -> None:
    """Validate a run's config before any work: a setting a model refuses is one error, and the page stops."""
    try:
        cfg.validate()
    except SalesCastError as exc:
        error(str(exc))
        st.stop()
