"""A workspace: datasets and runs kept in a folder (files) and a database (metadata).

Layout of the folder::

    workspace.json            its id (128 random bits) and owner
    salescast.db              the SQLite database (absent when SALESCAST_DATABASE_URL is set)
    files/<sha256>            uploaded files as received, content-addressed
    datasets/<id>/            frame.parquet (the cleaned long frame), id_map.parquet, meta.json
    runs/<id>/parts/<n>/      results of finished partitions, written as they finish
    runs/<id>/journal/<n>.jsonl  a serial run's latest finished series, one line each (see ``journal``)
    runs/<id>/result/         the final frames of a finished (or stopped) run

Every file is written under a temporary name and renamed into place, and registered in the database
only after that, so a crash never leaves a half-written dataset or result that the store would read.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import sqlalchemy as sa

from forecasting.errors import SalesCastError
from forecasting.store import db
from forecasting.store.files import (JournalWriter, canonical_json, copy_atomic, decode_result, encode_result,
                                     journal_series, merge_results, read_journal, sha256_bytes, sha256_file, write_bytes_atomic,
                                     write_folder_atomic, write_json_atomic, write_parquet_atomic)

KINDS = ("backtest", "forecast")
STATUSES = ("queued", "running", "finished", "stopped", "interrupted", "failed")
ACTIVE = ("queued", "running")
STALE_SECONDS = 90.0     # a running run whose heartbeat is older (on another host) is interrupted


class StoreError(SalesCastError):
    """A workspace, dataset or run is missing or cannot be used as asked."""


class UnknownRun(StoreError, KeyError):
    def __str__(self) -> str:       # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def home() -> Path:
    """``SALESCAST_HOME`` (default ``~/.salescast``): where the app keeps its workspaces."""
    return Path(os.environ.get("SALESCAST_HOME") or Path.home() / ".salescast").expanduser()


def new_id(bits: int = 128) -> str:
    return secrets.token_hex(bits // 8)


@dataclass
class DatasetRecord:
    id: str
    name: str
    raw_hash: str
    raw_bytes: int
    mapping: dict
    treatments: Any
    n_rows: int
    n_series: int
    freq: str | None
    created: float


@dataclass
class RunRecord:
    id: str
    kind: str
    name: str | None
    status: str
    dataset_id: str
    dataset: str
    config: dict
    models: list[str]
    n_series: int
    series_done: int
    created: float
    started: float | None
    finished: float | None
    device: str | None = None
    versions: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    error: str | None = None
    host: str | None = None
    pid: int | None = None
    stop_requested: bool = False

    @property
    def duration_s(self) -> float | None:
        if self.started is None:
            return None
        end = self.finished if self.finished is not None else (time.time() if self.status == "running" else None)
        return None if end is None else max(0.0, end - self.started)

    def to_json(self) -> dict:
        """The fields of ``runs list --json`` / ``runs show --json`` (times in ISO 8601, UTC)."""
        return {"id": self.id, "kind": self.kind, "name": self.name, "status": self.status,
                "created": _iso(self.created), "started": _iso(self.started), "finished": _iso(self.finished),
                "dataset": self.dataset, "dataset_id": self.dataset_id, "n_series": self.n_series,
                "series_done": self.series_done, "models": self.models, "device": self.device,
                "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
                "error": self.error}


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return pd.Timestamp(t, unit="s", tz="UTC").isoformat(timespec="seconds").replace("+00:00", "Z")


def _proc_started(pid: int) -> float | None:
    try:
        import psutil

        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:     # ended, not reaped yet by its parent (the app server)
            return None
        return float(proc.create_time())
    except Exception:
        return None


def open_workspace(path: str | os.PathLike, *, create: bool = True, owner: str | None = None,
                   ws_id: str | None = None) -> "Workspace":
    """Open the workspace in folder ``path`` (created, with ``ws_id`` or a new random id, when missing and
    ``create``)."""
    folder = Path(path).expanduser().resolve()
    meta_file = folder / "workspace.json"
    if not meta_file.exists():
        if not create:
            raise StoreError(f"no workspace at {folder}")
        if folder.exists() and not folder.is_dir():
            raise StoreError(f"{folder} is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(meta_file, {"id": ws_id or new_id(), "created": time.time(), "owner": owner})
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    ws = Workspace(folder, meta["id"], meta.get("owner"))
    with ws.engine.begin() as conn:
        if conn.execute(sa.select(db.workspaces.c.id).where(db.workspaces.c.id == ws.id)).first() is None:
            conn.execute(db.workspaces.insert().values(id=ws.id, owner=meta.get("owner"), path=str(folder),
                                                       created=float(meta.get("created") or time.time())))
    return ws


class Workspace:
    def __init__(self, folder: Path, ws_id: str, owner: str | None = None):
        self.path, self.id, self.owner = folder, ws_id, owner
        self.url = db.database_url(folder)
        self.engine = db.engine_for(self.url)

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r}, id={self.id})"

    # ---- app state (current dataset and settings) ----------------------------------------------------
    def get_state(self) -> dict:
        with self.engine.connect() as conn:
            v = conn.execute(sa.select(db.workspaces.c.state).where(db.workspaces.c.id == self.id)).scalar()
        return json.loads(v) if v else {}

    def set_state(self, state: dict) -> None:
        with self.engine.begin() as conn:
            conn.execute(db.workspaces.update().where(db.workspaces.c.id == self.id)
                         .values(state=json.dumps(state, default=str)))

    def disk_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    # ---- datasets ------------------------------------------------------------------------------------
    def add_dataset(self, dataset, *, raw: bytes | str | os.PathLike | None, name: str, mapping: dict,
                    treatments: Any = None, raw_hash: str | None = None) -> DatasetRecord:
        """Keep ``dataset`` (a :class:`~forecasting.data.contract.Dataset`, the cleaned long frame) with the
        file it came from (bytes or a path; None when it was built in memory), the column mapping and the
        treatments. The id is the hash of (file, mapping, treatments): the same upload with the same
        choices is recognised and not stored twice."""
        treatments = [] if treatments is None else treatments
        if raw is None:      # built in memory: identified by ``raw_hash`` (e.g. a hash of the frame)
            raw_hash, raw_size = raw_hash or sha256_bytes(dataset.df.to_csv(index=False).encode("utf-8")), 0
        elif isinstance(raw, (bytes, bytearray)):
            raw_hash, raw_size = sha256_bytes(bytes(raw)), len(raw)
        else:
            raw_hash, raw_size = sha256_file(raw)
        ds_id = sha256_bytes(f"{raw_hash}\n{canonical_json(mapping)}\n{canonical_json(treatments)}".encode())[:32]
        existing = self.find_dataset(ds_id)
        if existing is not None:
            return existing
        if raw is not None:
            target = self.path / "files" / raw_hash
            if not target.exists():
                if isinstance(raw, (bytes, bytearray)):
                    write_bytes_atomic(target, bytes(raw))
                else:
                    copy_atomic(raw, target)

        def write(tmp: Path) -> None:
            dataset.df.to_parquet(tmp / "frame.parquet", index=False)
            if dataset.id_map is not None:
                dataset.id_map.to_parquet(tmp / "id_map.parquet", index=False)
            meta = {"freq": dataset.freq, "date_col": dataset.date_col, "target_col": dataset.target_col,
                    "id_cols": list(dataset.id_cols), "covariates": list(dataset.covariates),
                    "source": dataset.source, "notes": list(dataset.notes), "raw_name": name}
            (tmp / "meta.json").write_text(json.dumps(meta, default=str), encoding="utf-8")

        write_folder_atomic(self.path / "datasets" / ds_id, write)
        rec = dict(workspace_id=self.id, id=ds_id, name=name, raw_hash=raw_hash, raw_bytes=raw_size,
                   mapping=canonical_json(mapping), treatments=canonical_json(treatments),
                   n_rows=int(len(dataset.df)), n_series=int(dataset.n_series), freq=dataset.freq,
                   created=time.time())
        try:
            with self.engine.begin() as conn:
                conn.execute(db.datasets.insert().values(**rec))
        except sa.exc.IntegrityError:      # stored meanwhile by another process
            pass
        return self.get_dataset(ds_id)

    def find_dataset(self, ds_id: str) -> DatasetRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.datasets).where(db.datasets.c.workspace_id == self.id,
                                                            db.datasets.c.id == ds_id)).mappings().first()
        return None if row is None else _dataset_record(row)

    def get_dataset(self, ds_id: str) -> DatasetRecord:
        rec = self.find_dataset(ds_id)
        if rec is None:
            raise StoreError(f"no dataset '{ds_id}' in this workspace")
        return rec

    def list_datasets(self) -> list[DatasetRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(db.datasets).where(db.datasets.c.workspace_id == self.id)
                                .order_by(db.datasets.c.created.desc())).mappings().all()
        return [_dataset_record(r) for r in rows]

    def find_by_file_hash(self, raw_hash: str) -> list[DatasetRecord]:
        return [d for d in self.list_datasets() if d.raw_hash == raw_hash]

    def raw_file(self, ds_id: str) -> Path:
        return self.path / "files" / self.get_dataset(ds_id).raw_hash

    def load_dataset(self, ds_id: str):
        """The stored :class:`~forecasting.data.contract.Dataset` (cleaned long frame and its metadata)."""
        from forecasting.data.contract import Dataset

        folder = self.path / "datasets" / ds_id
        if not (folder / "meta.json").exists():
            raise StoreError(f"dataset '{ds_id}' has no files in {self.path}")
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        df = pd.read_parquet(folder / "frame.parquet")
        id_map = pd.read_parquet(folder / "id_map.parquet") if (folder / "id_map.parquet").exists() else None
        return Dataset(df=df, freq=meta["freq"], date_col=meta["date_col"], target_col=meta["target_col"],
                       id_cols=list(meta["id_cols"]), id_map=id_map, covariates=list(meta["covariates"]),
                       source=meta.get("source", ""), notes=list(meta.get("notes", [])))

    def dataset_frame(self, ds_id: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Only the stored long frame of a dataset (some ``columns``; ``unique_id`` read as a category)."""
        f = self.path / "datasets" / ds_id / "frame.parquet"
        if not f.exists():
            raise StoreError(f"dataset '{ds_id}' has no files in {self.path}")
        return pd.read_parquet(f, columns=columns, read_dictionary=["unique_id"])

    def delete_dataset(self, ds_id: str) -> None:
        rec = self.get_dataset(ds_id)
        if any(r.dataset_id == ds_id for r in self.list_runs()):
            raise StoreError("runs use this dataset; delete them first")
        with self.engine.begin() as conn:
            conn.execute(db.datasets.delete().where(db.datasets.c.workspace_id == self.id,
                                                    db.datasets.c.id == ds_id))
        shutil.rmtree(self.path / "datasets" / ds_id, ignore_errors=True)
        if not self.find_by_file_hash(rec.raw_hash):
            (self.path / "files" / rec.raw_hash).unlink(missing_ok=True)

    # ---- runs ----------------------------------------------------------------------------------------
    def create_run(self, kind: str, dataset_id: str, config: dict, *, name: str | None = None,
                   status: str = "queued") -> str:
        if kind not in KINDS:
            raise StoreError(f"unknown run kind '{kind}'")
        ds = self.get_dataset(dataset_id)
        models = list(config.get("models") or config.get("model") or [])
        if isinstance(models, str):
            models = [m.strip() for m in models.split(",") if m.strip()]
        run_id = new_id(64)
        with self.engine.begin() as conn:
            conn.execute(db.runs.insert().values(
                id=run_id, workspace_id=self.id, kind=kind, name=name, status=status, dataset_id=dataset_id,
                config=json.dumps(config, default=str), models=json.dumps(models), n_series=ds.n_series,
                series_done=0, created=time.time(), stop_requested=False))
        return run_id

    def _rows(self, where) -> list[RunRecord]:
        q = (sa.select(db.runs, db.datasets.c.name.label("dataset_name"))
             .select_from(db.runs.outerjoin(db.datasets, sa.and_(db.datasets.c.id == db.runs.c.dataset_id,
                                                                  db.datasets.c.workspace_id == db.runs.c.workspace_id)))
             .where(db.runs.c.workspace_id == self.id, where).order_by(db.runs.c.created))
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        out = [_run_record(r) for r in rows]
        stale = [r for r in out if r.status == "running" and self._is_dead(r)]
        for r in stale:         # what is kept is what was stored: progress reported after the last write is not
            r.status, r.series_done = "interrupted", self.series_stored(r.id)
            self._set(r.id, status="interrupted", series_done=r.series_done)
        return out

    def _is_dead(self, r: RunRecord) -> bool:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.runs.c.host, db.runs.c.pid, db.runs.c.pid_started, db.runs.c.heartbeat)
                               .where(db.runs.c.id == r.id)).first()
        host, pid, pid_started, heartbeat = row
        if host == socket.gethostname() and pid:
            started = _proc_started(int(pid))
            return started is None or (pid_started is not None and abs(started - pid_started) > 1.0)
        return heartbeat is None or time.time() - heartbeat > STALE_SECONDS

    def list_runs(self, kind: str | None = None) -> list[RunRecord]:
        return self._rows(db.runs.c.kind == kind if kind else sa.true())

    def get_run(self, run_id: str) -> RunRecord:
        rows = self._rows(db.runs.c.id == str(run_id))
        if not rows:
            raise UnknownRun(f"no run '{run_id}' in the workspace at {self.path}")
        return rows[0]

    def _set(self, run_id: str, **values: Any) -> None:
        for k in ("versions", "timings", "info"):
            if k in values and not isinstance(values[k], str) and values[k] is not None:
                values[k] = json.dumps(values[k], default=str)
        with self.engine.begin() as conn:
            conn.execute(db.runs.update().where(db.runs.c.id == run_id).values(**values))

    def rename_run(self, run_id: str, name: str) -> None:
        self.get_run(run_id)
        self._set(run_id, name=str(name)[:200])

    def request_stop(self, run_id: str) -> None:
        self.get_run(run_id)
        self._set(run_id, stop_requested=True)

    def stop_requested(self, run_id: str) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.execute(sa.select(db.runs.c.stop_requested).where(db.runs.c.id == run_id)).scalar())

    def mark_running(self, run_id: str) -> None:
        pid = os.getpid()
        rec = self.get_run(run_id)
        now = time.time()
        self._set(run_id, status="running", started=rec.started or now, finished=None, heartbeat=now,
                  host=socket.gethostname(), pid=pid, pid_started=_proc_started(pid), error=None,
                  stop_requested=False)

    def heartbeat(self, run_id: str, series_done: int | None = None) -> bool:
        """Touch a live run's row (and its ``series_done``); returns whether Stop was asked, read in the same
        transaction (one round trip to the database)."""
        values: dict[str, Any] = {"heartbeat": time.time()}
        if series_done is not None:
            values["series_done"] = int(series_done)
        with self.engine.begin() as conn:
            conn.execute(db.runs.update().where(db.runs.c.id == run_id).values(**values))
            return bool(conn.execute(sa.select(db.runs.c.stop_requested).where(db.runs.c.id == run_id)).scalar())

    def delete_run(self, run_id: str) -> None:
        rec = self.get_run(run_id)
        if rec.status == "running":
            raise StoreError(f"run {run_id} is running; stop it first")
        with self.engine.begin() as conn:
            for t in (db.run_parts, db.run_fallbacks):
                conn.execute(t.delete().where(t.c.run_id == run_id))
            conn.execute(db.runs.delete().where(db.runs.c.id == run_id))
            # the overrides' audit trail goes with its run (and only then: the database refuses it before)
            for t in (db.override_cells, db.overrides):
                conn.execute(t.delete().where(t.c.run_id == run_id))
        shutil.rmtree(self.path / "runs" / run_id, ignore_errors=True)

    # ---- results -------------------------------------------------------------------------------------
    def add_part(self, run_id: str, what: str, series: Iterable[str], result: dict, *,
                 part_id: str | None = None) -> None:
        """Keep one finished piece of a run (files first, then the database row that points at them).
        ``part_id``: the folder's name (a compacted journal's, so readers know that journal is in a part)."""
        series = [str(s) for s in series]
        rel = Path("runs") / run_id / "parts" / (part_id or new_id(64))
        write_folder_atomic(self.path / rel, lambda tmp: encode_result(result, tmp))
        fallbacks = [{"run_id": run_id, "unique_id": str(r.get("unique_id")), "model": str(r.get("model")),
                      "message": str(r.get("fallback"))} for r in (result.get("info") or []) if r.get("fallback")]
        with self.engine.begin() as conn:
            conn.execute(db.run_parts.insert().values(run_id=run_id, what=what, series=json.dumps(series),
                                                      n_series=len(series), folder=rel.as_posix(),
                                                      created=time.time()))
            if fallbacks:
                conn.execute(db.run_fallbacks.insert(), fallbacks)

    # A serial run finishes one series at a time. Writing each as a part (a folder of Parquet files and a
    # database row) would cost more than fitting cheap models; waiting to write several loses them when the
    # process is killed. So each finished series is appended to the run's journal (one line, one write()
    # call, no fsync: a killed process loses nothing the kernel has), and every few seconds the journal's
    # lines become one part named after the journal file, which is then deleted. Readers count a journal
    # file only while no part carries its name, so a series is never counted twice nor lost in between.
    def journal(self, run_id: str) -> JournalWriter:
        """A new journal file for the finished series of run ``run_id``."""
        return JournalWriter(self.path / "runs" / run_id / "journal" / f"{new_id(64)}.jsonl")

    def _journal_files(self, run_id: str, in_parts: set[str] | None = None) -> list[Path]:
        """The run's journal files whose lines are not in a part yet (``in_parts``: the run's part folders,
        read from the database after the files were listed)."""
        folder = self.path / "runs" / run_id / "journal"
        files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
        if not files:
            return []
        if in_parts is None:
            with self.engine.connect() as conn:
                in_parts = set(conn.execute(sa.select(db.run_parts.c.folder)
                                            .where(db.run_parts.c.run_id == run_id)).scalars())
        return [f for f in files if f"runs/{run_id}/parts/{f.stem}" not in in_parts]

    def compact_journal(self, run_id: str) -> int:
        """Turn a stopped or killed run's journal files into parts (call only when no process writes the run).
        Returns the series moved."""
        moved = 0
        for f in self._journal_files(run_id):
            lines = read_journal(f)
            if lines:
                self.add_part(run_id, "local", [s for ss, _ in lines for s in ss],
                              merge_results([r for _, r in lines]), part_id=f.stem)
                moved += sum(len(ss) for ss, _ in lines)
            f.unlink(missing_ok=True)
        folder = self.path / "runs" / run_id / "journal"
        if folder.is_dir():          # files already in a part (the writer was killed before deleting them)
            for f in folder.glob("*.jsonl"):
                f.unlink(missing_ok=True)
        return moved

    def parts(self, run_id: str) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(db.run_parts).where(db.run_parts.c.run_id == run_id)
                                .order_by(db.run_parts.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def prior_results(self, run_id: str):
        """What a run has already stored, as :class:`~forecasting.progress.PriorResults` for resuming."""
        from forecasting.progress import PriorResults

        prior = PriorResults()
        for p in self.parts(run_id):
            prior.results.append(decode_result(self.path / p["folder"]))
            if p["what"] == "local":
                prior.series.update(json.loads(p["series"]))
            else:
                prior.models.add(p["what"])
        for f in self._journal_files(run_id):
            lines = read_journal(f)
            if lines:
                prior.results.append(merge_results([r for _, r in lines]))
                prior.series.update(s for ss, _ in lines for s in ss)
        return prior

    def series_stored(self, run_id: str) -> int:
        """Series whose results are kept: in parts, and in journal lines not in a part yet. The journal files
        are listed before the parts are read (one query), so a file compacted meanwhile is not counted twice."""
        folder = self.path / "runs" / run_id / "journal"
        listed = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(db.run_parts.c.folder, db.run_parts.c.what, db.run_parts.c.n_series)
                                .where(db.run_parts.c.run_id == run_id)).all()
        n = sum(int(k) for _, what, k in rows if what == "local")
        in_parts = {f for f, _, _ in rows}
        return n + sum(journal_series(f) for f in listed if f"runs/{run_id}/parts/{f.stem}" not in in_parts)

    def fallbacks(self, run_id: str) -> pd.DataFrame:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(db.run_fallbacks.c.unique_id, db.run_fallbacks.c.model,
                                          db.run_fallbacks.c.message)
                                .where(db.run_fallbacks.c.run_id == run_id).order_by(db.run_fallbacks.c.id)).all()
        return pd.DataFrame(rows, columns=["unique_id", "model", "fallback"])

    def save_result(self, run_id: str, frames: dict[str, pd.DataFrame | None]) -> None:
        def write(tmp: Path) -> None:
            for key, frame in frames.items():
                if frame is not None:
                    frame.to_parquet(tmp / f"{key}.parquet", index=False)

        write_folder_atomic(self.path / "runs" / run_id / "result", write)

    def run_frames(self, run_id: str) -> dict[str, pd.DataFrame]:
        """The stored result frames of a run: a backtest's ``metrics``, ``summary``, ``forecasts``,
        ``total``; a forecast's ``forecasts``, ``settings`` (and ``attention``). Empty when the run has
        not finished (or stopped) yet."""
        self.get_run(run_id)
        folder = self.path / "runs" / run_id / "result"
        if not folder.is_dir():
            return {}
        return {f.stem: pd.read_parquet(f) for f in sorted(folder.glob("*.parquet"))}

    def run_forecasts(self, run_id: str) -> pd.DataFrame | None:
        self.get_run(run_id)
        f = self.path / "runs" / run_id / "result" / "forecasts.parquet"
        return pd.read_parquet(f) if f.exists() else None


def _dataset_record(row) -> DatasetRecord:
    return DatasetRecord(id=row["id"], name=row["name"], raw_hash=row["raw_hash"], raw_bytes=int(row["raw_bytes"]),
                         mapping=json.loads(row["mapping"]), treatments=json.loads(row["treatments"]),
                         n_rows=int(row["n_rows"]), n_series=int(row["n_series"]), freq=row["freq"],
                         created=float(row["created"]))


def _run_record(row) -> RunRecord:
    def j(v, default):
        return json.loads(v) if v else default

    return RunRecord(id=row["id"], kind=row["kind"], name=row["name"], status=row["status"],
                     dataset_id=row["dataset_id"], dataset=row["dataset_name"] or row["dataset_id"],
                     config=j(row["config"], {}), models=j(row["models"], []), n_series=int(row["n_series"]),
                     series_done=int(row["series_done"] or 0), created=float(row["created"]),
                     started=row["started"], finished=row["finished"], device=row["device"],
                     versions=j(row["versions"], {}), timings=j(row["timings"], {}), info=j(row["info"], {}),
                     error=row["error"], host=row["host"], pid=row["pid"],
                     stop_requested=bool(row["stop_requested"]))


__all__ = ["Workspace", "open_workspace", "RunRecord", "DatasetRecord", "StoreError", "UnknownRun", "home",
           "merge_results", "write_parquet_atomic"]
