"""Scoring the forecast archive when newer actuals arrive: accuracy by lag and forecast value added.

    from forecasting.store.accuracy import score_archive
    acc = score_archive(ws, new_dataset)        # every archived forecast the actuals cover
    acc.rows        # per run × series × model × target date: lag, actual, forecast, final, naive, abs_error
    acc.summary     # per run × model × lag: wape, bias, mae, the stairstep's WAPEs, fva_statistical, fva_final …

``forecast`` is the statistical forecast as archived, ``final`` the forecast with the planners' overrides
(:mod:`forecasting.store.overrides`), ``naive`` the seasonal naive forecast made at the same cutoff from the
history the run saw (with the run's season length), and ``abs_error`` = |final − actual|. The metrics are
in :mod:`forecasting.evaluation.by_lag`; everything is vectorised over all runs at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, Y
from forecasting.evaluation import by_lag
from forecasting.progress import ProgressCallback, report
from forecasting.store.archive import ArchivedForecast, archive, archived_run
from forecasting.store.overrides import final_forecasts
from forecasting.store.workspace import StoreError, Workspace

ROW_COLUMNS = [ID, "run", "model", "cutoff", DS, "lag", "actual", "forecast", "final", "naive", "abs_error"]
SUMMARY_COLUMNS = ["run", "model", "cutoff", "lag", "n", "n_series", "wape", "bias", "mae", "wape_naive",
                   "wape_statistical", "wape_final", "fva_statistical", "fva_final", "helped_statistical",
                   "helped_final", "series_overridden"]


@dataclass
class AccuracyResult:
    rows: pd.DataFrame                      # ROW_COLUMNS
    summary: pd.DataFrame                   # SUMMARY_COLUMNS: per run × model × lag
    runs: list[ArchivedForecast]            # the archived forecasts scored (those the actuals cover)
    skipped: list[ArchivedForecast] = field(default_factory=list)   # archived, with no actuals yet
    id_map: pd.DataFrame | None = None      # unique_id -> id columns (for the levels)
    id_cols: list[str] = field(default_factory=list)

    def by_lag(self) -> pd.DataFrame:
        """Accuracy per model × lag over every cycle (pooled)."""
        return by_lag.summarise(self.rows, ["model", "lag"])

    def per_series(self, lag: int | None = None) -> pd.DataFrame:
        """Accuracy per series × model (at one lag, or pooled over lags), worst WAPE first."""
        rows = self.rows if lag is None else self.rows[self.rows["lag"] == lag]
        out = by_lag.summarise(rows, [ID, "model"])
        return out.sort_values("wape", ascending=False, na_position="last").reset_index(drop=True)

    def by_cycle(self) -> pd.DataFrame:
        """Accuracy per cycle (run, its cutoff) × model × lag: bias over time."""
        return self.summary.sort_values(["cutoff", "model", "lag"]).reset_index(drop=True)

    def stairstep(self, keys: Sequence[str] = ("run", "model")) -> pd.DataFrame:
        """The FVA stairstep (naive → statistical → final) per group, in long form."""
        out = by_lag.stairstep(self.rows, list(keys))
        if "run" in keys:
            cut = {r.run_id: r.cutoff for r in self.runs}
            out.insert(list(keys).index("run") + 1, "cutoff", out["run"].map(cut))
        return out

    def levels(self) -> list[tuple[str, list[str]]]:
        """The levels to score: the total, each id column, and the series."""
        out: list[tuple[str, list[str]]] = [("total", [])]
        if len(self.id_cols) > 1:
            out += [(c, [c]) for c in self.id_cols]
        out.append(("series", list(self.id_cols)))
        return out

    def level_rows(self, cols: Sequence[str]) -> pd.DataFrame:
        if list(cols) == list(self.id_cols) and cols:
            return self.rows
        return by_lag.aggregate_rows(self.rows, self.id_map, cols)

    def by_level(self) -> pd.DataFrame:
        """Accuracy per level × model × lag (the total, each id column, the series)."""
        parts = []
        for name, cols in self.levels():
            s = by_lag.summarise(self.level_rows(cols), ["model", "lag"])
            s.insert(0, "level", name)
            parts.append(s)
        return pd.concat(parts, ignore_index=True)

    def tracking(self, cols: Sequence[str] | None = None) -> pd.DataFrame:
        """Tracking signal over time per series (or per group of ``cols``; ``[]``: the total) × model × lag."""
        rows = self.rows if cols is None else self.level_rows(cols)
        return by_lag.tracking_signal(rows)

    def to_json(self) -> dict:
        """What ``accuracy --json`` prints: the summary per run and lag, and the runs scored."""
        import json

        summary = self.summary.assign(cutoff=self.summary["cutoff"].map(_iso))
        return {"summary": json.loads(summary.to_json(orient="records", double_precision=15)),
                "runs": [r.to_json() for r in self.runs],
                "skipped": [r.run_id for r in self.skipped],
                "n_rows": int(len(self.rows))}


def _iso(t) -> str | None:
    if t is None or pd.isna(t):
        return None
    t = pd.Timestamp(t)
    return str(t.date()) if t == t.normalize() else t.isoformat()


def actual_frame(actuals) -> pd.DataFrame:
    """unique_id, ds, actual (observed values only) from a Dataset or a long frame."""
    df = actuals.df if hasattr(actuals, "df") else actuals
    missing = [c for c in (ID, DS, Y) if c not in df.columns]
    if missing:
        raise StoreError(f"the actuals lack column(s) {missing}")
    out = df.loc[df[Y].notna(), [ID, DS, Y]].rename(columns={Y: "actual"})
    out[ID] = out[ID].astype(str)
    return out.drop_duplicates([ID, DS], keep="last")


class Actuals:
    """The actuals indexed once for every run's lookups: (series, date) -> value, on integer keys."""

    def __init__(self, frame: pd.DataFrame):
        code, uniq = pd.factorize(frame[ID].to_numpy())
        self.ids = pd.Index(uniq)
        self.dates = np.unique(frame[DS].to_numpy())
        d = np.searchsorted(self.dates, frame[DS].to_numpy())
        self.keys = pd.Index(code.astype(np.int64) * max(len(self.dates), 1) + d)
        self.values = frame["actual"].to_numpy(dtype=float)

    def lookup(self, ids: np.ndarray, ds: np.ndarray) -> np.ndarray:
        """The actual of each (id, date), NaN where there is none."""
        inv, u = pd.factorize(np.asarray(ids, dtype=object))
        c = self.ids.get_indexer(u)[inv] if len(u) else np.zeros(0, dtype=np.int64)
        ds = np.asarray(ds, dtype=self.dates.dtype) if len(self.dates) else np.asarray(ds)
        d = np.searchsorted(self.dates, ds)
        ok = (c >= 0) & (d < len(self.dates))
        ok[ok] = self.dates[d[ok]] == ds[ok]
        out = np.full(c.size, np.nan)
        pos = self.keys.get_indexer(c[ok].astype(np.int64) * max(len(self.dates), 1) + d[ok])
        vals = np.where(pos >= 0, self.values[np.maximum(pos, 0)], np.nan)
        out[ok] = vals
        return out


def score_run(ws: Workspace, arch: ArchivedForecast, actual, history: "by_lag.History | None" = None) -> pd.DataFrame:
    """The scored rows of one archived forecast (only the dates the actuals cover). ``actual``: an
    :class:`Actuals` (or a frame for :func:`actual_frame`); ``history``: the run's dataset, indexed."""
    if not isinstance(actual, Actuals):
        actual = Actuals(actual_frame(actual))
    fc = final_forecasts(ws, arch.run_id)
    fc = by_lag.with_lags(fc[[ID, DS, "model", "forecast", "final"]])
    a = actual.lookup(fc[ID].to_numpy(), fc[DS].to_numpy())
    keep = np.isfinite(a)
    if not keep.any():
        return pd.DataFrame(columns=ROW_COLUMNS)
    rows = fc[keep].reset_index(drop=True)
    rows["actual"] = a[keep]
    if history is None:
        history = by_lag.History(ws.dataset_frame(arch.data_version, [ID, DS, Y]))
    codes = history.codes(rows[ID].to_numpy())
    rows["naive"] = history.seasonal_naive(codes, rows["lag"].to_numpy(), arch.season_length or 1)
    cut = history.cutoffs(codes)
    rows["cutoff"] = np.where(pd.isna(cut), np.datetime64(arch.cutoff, "ns"), cut)
    rows["run"] = arch.run_id
    rows["abs_error"] = np.abs(rows["final"].to_numpy(dtype=float) - rows["actual"].to_numpy())
    return rows[ROW_COLUMNS]


def score_archive(ws: Workspace, actuals, runs: Sequence[str] | None = None,
                  progress: ProgressCallback | None = None) -> AccuracyResult:
    """Score every archived forecast of ``ws`` (or the ``runs`` named) that ``actuals`` (a Dataset or a long
    frame with unique_id, ds, y) cover, by lag, against its naive and final forecasts."""
    arch = archive(ws) if runs is None else [archived_run(ws, r) for r in runs]
    actual = Actuals(actual_frame(actuals))
    histories: dict[str, by_lag.History] = {}
    parts, scored, skipped = [], [], []
    for i, a in enumerate(arch):
        report(progress, "accuracy", i, len(arch), f"scoring {a.label}")
        if a.data_version not in histories:
            histories[a.data_version] = by_lag.History(ws.dataset_frame(a.data_version, [ID, DS, Y]))
        rows = score_run(ws, a, actual, histories[a.data_version])
        if rows.empty:
            skipped.append(a)
            continue
        parts.append(rows)
        scored.append(a)
    report(progress, "accuracy", len(arch), len(arch), f"scored {len(scored)} archived forecast(s)")
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ROW_COLUMNS)
    if parts:
        summary = by_lag.summarise(rows, ["run", "model", "lag"])
        summary.insert(2, "cutoff", summary["run"].map({a.run_id: a.cutoff for a in scored}))
        order = {a.run_id: i for i, a in enumerate(scored)}
        summary = summary.sort_values(["run", "model", "lag"], key=lambda c: c.map(order) if c.name == "run" else c)
        summary = summary[SUMMARY_COLUMNS].reset_index(drop=True)
    else:
        summary = pd.DataFrame(columns=SUMMARY_COLUMNS)
    id_map, id_cols = _id_map(actuals, [ws.find_dataset(a.data_version) for a in scored], ws)
    return AccuracyResult(rows, summary, scored, skipped, id_map, id_cols)


def _id_map(actuals, records, ws: Workspace) -> tuple[pd.DataFrame | None, list[str]]:
    """unique_id -> id columns, from the actuals (a Dataset) and the scored runs' stored datasets."""
    import json

    maps, cols = [], []
    if getattr(actuals, "id_map", None) is not None and getattr(actuals, "id_cols", None):
        cols = list(actuals.id_cols)
        maps.append(actuals.id_map[[ID] + cols])
    for rec in {r.id: r for r in records if r is not None}.values():
        folder = ws.path / "datasets" / rec.id
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        rec_cols = list(meta.get("id_cols") or [])
        if not rec_cols or (folder / "id_map.parquet").exists() is False:
            continue
        if not cols:
            cols = rec_cols
        if rec_cols == cols:
            maps.append(pd.read_parquet(folder / "id_map.parquet")[[ID] + cols])
    if not maps:
        return None, []
    return pd.concat(maps, ignore_index=True).drop_duplicates(ID, keep="first").reset_index(drop=True), cols


__all__ = ["AccuracyResult", "score_archive", "score_run", "actual_frame", "ROW_COLUMNS", "SUMMARY_COLUMNS"]
