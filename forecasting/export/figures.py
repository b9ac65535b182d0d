"""Figure export: interactive HTML (plotly.js embedded, works offline) and static PNG via kaleido.

Kaleido drives a Chromium browser. When none is installed, :func:`to_png` raises
:class:`FigureExportError` with what to install instead of crashing; :func:`png_available` tells a
page beforehand so it can disable the PNG buttons."""
from __future__ import annotations

import os
import shutil
from functools import lru_cache

from forecasting.errors import SalesCastError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
NO_BROWSER = ("PNG export needs a Chromium or Chrome browser, and none was found. Install one "
              "(Debian/Ubuntu: apt-get install -y chromium) or download the chart as HTML instead.")


class FigureExportError(SalesCastError):
    """A figure could not be exported; the message says why and what to do."""


def to_html(fig, include_plotlyjs: bool | str = True) -> bytes:
    """A standalone interactive HTML page of ``fig`` (plotly.js embedded unless told otherwise)."""
    return fig.to_html(include_plotlyjs=include_plotlyjs, full_html=True).encode("utf-8")


@lru_cache(maxsize=1)
def find_browser() -> str | None:
    """Path of a Chromium/Chrome kaleido can drive (``BROWSER_PATH`` wins), or None."""
    env = os.environ.get("BROWSER_PATH")
    if env and os.path.exists(env):
        return env
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def png_available() -> tuple[bool, str]:
    """(True, "") when PNG export can work here, else (False, the reason to show)."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return False, "PNG export needs the kaleido package (pip install kaleido)."
    if find_browser() is None:
        return False, NO_BROWSER
    return True, ""


def to_png(fig, width: int = 1200, height: int | None = None, scale: float = 1.0) -> bytes:
    """``fig`` as PNG bytes. Raises :class:`FigureExportError` (never a raw kaleido error)."""
    ok, why = png_available()
    if not ok:
        raise FigureExportError(why)
    browser = find_browser()
    if browser and not os.environ.get("BROWSER_PATH"):
        os.environ["BROWSER_PATH"] = browser   # choreographer looks here first
    height = height or int(fig.layout.height or 500)
    try:
        return fig.to_image(format="png", width=width, height=height, scale=scale)
    except Exception as exc:   # kaleido/choreographer raise many kinds; the analyst needs one message
        raise FigureExportError(f"PNG export failed ({type(exc).__name__}: {str(exc)[:200]}); "
                                "download the chart as HTML instead.") from None
