"""``python -m forecasting models``: the model registry with capabilities (no heavy imports)."""
from __future__ import annotations

import argparse

HELP = "list the available models and what they can do"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from forecasting.models.registry import MODELS

    rows = [{"name": s.name, **asdict(s.capabilities), "description": s.description} for s in MODELS.values()]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    flags = ["covariates", "intervals", "global_model", "needs_torch", "intermittent"]
    print(f"{'name':<16}{'covariates':<12}{'intervals':<11}{'global':<8}{'torch':<7}{'intermittent':<14}description")
    for r in rows:
        marks = ["yes" if r[f] else "-" for f in flags]
        print(f"{r['name']:<16}{marks[0]:<12}{marks[1]:<11}{marks[2]:<8}{marks[3]:<7}{marks[4]:<14}{r['description']}")
    return 0
