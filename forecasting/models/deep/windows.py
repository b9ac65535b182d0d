"""Vectorised MIMO windowing for many series at once (numpy; no Python loop per window).

All series live in one flat *panel*: each series is stored as ``lookback`` padding positions followed by
its observations, one after the other. A window is identified by the flat index ``s`` of its first input
position; its input is ``[s, s + L)`` and its target ``[s + L, s + L + H)``. Gathering a batch is one
fancy-indexing call (``starts[:, None] + arange(L + H)``), on the CPU or on the GPU, so the windows
themselves are never materialised.

Padding and missing values carry ``mask = 0``; the loss ignores masked targets.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Panel:
    """Flat arrays for all series (see module docstring). ``n`` series, ``N`` flat positions."""

    series_ids: list[str]
    offsets: np.ndarray      # (n + 1,) int64: series i occupies [offsets[i], offsets[i + 1])
    lengths: np.ndarray      # (n,) int64: observed periods per series (padding excluded)
    pad: int                 # padding positions in front of every series (= lookback)
    y: np.ndarray            # (N,) float32, scaled target, 0 where masked
    mask: np.ndarray         # (N,) float32, 1 where the target is observed
    feats: np.ndarray        # (N, F) float32, calendar + covariate features (known in the future)
    sid: np.ndarray          # (N,) int64, series index of each position

    @property
    def n_series(self) -> int:
        return len(self.series_ids)

    @property
    def n_feats(self) -> int:
        return int(self.feats.shape[1])

    def first_obs(self) -> np.ndarray:
        """Flat index of each series' first observation."""
        return self.offsets[:-1] + self.pad


def ranges_to_index(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(lo[i], hi[i] + 1)`` for all i, without a Python loop (empty when hi < lo)."""
    lo = np.asarray(lo, dtype=np.int64)
    counts = np.maximum(np.asarray(hi, dtype=np.int64) - lo + 1, 0)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    keep = counts > 0
    lo, counts = lo[keep], counts[keep]
    # offset of each element inside its range, then shift by the range start
    run_start = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(lo, counts) + (np.arange(total, dtype=np.int64) - run_start)


def window_starts(panel: Panel, horizon: int, val_sizes: np.ndarray, min_obs: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Start indices of training and validation windows.

    Training windows have their whole target in the first ``lengths - val_sizes`` observations and at
    least ``min_obs`` observed input points; validation windows have their whole target in the last
    ``val_sizes`` observations (a time-ordered split: no validation target is ever a training target)."""
    first = panel.first_obs()
    L = panel.pad
    train_end = panel.lengths - val_sizes                      # observed periods usable for training
    # window start s: input [s, s+L), observed input points = min(L, s - (first - L))
    lo = first - L + min_obs
    hi = first + train_end - horizon - L
    train = ranges_to_index(lo, hi)
    v_lo = first + train_end - L
    v_hi = first + panel.lengths - horizon - L
    v_lo = np.maximum(v_lo, first - L + 1)
    val = ranges_to_index(np.where(val_sizes >= horizon, v_lo, 1), np.where(val_sizes >= horizon, v_hi, 0))
    return train, val


def gather(starts: np.ndarray, width: int) -> np.ndarray:
    """(B, width) flat indices of the windows starting at ``starts``."""
    return starts[:, None] + np.arange(width, dtype=np.int64)[None, :]


def last_windows(panel: Panel) -> np.ndarray:
    """Start index of the input window ending at each series' last observation (for forecasting)."""
    return panel.offsets[1:] - panel.pad
