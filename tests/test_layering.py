"""The layering, read from the source: every import (at the top of a module or inside a function) goes to
the same layer or a lower one, and no module imports itself back through others.

    base (errors, progress, metrics, engines) <- data <- explore <- models <- pipeline/evaluation
        <- export <- commands / ui / app

A new package is one line in LAYERS; a module of ``forecasting`` that no line covers fails the test."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (layer, module prefixes), lowest first; a module may import its own layer and any layer above in this list
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("forecasting", "forecasting.errors", "forecasting.progress", "forecasting.metrics",
              "forecasting.engines")),
    ("data", ("forecasting.data",)),
    ("explore", ("forecasting.explore",)),
    ("models", ("forecasting.models",)),
    ("pipeline", ("forecasting.pipeline", "forecasting.evaluation", "forecasting.store", "forecasting.hierarchy")),
    ("planning", ("forecasting.planning",)),
    ("export", ("forecasting.export",)),
    ("interfaces", ("forecasting.commands", "forecasting.cli", "forecasting.__main__", "forecasting.api",
                    "ui", "app", "pages")),
]
LIBRARY = "forecasting"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    files = list((ROOT / LIBRARY).rglob("*.py")) + list(ROOT.glob("*.py")) + list((ROOT / "pages").glob("*.py"))
    if (ROOT / "ui").is_dir():
        files += list((ROOT / "ui").rglob("*.py"))
    return {module_name(p): p for p in files}


def imports(path: Path, known: set[str]) -> set[str]:
    """Every project module ``path`` imports, wherever the import statement sits."""
    out: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and _is_type_checking(block.test)
                   for stmt in block.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in typing_only:      # `if TYPE_CHECKING:` imports never run
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                     for a in node.names]
        else:
            continue
        for n in names:
            while n and n not in known:          # `import a.b.c` of a name inside a module: the module
                n = n.rpartition(".")[0]
            if n:
                out.add(n)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def layer_of(module: str) -> int | None:
    best, level = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, level = len(p), i
    return level


GRAPH = {m: imports(p, set(sources())) for m, p in sources().items()}


def test_every_module_has_a_layer():
    missing = sorted(m for m in GRAPH if layer_of(m) is None and m.split(".")[0] in (LIBRARY, "ui", "pages"))
    assert not missing, f"add these to LAYERS in {Path(__file__).name}: {missing}"


def test_no_module_imports_a_higher_layer():
    wrong = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
             for m, targets in GRAPH.items() if layer_of(m) is not None
             for t in targets if layer_of(t) is not None and layer_of(t) > layer_of(m)]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles():
    """Between modules, counting imports inside functions; a package's ``__init__`` counts as its own
    module (``forecasting.engines`` importing ``forecasting.engines.local`` is an edge)."""
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(GRAPH.get(m, ())):
            if t == m:
                continue
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t, stack)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_library_never_imports_streamlit():
    bad = []
    for m, p in sources().items():
        if m.split(".")[0] != LIBRARY:
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad += [m for n in names if n.split(".")[0] == "streamlit"]
    assert not bad, bad


@pytest.mark.parametrize("module, target, allowed", [
    ("forecasting.models.auto", "forecasting.pipeline.backtest", False),
    ("forecasting.pipeline.backtest", "forecasting.models.fitting", True),
    ("forecasting.commands.backtest", "forecasting.pipeline", True),
])
def test_the_table_orders_layers(module, target, allowed):
    assert (layer_of(target) <= layer_of(module)) is allowed


def test_only_ui_touches_session_state_and_caches():
    """``app.py`` and the pages stay thin: this session's state and the caches are ``ui``'s."""
    touch = re.compile(r"\bst\.(session_state|cache_data|cache_resource)\b")
    bad = sorted(m for m, p in sources().items() if m.split(".")[0] != "ui" and touch.search(p.read_text("utf-8")))
    assert not bad, bad
