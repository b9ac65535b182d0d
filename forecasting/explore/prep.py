"""Turn a series with gaps into what the methods need: a regular grid, interior gaps interpolated."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, Y


@dataclass
class Prepared:
    """A series on a complete regular grid, ready for methods that cannot take gaps."""

    y: pd.Series                    # float, no NaN inside (leading/trailing gaps trimmed)
    imputed: pd.Series              # bool, True where ``y`` was interpolated
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.y)


def to_series(frame: pd.DataFrame, uid: str | None = None) -> pd.Series:
    """The ``y`` of one series of a long frame as a date-indexed Series (the only one if ``uid`` is None)."""
    if uid is not None:
        frame = frame[frame[ID] == uid]
    return pd.Series(frame[Y].to_numpy(dtype="float64"), index=pd.DatetimeIndex(frame[DS]), name=Y)


def regular(y: pd.Series, freq: str | None) -> pd.Series:
    """Reindex ``y`` to a full grid of ``freq`` between its first and last date (missing dates become NaN)."""
    y = y.astype("float64")
    if not isinstance(y.index, pd.DatetimeIndex) or not freq or len(y) < 2:
        return y
    y = y[~y.index.duplicated(keep="first")].sort_index()
    try:
        grid = pd.date_range(y.index[0], y.index[-1], freq=freq)
    except (ValueError, TypeError):
        return y
    if len(grid) < len(y) or not y.index.isin(grid).all():
        return y  # dates off the declared grid: keep them as they are rather than lose values
    return y.reindex(grid)


def prepare(y: pd.Series | np.ndarray, freq: str | None = None) -> Prepared:
    """Regular grid, leading/trailing missing values trimmed, interior gaps linearly interpolated."""
    if not isinstance(y, pd.Series):
        arr = np.asarray(y, dtype="float64")
        if arr.ndim == 1 and len(arr) and np.isfinite(arr).all():   # fast path: a plain complete array
            return Prepared(pd.Series(arr), pd.Series(np.zeros(len(arr), dtype=bool)), [])
        y = pd.Series(arr)
    y = regular(y, freq)
    notes: list[str] = []
    valid = y.notna().to_numpy()
    if not valid.any():
        return Prepared(y.iloc[:0], pd.Series([], dtype=bool), ["the series has no values"])
    first, last = int(np.argmax(valid)), len(valid) - int(np.argmax(valid[::-1]))
    if first > 0 or last < len(y):
        notes.append(f"{first + len(y) - last} missing value(s) at the start/end were left out")
    y = y.iloc[first:last]
    imputed = y.isna()
    if imputed.any():
        y = y.interpolate(method="linear", limit_direction="both")
        notes.append(f"{int(imputed.sum())} missing value(s) inside the series were linearly "
                     "interpolated (the methods need a complete grid)")
    return Prepared(y, imputed, notes)
