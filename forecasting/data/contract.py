"""The one data contract every step after ingest trusts.

A *long frame*: one row per series and timestamp, columns

- ``unique_id`` (str): the series key. For several id columns it is their values joined with ``" / "``;
  for a single series it is ``"total"``.
- ``ds`` (datetime64[ns], tz-naive): the period start, on a regular grid of ``freq``.
- ``y`` (float64): the target (NaN where missing).
- any other column: a numeric covariate (promotion, price, holiday flag …).

It is the layout statsforecast and neuralforecast use, so frames pass between them unchanged.
The frame is sorted by (unique_id, ds) and has no duplicated (unique_id, ds) pairs.

:class:`Dataset` wraps the frame with what was learned while reading it (original column names,
the id columns for display/export, the frequency) so exports can restore the analyst's names.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.errors import DataError

ID, DS, Y = "unique_id", "ds", "y"
SINGLE_SERIES_ID = "total"
ID_SEPARATOR = " / "


@dataclass
class Dataset:
    df: pd.DataFrame                     # the long frame (see module docstring)
    freq: str                            # pandas offset alias, e.g. "D", "W-SUN", "MS", "QS-JAN"
    date_col: str = "date"               # the analyst's original column names
    target_col: str = "y"
    id_cols: list[str] = field(default_factory=list)   # original id columns; [] for one series
    id_map: pd.DataFrame | None = None   # unique_id -> original id column values (one row per series)
    covariates: list[str] = field(default_factory=list)
    source: str = ""                     # file name, for reports
    notes: list[str] = field(default_factory=list)     # what ingest did (aggregation, parsing choices)

    @property
    def n_series(self) -> int:
        return int(self.df[ID].nunique())

    @property
    def series_ids(self) -> list[str]:
        return list(pd.unique(self.df[ID]))

    def series(self, uid: str) -> pd.DataFrame:
        return self.df[self.df[ID] == uid]

    def with_df(self, df: pd.DataFrame) -> "Dataset":
        """A copy of this dataset around another long frame (after a treatment or a filter)."""
        ds = Dataset(**{**self.__dict__, "df": df})
        if ds.id_map is not None:
            ds.id_map = ds.id_map[ds.id_map[ID].isin(df[ID].unique())].reset_index(drop=True)
        return ds

    def restore_ids(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Replace ``unique_id`` in a result frame by the analyst's id column(s) (or ``series``).

        Used by every export and CLI output so they speak the input's language."""
        if not self.id_cols or self.id_map is None:
            out = frame.rename(columns={ID: "series"})
            return out
        out = frame.merge(self.id_map, on=ID, how="left")
        front = list(self.id_cols)
        rest = [c for c in out.columns if c not in front and c != ID]
        return out[front + rest]


def make_unique_id(frame: pd.DataFrame, id_cols: list[str]) -> pd.Series:
    if not id_cols:
        return pd.Series(SINGLE_SERIES_ID, index=frame.index)
    parts = [frame[c].astype(str) for c in id_cols]
    uid = parts[0]
    for p in parts[1:]:
        uid = uid + ID_SEPARATOR + p
    return uid


def validate_long(df: pd.DataFrame) -> pd.DataFrame:
    """Check a long frame against the contract; return it sorted with canonical dtypes.

    Raises :class:`DataError` with a readable message when the frame breaks the contract."""
    missing = [c for c in (ID, DS, Y) if c not in df.columns]
    if missing:
        raise DataError(f"the long frame lacks column(s) {missing}; it needs unique_id, ds and y")
    out = df.copy()
    out[ID] = out[ID].astype(str)
    if not pd.api.types.is_datetime64_any_dtype(out[DS]):
        raise DataError("column 'ds' must hold dates")
    if getattr(out[DS].dt, "tz", None) is not None:
        out[DS] = out[DS].dt.tz_localize(None)
    out[DS] = out[DS].astype("datetime64[ns]")
    if out[DS].isna().any():
        raise DataError(f"{int(out[DS].isna().sum())} row(s) have no date")
    try:
        out[Y] = pd.to_numeric(out[Y]).astype("float64")
    except (TypeError, ValueError) as exc:
        raise DataError(f"column 'y' must be numeric: {exc}") from None
    if np.isinf(out[Y].to_numpy()).any():
        raise DataError(f"column 'y' holds {int(np.isinf(out[Y]).sum())} infinite value(s)")
    for c in out.columns:
        if c in (ID, DS, Y):
            continue
        if not pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c]):
            raise DataError(f"covariate column '{c}' is not numeric")
    if out.duplicated([ID, DS]).any():
        n = int(out.duplicated([ID, DS]).sum())
        raise DataError(f"{n} duplicated (series, date) pair(s); aggregate them first")
    return out.sort_values([ID, DS], kind="stable").reset_index(drop=True)


def covariate_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in (ID, DS, Y)]
