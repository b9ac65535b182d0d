"""Partitioning: whole series, input order kept, a few partitions per worker, balanced by rows."""
import pandas as pd
import pytest

from forecasting.engines.partition import n_partitions, partition_frame, partition_ids, split_evenly
from tests.engines.helpers import make_frame


def test_split_evenly_keeps_order_and_fills_every_chunk():
    items = list(range(10))
    for k in (1, 3, 4, 10, 25):
        chunks = split_evenly(items, k)
        assert sum(chunks, []) == items
        assert len(chunks) == min(k, 10) and all(chunks)
        sizes = [len(c) for c in chunks]
        assert max(sizes) - min(sizes) <= 1


def test_split_by_weight_balances_uneven_series():
    weights = [100, 1, 1, 1, 1, 1, 1, 1, 1, 100]
    chunks = split_evenly(list(range(10)), 2, weights)
    assert sum(chunks, []) == list(range(10))
    totals = [sum(weights[i] for i in c) for c in chunks]
    assert totals == [104, 104]
    # more chunks than heavy items: still one item at least per chunk
    assert all(split_evenly(list(range(10)), 10, weights))


def test_n_partitions_a_few_per_worker():
    assert n_partitions(10_000, 2) == 8
    assert n_partitions(3, 2) == 3          # never more partitions than series
    assert n_partitions(0, 2) == 0
    assert n_partitions(10_000, 50) == 200
    assert n_partitions(10_000, 2, n_rows=30_000_000) == 15   # big data: partitions of ≤ 2M rows


def test_partition_frame_whole_series_in_order():
    df = make_frame(7, 20)
    df = df[~((df.unique_id == "s00002") & (df.index % 2 == 0))].reset_index(drop=True)  # an uneven series
    parts = partition_frame(df, 3)
    assert len(parts) == 3
    ids = [set(p.unique_id) for p in parts]
    assert all(not (a & b) for i, a in enumerate(ids) for b in ids[i + 1:])   # no series split
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), df)
    assert partition_frame(df.iloc[:0], 3) == []


def test_partition_frame_rejects_unsorted_frames():
    df = make_frame(3, 5)
    with pytest.raises(ValueError, match="not sorted"):
        partition_frame(df.sample(frac=1, random_state=0), 2)


def test_partition_ids_default_uses_workers():
    ids = [f"s{i}" for i in range(100)]
    parts = partition_ids(ids, n_workers=2)
    assert len(parts) == 8 and sum(parts, []) == ids
