"""What the analyst looks at: the total, one series per level of an id column, or the series as they are."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from forecasting.data.contract import DS, ID, Y, Dataset
from forecasting.data.outliers import flag_columns
from forecasting.errors import ConfigError

TOTAL, BY_COLUMN, SERIES = "total", "column", "series"


@dataclass
class Aggregated:
    frame: pd.DataFrame              # long frame: unique_id, ds, y (one series per level); 0/1 covariates for SERIES
    label: str                       # e.g. "Total of 12 series", "Per store", "Each series"
    notes: list[str] = field(default_factory=list)

    @property
    def series_ids(self) -> list[str]:
        return list(pd.unique(self.frame[ID]))


def aggregation_choices(dataset: Dataset) -> list[tuple[str, str | None]]:
    """(kind, column) pairs that make sense for this dataset, the total first."""
    if dataset.n_series <= 1:
        return [(SERIES, None)]
    choices: list[tuple[str, str | None]] = [(TOTAL, None)]
    if len(dataset.id_cols) > 1 and dataset.id_map is not None:
        choices += [(BY_COLUMN, c) for c in dataset.id_cols]
    return choices + [(SERIES, None)]


def describe_choice(kind: str, column: str | None) -> str:
    return {TOTAL: "Total (all series summed)", SERIES: "Single series"}.get(kind, f"Per {column}")


def aggregate(dataset: Dataset, kind: str = TOTAL, column: str | None = None) -> Aggregated:
    """Sum the target over the chosen grouping, per date. A date where some series are missing sums
    the ones present; a note counts such dates so a dip from missing data is not mistaken for demand."""
    df = dataset.df[[ID, DS, Y]]
    if kind == SERIES:  # the series keep their on/off covariates (promotion, holiday): anomalies expect them
        flags = flag_columns(dataset.df, list(dataset.covariates))
        return Aggregated(dataset.df[[ID, DS, Y, *flags]].reset_index(drop=True), "Each series")
    if kind == TOTAL:
        keys = pd.Series("Total", index=df.index)
        label = f"Total of {dataset.n_series} series"
    elif kind == BY_COLUMN:
        if column not in dataset.id_cols or dataset.id_map is None:
            raise ConfigError(f"cannot aggregate per {column!r}: the id columns are {dataset.id_cols}")
        keys = df[ID].map(dataset.id_map.set_index(ID)[column]).astype(str)
        label = f"Per {column}"
    else:
        raise ConfigError(f"unknown aggregation {kind!r}; choose total, column or series")
    g = df.assign(_k=keys.to_numpy()).groupby(["_k", DS], sort=True)[Y]
    out = g.sum(min_count=1).rename(Y).reset_index().rename(columns={"_k": ID})
    present = g.count().to_numpy()
    members = df.assign(_k=keys.to_numpy()).groupby("_k")[ID].nunique()
    expected = out[ID].map(members).to_numpy()
    partial = int(((present < expected) & (present > 0)).sum())
    notes = []
    if partial:
        notes.append(f"{partial} date(s) sum only some of their series (the others are missing there)")
    return Aggregated(out[[ID, DS, Y]], label, notes)
