"""``python -m forecasting serve [--host 127.0.0.1] [--port 8000] [--workspace DIR]``: the HTTP API."""
from __future__ import annotations

import argparse

HELP = "serve forecasts over HTTP (OpenAPI docs at /docs); SALESCAST_API_TOKENS turns on bearer tokens"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1); another one needs SALESCAST_API_TOKENS set")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workspace", metavar="DIR", default=None,
                   help="workspace folder whose recorded runs /v1/runs reads (default: SALESCAST_WORKSPACE)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes (default SALESCAST_API_WORKERS, else one per CPU core)")
    p.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"], default="info",
                   help="uvicorn's log level (default info: one access line per request)")


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import socket
    import sys
    from pathlib import Path

    from forecasting.api.settings import LOOPBACK, ApiSettings
    from forecasting.errors import ConfigError

    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535 (got {args.port})")
    if args.workspace is not None and not Path(args.workspace).expanduser().is_dir():
        raise ConfigError(f"--workspace: folder '{args.workspace}' does not exist")
    settings = ApiSettings.from_env(workspace=args.workspace)
    if args.workers is not None:
        if args.workers < 1:
            raise ConfigError(f"--workers must be at least 1 (got {args.workers})")
        settings = dataclasses.replace(settings, workers=args.workers)
    host = args.host
    if not settings.auth:
        if host not in LOOPBACK:
            print(f"note: --host {host} ignored: without SALESCAST_API_TOKENS there is no authentication, "
                  "so the service listens on 127.0.0.1 only", file=sys.stderr)
        host = "127.0.0.1"
        print("note: SALESCAST_API_TOKENS is not set: no authentication; listening on 127.0.0.1 only "
              "(set it to serve other machines)", file=sys.stderr)
    else:
        print(f"note: bearer-token authentication on ({len(settings.tokens)} token(s) from SALESCAST_API_TOKENS)",
              file=sys.stderr)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, args.port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{args.port} ({exc.strerror}); choose another --port") from None
    import uvicorn

    from forecasting.api.app import create_app

    shown = f"[{host}]" if ":" in host else host
    print(f"SalesCast API {shown}:{args.port}: starting {settings.workers} worker(s); docs at "
          f"http://{shown}:{args.port}/docs", file=sys.stderr)
    uvicorn.run(create_app(settings), host=host, port=args.port, log_level=args.log_level,
                timeout_graceful_shutdown=5)
    return 0
