"""Progress reporting shared by the library, the pages and the CLI.

Long-running functions accept ``progress: ProgressCallback | None``. They call it with a
:class:`ProgressEvent`; a page turns events into a progress bar, the CLI into a line on stderr.
A callback may raise :class:`Cancelled` to stop the work; functions that support stopping catch it
and return the results so far.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class ProgressEvent:
    stage: str                 # e.g. "ingest", "backtest", "train"
    done: float                # units done so far
    total: float | None = None # units in all, when known
    message: str = ""          # short human text: "series 12/40 · ets"
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. {"epoch": 3, "train_loss": .1, "val_loss": .2}

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))


ProgressCallback = Callable[[ProgressEvent], None]


class Cancelled(Exception):
    """Raised by a progress callback to ask the running work to stop."""


def report(progress: ProgressCallback | None, stage: str, done: float, total: float | None = None,
           message: str = "", **extra: Any) -> None:
    """Call ``progress`` if given; never fails because no callback was passed."""
    if progress is not None:
        progress(ProgressEvent(stage, done, total, message, dict(extra)))


class StderrProgress:
    """The CLI's progress callback: one updating line on stderr, throttled, with elapsed time and ETA."""

    def __init__(self, stream=None, min_interval: float = 0.5):
        self.stream = stream or sys.stderr
        self.min_interval = min_interval
        self.start = time.monotonic()
        self._last = 0.0

    def __call__(self, ev: ProgressEvent) -> None:
        now = time.monotonic()
        final = ev.total is not None and ev.done >= ev.total
        epoch = ev.stage == "train" and "epoch" in ev.extra    # a network's epochs: every one is shown
        if not final and not epoch and now - self._last < self.min_interval:
            return
        self._last = now
        elapsed = now - self.start
        frac = ev.fraction
        eta = f" eta {elapsed * (1 - frac) / frac:.0f}s" if frac else ""
        count = f" {ev.done:g}/{ev.total:g}" if ev.total else ""
        self.stream.write(f"[{ev.stage}]{count} {ev.message} ({elapsed:.0f}s{eta})\n")
        self.stream.flush()


# ---- results as they finish: how a run store keeps a stopped or killed run's work ---------------------

ResultSink = Callable[[str, list, dict], None]
"""Called by backtest and forecast as each piece of work finishes: ``sink(what, series_ids, result)``,
``what`` being ``"local"`` for a partition of series (every per-series model on those series) or the name
of a global model (trained on all series). ``result`` is what the partition function returned (frames,
records, plain values): the caller may store it and pass it back in :class:`PriorResults` to resume."""


@dataclass
class PriorResults:
    """Work a resumed run already has: these series' per-series models and these global models are not
    run again, and ``results`` (as given to a :data:`ResultSink`) join the new ones."""
    series: set = field(default_factory=set)
    models: set = field(default_factory=set)
    results: list = field(default_factory=list)
