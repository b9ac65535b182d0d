"""The service's settings, read from the environment once at start (``ApiSettings.from_env``).

| variable | default | meaning |
|---|---|---|
| ``SALESCAST_API_TOKENS`` | unset | comma-separated bearer tokens; set: every ``/v1`` request needs one, unset: no authentication and the service listens on 127.0.0.1 only |
| ``SALESCAST_API_MAX_BODY_MB`` | 50 | largest request body; a larger one is answered 413 before it is parsed |
| ``SALESCAST_API_MAX_SERIES`` | 10000 | series per request |
| ``SALESCAST_API_MAX_POINTS`` | 5000000 | observations per request (all series together) |
| ``SALESCAST_API_MAX_HORIZON`` | 1000 | largest ``horizon`` |
| ``SALESCAST_API_MAX_WINDOWS`` | 50 | largest number of backtest ``windows`` |
| ``SALESCAST_API_WORKERS`` | CPU cores | worker processes; each runs one request at a time on one core |
| ``SALESCAST_API_MAX_QUEUE`` | 256 | requests and jobs waiting or running at once; beyond it 503 (retry later) |
| ``SALESCAST_API_MAX_JOBS`` | 1000 | finished jobs kept for ``GET /v1/jobs/{id}`` (oldest forgotten first) |
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from forecasting.errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _int_env(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise ConfigError(f"{name} must be a number (got '{raw}')") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum} (got {value})")
    return value


@dataclass(frozen=True)
class ApiSettings:
    tokens: tuple[str, ...] = ()
    max_body_bytes: int = 50 * 1024 * 1024
    max_series: int = 10_000
    max_points: int = 5_000_000
    max_horizon: int = 1000
    max_windows: int = 50
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    max_queue: int = 256
    max_jobs: int = 1000
    workspace: str | None = None

    @classmethod
    def from_env(cls, workspace: str | None = None) -> "ApiSettings":
        tokens = tuple(t.strip() for t in os.environ.get("SALESCAST_API_TOKENS", "").split(",") if t.strip())
        return cls(tokens=tokens,
                   max_body_bytes=_int_env("SALESCAST_API_MAX_BODY_MB", 50) * 1024 * 1024,
                   max_series=_int_env("SALESCAST_API_MAX_SERIES", 10_000),
                   max_points=_int_env("SALESCAST_API_MAX_POINTS", 5_000_000),
                   max_horizon=_int_env("SALESCAST_API_MAX_HORIZON", 1000),
                   max_windows=_int_env("SALESCAST_API_MAX_WINDOWS", 50),
                   workers=_int_env("SALESCAST_API_WORKERS", max(1, os.cpu_count() or 1)),
                   max_queue=_int_env("SALESCAST_API_MAX_QUEUE", 256),
                   max_jobs=_int_env("SALESCAST_API_MAX_JOBS", 1000),
                   workspace=workspace)

    @property
    def auth(self) -> bool:
        return bool(self.tokens)
