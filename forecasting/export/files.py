"""Writing output files whole or not at all.

Every file the CLI (and the report writer) produces goes to a temporary file beside the target and is
renamed over it only when complete: a full disk or a killed process never leaves a truncated forecast
that looks finished. On failure the temporary file is removed and :class:`OutputError` says, in one
line, which file could not be written and why.

Spreadsheets store text as text: a series called ``=cmd|' /C calc'!A0`` is written as that string, never
as a formula. CSV files for machines stay raw (the exact ids); ``safe=True`` (the CLI's ``--safe-csv``)
neutralises formula triggers as the app's downloads do.
"""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Callable, Mapping

import pandas as pd

from forecasting.errors import OutputError

_WHY = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
        errno.EACCES: "permission denied", errno.EROFS: "the file system is read-only",
        errno.EPERM: "permission denied", errno.EISDIR: "it is a folder", errno.ENOENT: "the folder does not exist"}


def atomic_write(path: str | os.PathLike, write: Callable[[object], None], mode: str = "wb") -> Path:
    """Call ``write(fh)`` on a temporary file next to ``path``, then rename it to ``path``."""
    target = Path(path)
    folder = target.expanduser().resolve().parent
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        why = _WHY.get(exc.errno or 0, exc.strerror or type(exc).__name__)
        raise OutputError(f"cannot write {str(target)!r}: {why}; nothing was written") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return target


def write_csv(frame: pd.DataFrame, path: str | os.PathLike, *, safe: bool = False) -> Path:
    """A CSV file: raw values (for machines), or with formula triggers neutralised when ``safe``."""
    from forecasting.export.tables import safe_frame

    out = safe_frame(frame) if safe else frame
    return atomic_write(path, lambda fh: out.to_csv(fh, index=False), mode="w")


def write_excel(sheets: Mapping[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """An .xlsx workbook, one sheet per frame, every text cell stored as text (never a formula)."""
    from forecasting.export.tables import to_excel_bytes

    data = to_excel_bytes(sheets, neutralise=False)
    return atomic_write(path, lambda fh: fh.write(data))


def write_bytes(data: bytes, path: str | os.PathLike) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def write_text(text: str, path: str | os.PathLike) -> Path:
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
