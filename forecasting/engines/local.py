"""The local engine: a process pool on this machine (the default)."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from forecasting.progress import report


def _init_worker() -> None:
    # one BLAS / torch thread per worker process: the pool already uses every core
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"


def run(fn, partitions, *, address=None, n_workers=None, progress=None, stage="run"):
    n_workers = n_workers or os.cpu_count() or 1
    results = [None] * len(partitions)
    with ProcessPoolExecutor(max_workers=min(n_workers, len(partitions)), initializer=_init_worker) as pool:
        futures = {pool.submit(fn, p): i for i, p in enumerate(partitions)}
        for done, fut in enumerate(as_completed(futures), 1):
            results[futures[fut]] = fut.result()
            report(progress, stage, done, len(partitions), f"partition {done}/{len(partitions)}")
    return results
