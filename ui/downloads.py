"""Download buttons, and charts with their downloads, for every page (thin wrappers over forecasting.export).

Files are built only when clicked (``data`` is a callable) and nothing is written to disk, so
sessions never share a path. File names go through :func:`forecasting.export.names.download_name`.
"""
from __future__ import annotations

from typing import Callable

import streamlit as st

from forecasting.export.names import download_name, safe_stem

MIME = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "html": "text/html", "png": "image/png", "pdf": "application/pdf", "zip": "application/zip"}


def download(label: str, build: Callable[[], bytes], source: str, what: str, ext: str, key: str,
             help: str | None = None) -> None:
    """One download button whose bytes are made on click."""
    st.download_button(label, data=build, file_name=download_name(source, what, ext), mime=MIME[ext],
                       key=key, on_click="ignore", help=help)


def chart(fig, what: str, source: str = "", key: str | None = None) -> None:
    """A plotly chart with its HTML and PNG downloads under it (``what`` names the files)."""
    st.plotly_chart(fig, width="stretch", key=key or f"fig_{safe_stem(what, 'chart')}")
    chart_downloads(fig, what, source)


def chart_downloads(fig, what: str, source: str = "") -> None:
    """HTML and PNG buttons under a chart."""
    from forecasting.export.figures import png_available, to_html, to_png

    key = safe_stem(what, "chart")
    c1, c2, _ = st.columns([1, 1, 4])
    with c1:
        download("Chart as HTML", lambda: to_html(fig), source, what, "html", key=f"dl_html_{key}")
    ok, why = png_available()
    with c2:
        if ok:
            download("Chart as PNG", lambda: to_png(fig), source, what, "png", key=f"dl_png_{key}")
        else:
            st.button("Chart as PNG", disabled=True, key=f"dl_png_{key}", help=why)
