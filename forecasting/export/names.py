"""Safe download file names.

Every name offered for download (or written by the report zip) goes through :func:`safe_filename`:
user strings such as series ids or uploaded file names may hold path separators, control characters,
reserved Windows names or quotes that would break a ``Content-Disposition`` header.
"""
from __future__ import annotations

import re
import unicodedata

_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_LEN = 120


def safe_stem(text: str, default: str = "salescast") -> str:
    """A file-name stem with only ``A-Z a-z 0-9 . _ -``; never empty, hidden or a reserved device name."""
    norm = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    stem = _UNSAFE.sub("_", norm).strip("._-")
    stem = re.sub(r"_{2,}", "_", stem)
    stem = re.sub(r"\.{2,}", ".", stem)[:MAX_LEN].strip("._-")
    if not stem or stem.split(".")[0].lower() in _RESERVED:
        stem = f"{default}_{stem}" if stem else default
    return stem


def safe_filename(text: str, ext: str, default: str = "salescast") -> str:
    """``safe_stem(text) + "." + ext``, e.g. ``safe_filename("../../etc/passwd", "csv") == "etc_passwd.csv"``."""
    ext = _UNSAFE.sub("", ext.lstrip(".")).lower() or "bin"
    stem = safe_stem(text, default)
    if stem.lower().endswith("." + ext):
        stem = stem[: -len(ext) - 1] or default
    return f"{stem}.{ext}"


def download_name(source: str, what: str, ext: str) -> str:
    """Name for a download derived from the dataset's source file: ``sales_forecast.csv``."""
    base = source.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if "." in base:
        base = base.rsplit(".", 1)[0]
    base = safe_stem(base, "") if base else ""
    label = safe_stem(what, "export")
    return safe_filename(f"{base}_{label}" if base else label, ext)

