"""``python -m forecasting …``: the command-line contract.

Conventions shared by every command: column flags (``--date-col``, ``--target-col``, ``--id-cols``,
``--freq``, ``--agg``, ``--sheet``), exit 0 on success, exit 2 with one ``error: …`` line on stderr for
bad input (never a traceback), progress lines on stderr.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from forecasting.commands import COMMANDS
from forecasting.errors import SalesCastError


def _load(name: str):
    try:
        return importlib.import_module(f"forecasting.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"forecasting.commands.{name}":
            return None  # not built yet
        raise


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="python -m forecasting",
                                     description="SalesCast: sales forecasting from the command line.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name in COMMANDS:
        mod = _load(name)
        if mod is None:
            continue
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        modules[name] = mod
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    try:
        return int(modules[args.command].run(args) or 0)
    except SalesCastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory; try a smaller file or a coarser frequency", file=sys.stderr)
        return 1
