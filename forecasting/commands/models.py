"""``python -m forecasting models``: the model registry with capabilities (no heavy imports); with
``--settings``, every setting each model declares (name, default, what it accepts, what it does)."""
from __future__ import annotations

import argparse

HELP = "list the available models and what they can do (--settings: their settings)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument("--settings", nargs="?", const="", default=None, metavar="MODEL",
                   help="list the settings of every model (or of MODEL), as --set MODEL.NAME=VALUE takes them")
    p.add_argument("--markdown", action="store_true", help="print the README's table of models and their settings")


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from forecasting.models.registry import MODELS, get_spec

    if args.markdown:
        print(markdown_table())
        return 0
    if args.settings is not None:
        names = [get_spec(args.settings).name] if args.settings else list(MODELS)
        return _settings(names, args.json)
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


def _settings(names: list[str], as_json: bool) -> int:
    import json

    from forecasting.models.registry import settings_of

    if as_json:
        rows = {n: [{k: s[k] for k in ("name", "default", "accepts", "doc")} for s in settings_of(n)] for n in names}
        print(json.dumps(rows, indent=1, default=repr))
        return 0
    for n in names:
        rows = settings_of(n)
        print(f"{n}: " + ("no settings" if not rows else f"{len(rows)} setting(s)"))
        for s in rows:
            print(f"  {n}.{s['name']}={_shown(s['default'])}  {s['doc']}; {s['accepts']}")
    return 0


def _shown(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def markdown_table() -> str:
    """The README's table of models and their settings (with defaults), made from the declarations."""
    from forecasting.models.registry import MODELS, settings_of

    lines = ["| model | what it is | settings (default) |", "|---|---|---|"]
    for name, spec in MODELS.items():
        rows = settings_of(name)
        cell = ", ".join(f"`{s['name']}`={_shown(s['default'])}" for s in rows) or "none"
        lines.append(f"| `{name}` | {spec.description} | {cell} |")
    return "\n".join(lines)
