"""The forecast archive: every finished forecast run of a workspace, with what made it.

A finished forecast run is never recomputed or overwritten (:func:`~forecasting.store.execute.execute_run`
refuses it; a new forecast is a new run), so the archive is simply the workspace's finished forecast
runs, each read as an :class:`ArchivedForecast`: its cutoff (the last date of the history it saw), models,
settings and data version (the stored dataset's id: a hash of the file as received, the column mapping
and the treatments). Judgmental overrides live beside it (:mod:`forecasting.store.overrides`); they never
change the stored statistical forecast.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from forecasting.store.workspace import RunRecord, StoreError, Workspace


@dataclass
class ArchivedForecast:
    run_id: str
    name: str | None
    created: float
    finished: float | None
    cutoff: pd.Timestamp            # the last date of the history the forecast saw
    models: list[str]
    horizon: int
    season_length: int | None       # as the run used it (detected when not set)
    settings: dict = field(default_factory=dict)   # the run's config as stored
    data_version: str = ""          # the stored dataset's id
    dataset: str = ""               # its name
    freq: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name or 'forecast'} · cutoff {self.cutoff.date()} · {', '.join(self.models)} · {self.run_id}"

    def to_json(self) -> dict:
        return {"run": self.run_id, "name": self.name, "cutoff": _iso(self.cutoff), "models": self.models,
                "horizon": self.horizon, "season_length": self.season_length, "data_version": self.data_version,
                "dataset": self.dataset, "freq": self.freq}


def _iso(t: pd.Timestamp) -> str:
    return str(t.date()) if t == t.normalize() else t.isoformat()


def cutoff_of(dataset) -> pd.Timestamp:
    """The last date with an observed value in ``dataset`` (a run made on it forecasts after that)."""
    df = dataset.df
    ok = df["y"].notna()
    if not ok.any():
        raise StoreError("the dataset has no observed values")
    return pd.Timestamp(df.loc[ok, "ds"].max())


def archived(ws: Workspace, rec: RunRecord) -> ArchivedForecast:
    if rec.kind != "forecast":
        raise StoreError(f"run {rec.id} is a {rec.kind}, not a forecast")
    if rec.status != "finished":
        raise StoreError(f"run {rec.id} is {rec.status}; only finished forecasts are archived")
    cfg = rec.info.get("config") or rec.config
    cutoff = rec.info.get("cutoff")
    if cutoff is None:          # finished before the archive recorded it: read it from the stored dataset
        cutoff = cutoff_of(ws.load_dataset(rec.dataset_id))
    season = cfg.get("season_length")
    ds = ws.find_dataset(rec.dataset_id)
    return ArchivedForecast(run_id=rec.id, name=rec.name, created=rec.created, finished=rec.finished,
                            cutoff=pd.Timestamp(cutoff), models=list(rec.models), horizon=int(cfg.get("horizon", 0)),
                            season_length=int(season) if season else None, settings=dict(rec.config),
                            data_version=rec.dataset_id, dataset=rec.dataset, freq=ds.freq if ds else None)


def archive(ws: Workspace) -> list[ArchivedForecast]:
    """Every finished forecast run of ``ws``, oldest first."""
    return [archived(ws, r) for r in ws.list_runs("forecast") if r.status == "finished"]


def archived_run(ws: Workspace, run_id: str) -> ArchivedForecast:
    return archived(ws, ws.get_run(run_id))
