"""Split a long frame (or a list of series ids) into partitions of many whole series.

One task per series would drown a cluster's scheduler in tiny tasks (and pay the task overhead
30,000 times); one task per worker leaves workers idle at the end when series take uneven time.
A few partitions per worker is the usual middle ground (statsforecast's engines and Dask's
``DataFrame.repartition`` advice agree). Partitions are contiguous runs of the sorted frame, so
concatenating per-partition results keeps the series order of the input, whatever the engine.
"""
from __future__ import annotations

import os
from typing import Sequence, TypeVar

T = TypeVar("T")

PER_WORKER = 4          # partitions per worker: enough to balance uneven series, few enough to stay cheap
MAX_PARTITION_ROWS = 2_000_000  # keeps one partition (and one worker's memory) bounded on very large data


def default_workers(engine: str, n_workers: int | None = None) -> int:
    """How many workers an engine will use when the caller did not say (the serial engine: one)."""
    if engine == "serial":
        return 1
    return max(1, int(n_workers or os.cpu_count() or 1))


def n_partitions(n_series: int, n_workers: int, *, per_worker: int = PER_WORKER,
                 n_rows: int | None = None) -> int:
    """A few partitions per worker, never more than there are series.

    ``n_rows`` (rows of the long frame), when given, raises the count so no partition exceeds
    :data:`MAX_PARTITION_ROWS` rows on average."""
    if n_series <= 0:
        return 0
    k = max(1, n_workers) * max(1, per_worker)
    if n_rows:
        k = max(k, -(-n_rows // MAX_PARTITION_ROWS))
    return max(1, min(n_series, k))


def split_evenly(items: Sequence[T], k: int, weights: Sequence[float] | None = None) -> list[list[T]]:
    """Cut ``items`` into ``k`` contiguous non-empty chunks of about equal total weight (default 1 each).

    Order is kept: ``sum(chunks, []) == list(items)``."""
    items = list(items)
    n = len(items)
    if n == 0:
        return []
    k = max(1, min(k, n))
    if weights is None:
        bounds = [round(i * n / k) for i in range(k + 1)]
        return [items[bounds[i]:bounds[i + 1]] for i in range(k)]
    total = float(sum(weights)) or 1.0
    chunks: list[list[T]] = []
    current: list[T] = []
    acc = 0.0
    for i, (item, w) in enumerate(zip(items, weights)):
        current.append(item)
        acc += float(w)
        left_items, left_chunks = n - i - 1, k - len(chunks) - 1
        # close the chunk at its share of the weight, but leave one item for every chunk still to fill
        if left_chunks > 0 and (acc >= total * (len(chunks) + 1) / k or left_items == left_chunks):
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)
    return chunks


def partition_frame(df, k: int | None = None, *, n_workers: int | None = None,
                    per_worker: int = PER_WORKER, id_col: str = "unique_id") -> list:
    """Split a long frame sorted by ``id_col`` into ``k`` frames of whole series, balanced by rows.

    ``k`` defaults to :func:`n_partitions` for ``n_workers`` (all cores when omitted). Each frame is
    a copy with a fresh index, so a worker receives only its own rows."""
    import numpy as np

    if len(df) == 0:
        return []
    ids = df[id_col].to_numpy()
    # start of every run of equal ids (the frame is sorted by id, so each series is one run)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    if len(np.unique(ids[starts])) != len(starts):
        raise ValueError(f"the frame is not sorted by '{id_col}': a series appears in several runs")
    lengths = np.diff(np.r_[starts, len(ids)])
    if k is None:
        k = n_partitions(len(starts), default_workers("local", n_workers), per_worker=per_worker, n_rows=len(df))
    groups = split_evenly(list(range(len(starts))), k, weights=lengths.tolist())
    parts = []
    for g in groups:
        lo = starts[g[0]]
        hi = starts[g[-1]] + lengths[g[-1]]
        parts.append(df.iloc[lo:hi].reset_index(drop=True))
    return parts


def partition_ids(ids: Sequence[T], k: int | None = None, *, n_workers: int | None = None,
                  per_worker: int = PER_WORKER, weights: Sequence[float] | None = None) -> list[list[T]]:
    """Split a list of series ids into ``k`` contiguous chunks (by default a few per worker)."""
    if k is None:
        k = n_partitions(len(ids), default_workers("local", n_workers), per_worker=per_worker)
    return split_evenly(ids, k, weights)
