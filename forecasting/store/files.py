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
