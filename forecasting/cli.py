"""``python -m forecasting …``: the command-line contract.

Conventions shared by every command: column flags (``--date-col``, ``--target-col``, ``--id-cols``,
``--freq``, ``--agg``, ``--sheet``), exit 0 on success, exit 2 with one ``error: …`` line on stderr for
bad input (never a traceback), progress lines on stderr; output piped into a command that stops reading
(``| head -1``) ends the command quietly.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from forecasting.commands import COMMANDS
from forecasting.errors import SalesCastError


# the flag of each setting a library error may name (SalesCastError.setting)
FLAGS = {"date_col": "--date-col", "target_col": "--target-col", "id_cols": "--id-cols", "freq": "--freq",
         "engine": "--engine", "address": "--address", "horizon": "--horizon", "levels": "--levels"}


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="python -m forecasting",
                                     description="SalesCast: sales forecasting from the command line.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name in COMMANDS:
        mod = importlib.import_module(f"forecasting.commands.{name}")
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
        code = int(modules[args.command].run(args) or 0)
        sys.stdout.flush()          # a closed pipe shows here, not at exit
        return code
    except SalesCastError as exc:
        flag = FLAGS.get(exc.setting or "")
        print(f"error: {exc}" + (f" with {flag}" if flag else ""), file=sys.stderr)
        return 2
    except BrokenPipeError:          # the reader went away (`| head`): stop quietly, as other tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())       # so that flushing stdout at exit raises nothing
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory; try a smaller file or a coarser frequency", file=sys.stderr)
        return 1
