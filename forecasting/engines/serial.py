"""The serial engine: one process, partitions in order."""
from __future__ import annotations

from forecasting.progress import report


def run(fn, partitions, *, address=None, n_workers=None, progress=None, stage="run"):
    out = []
    for i, part in enumerate(partitions):
        out.append(fn(part))
        report(progress, stage, i + 1, len(partitions), f"partition {i + 1}/{len(partitions)}")
    return out
