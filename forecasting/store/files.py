"""Files of a workspace: content hashes, atomic writes (temp file + rename), and the encoding of a
partition's result as Parquet + JSON (nothing is ever pickled)."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> tuple[str, int]:
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
            n += len(b)
    return h.hexdigest(), n


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def copy_atomic(src: str | os.PathLike, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    shutil.copyfile(src, tmp)
    os.replace(tmp, path)


def write_json_atomic(path: Path, value: Any) -> None:
    write_bytes_atomic(path, json.dumps(value, indent=1, default=str).encode("utf-8"))


def write_parquet_atomic(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def write_folder_atomic(path: Path, write) -> None:
    """Build a folder under a temporary name with ``write(tmp_folder)``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.mkdir()
    try:
        write(tmp)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---- a partition's result: frames, records, plain values -----------------------------------------------

def _is_records(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(r, dict) for r in v)


def _is_frames(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(r, pd.DataFrame) for r in v)


def encode_result(result: dict, folder: Path) -> None:
    """Write a partition function's result (a dict) into ``folder``: DataFrames and lists of records
    as Parquet, everything else as JSON, with ``result.json`` saying which key is which."""
    layout: dict[str, Any] = {}
    for key, v in result.items():
        if isinstance(v, pd.DataFrame):
            v.to_parquet(folder / f"{key}.parquet", index=False)
            layout[key] = {"type": "frame"}
        elif _is_frames(v):
            pd.concat(v, ignore_index=True).to_parquet(folder / f"{key}.parquet", index=False)
            layout[key] = {"type": "frames"}
        elif _is_records(v):
            pd.DataFrame(v).to_parquet(folder / f"{key}.parquet", index=False)
            layout[key] = {"type": "records"}
        else:
            layout[key] = {"type": "json", "value": v}
    (folder / "result.json").write_text(json.dumps(layout, default=str), encoding="utf-8")


def decode_result(folder: Path) -> dict:
    layout = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    out: dict[str, Any] = {}
    for key, spec in layout.items():
        t = spec["type"]
        if t == "json":
            out[key] = spec["value"]
            continue
        frame = pd.read_parquet(folder / f"{key}.parquet")
        if t == "frame":
            out[key] = frame
        elif t == "frames":
            out[key] = [frame]
        else:
            out[key] = frame.to_dict("records")
    return out


def merge_results(results: list[dict]) -> dict:
    """Several partitions' results as one (frames and lists joined in order, timings added)."""
    if len(results) == 1:
        return results[0]
    out: dict[str, Any] = {}
    for res in results:
        for key, v in res.items():
            if key not in out or out[key] is None:
                out[key] = v
            elif v is None:
                continue
            elif isinstance(v, pd.DataFrame):
                out[key] = pd.concat([out[key], v], ignore_index=True)
            elif isinstance(v, list):
                out[key] = list(out[key]) + list(v)
            elif isinstance(v, dict):
                merged = dict(out[key])
                for k, x in v.items():
                    if k not in merged:
                        merged[k] = x
                    elif isinstance(x, (int, float)) and isinstance(merged[k], (int, float)):
                        merged[k] = merged[k] + x
                    elif isinstance(x, list):
                        merged[k] = list(merged[k]) + x
                out[key] = merged
    return out


# ---- the run journal: a serial run's finished series, one line each, as they finish ---------------------
#
# One JSON line per finished partition, appended with a single write() to a file opened O_APPEND: once the
# call returns the line is in the kernel's page cache, so a SIGKILL of the process loses nothing written.
# A line cut short (the process killed inside the write) does not end in a newline or does not parse, and
# is ignored. Frames are kept column by column with their dtype (floats through ``repr``, dates as int64
# nanoseconds), so they come back bit for bit; a frame with any other kind of column goes as Arrow IPC.

def _encode_frame(frame: pd.DataFrame) -> dict:
    cols: list[dict] = []
    if all(isinstance(c, str) for c in frame.columns) and frame.columns.is_unique:
        for name in frame.columns:
            s = frame[name]
            kind = s.dtype.kind if isinstance(s.dtype, np.dtype) else ""
            if kind in "fiub":
                cols.append({"name": name, "dtype": s.dtype.str, "data": s.to_numpy().tolist()})
            elif kind in "mM":
                cols.append({"name": name, "dtype": s.dtype.str, "data": s.to_numpy().view("i8").tolist()})
            elif kind == "O" and all(v is None or type(v) is str for v in s.to_numpy()):
                cols.append({"name": name, "dtype": "O", "data": s.to_numpy().tolist()})
            else:
                break
        else:
            return {"columns": cols}
    import base64

    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return {"arrow": base64.b64encode(sink.getvalue().to_pybytes()).decode("ascii")}


def _decode_frame(spec: dict) -> pd.DataFrame:
    if "arrow" in spec:
        import base64

        import pyarrow as pa

        return pa.ipc.open_stream(base64.b64decode(spec["arrow"])).read_pandas()
    data: dict[str, np.ndarray] = {}
    for c in spec["columns"]:
        dt = np.dtype(c["dtype"])
        if dt.kind in "mM":
            data[c["name"]] = np.array(c["data"], dtype="i8").view(dt)
        else:
            data[c["name"]] = np.array(c["data"], dtype=dt)
    return pd.DataFrame(data, columns=[c["name"] for c in spec["columns"]])


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return str(v)


def encode_journal_line(series: list[str], result: dict) -> bytes:
    """One finished partition (its series ids and result) as one journal line."""
    layout: dict[str, Any] = {}
    for key, v in result.items():
        if isinstance(v, pd.DataFrame):
            layout[key] = {"type": "frame", "value": _encode_frame(v)}
        elif _is_frames(v):
            layout[key] = {"type": "frames", "value": _encode_frame(pd.concat(v, ignore_index=True))}
        else:
            layout[key] = {"type": "json", "value": v}
    return (json.dumps({"series": series, "result": layout}, default=_plain, separators=(",", ":")) + "\n").encode()


def _journal_docs(path: Path):
    """The parsed complete lines of a journal file; a cut-short last line is skipped."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    for line in raw.split(b"\n")[:-1]:          # the text after the last newline is an unfinished line
        try:
            yield json.loads(line)
        except ValueError:
            continue


def read_journal(path: Path) -> list[tuple[list[str], dict]]:
    """The complete lines of a journal file as (series ids, result); a cut-short last line is skipped."""
    out = []
    for doc in _journal_docs(path):
        result: dict[str, Any] = {}
        for key, spec in doc["result"].items():
            if spec["type"] == "frame":
                result[key] = _decode_frame(spec["value"])
            elif spec["type"] == "frames":
                result[key] = [_decode_frame(spec["value"])]
            else:
                result[key] = spec["value"]
        out.append((list(doc["series"]), result))
    return out


def journal_series(path: Path) -> int:
    """How many series the complete lines of a journal file hold (without decoding their frames)."""
    return sum(len(doc["series"]) for doc in _journal_docs(path))


class JournalWriter:
    """Appends finished partitions to one journal file (see above)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def append(self, series: list[str], result: dict) -> None:
        data = encode_journal_line(series, result)
        view = memoryview(data)
        while view:                      # one write() for a line of any usual size; more if the OS says so
            view = view[os.write(self.fd, view):]

    def close(self, remove: bool = False) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if remove:
            self.path.unlink(missing_ok=True)
