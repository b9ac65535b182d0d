"""Model settings, declared once per model.

A model declares each setting as a class attribute::

    class MovingAverage(PerSeriesModel):
        window = Setting(4, "how many of the latest values are averaged", low=1, high=400, label="window (periods)")

The declaration is the only place a setting is written down: the model base checks names and values
against it when a model is created (an unknown name or a bad value raises :class:`ConfigError` with the
model's name and what it accepts), and the CLI's help, the pages' setting widgets and the README's model
table are made from it. ``label`` marks the few settings the app shows as widgets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from forecasting.errors import ConfigError

KINDS = ("int", "float", "bool", "str", "names", "dict", "any")


@dataclass(frozen=True)
class Setting:
    default: Any
    doc: str                                   # one line: what the setting does
    kind: str = ""                             # int, float, bool, str, names (model names), dict, any
    choices: tuple = ()                        # the accepted values, when they are a few words
    low: float | None = None                   # bounds of a number (inclusive)
    high: float | None = None
    optional: bool = False                     # None is accepted (chosen automatically)
    label: str = ""                            # shown as a widget on the pages under this label
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)  # extra test: error text or None
    name: str = ""

    def __post_init__(self) -> None:
        if not self.kind:
            d = self.default
            kind = "bool" if isinstance(d, bool) else "int" if isinstance(d, int) else \
                "float" if isinstance(d, float) else "str" if isinstance(d, str) else "any"
            object.__setattr__(self, "kind", kind)
        if self.default is None:
            object.__setattr__(self, "optional", True)
        assert self.kind in KINDS, self.kind

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return self if obj is None else self.default

    def accepted(self) -> str:
        """What the setting accepts, in words (for messages and help)."""
        if self.choices:
            text = "one of " + ", ".join(str(c) for c in self.choices)
        else:
            text = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text",
                    "names": "model names (a list or comma-separated)", "dict": "a mapping",
                    "any": "a value"}[self.kind]
            if self.low is not None and self.high is not None:
                text += f" from {_num(self.low)} to {_num(self.high)}"
            elif self.low is not None:
                text += f" of at least {_num(self.low)}"
        return text + (" (or none: chosen automatically)" if self.optional and self.default is None else "")

    def checked(self, value: Any) -> Any:
        """``value`` as the model uses it; ValueError saying what is accepted when it is not."""
        if value is None and self.optional:
            return None
        v = value
        ok = True
        if self.kind == "int":
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            ok = isinstance(v, int) and not isinstance(v, bool)
        elif self.kind == "float":
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            v = float(v) if ok else v
        elif self.kind == "bool":
            ok = isinstance(v, bool)
        elif self.kind == "str":
            ok = isinstance(v, str)
        elif self.kind == "names":
            if isinstance(v, str):
                v = [m.strip() for m in v.replace("+", ",").split(",") if m.strip()]
            ok = isinstance(v, (list, tuple)) and all(isinstance(m, str) for m in v)
            v = list(v) if ok else v
        elif self.kind == "dict":
            ok = isinstance(v, dict)
        if ok and self.choices:
            ok = v in self.choices
        if ok and self.kind in ("int", "float"):
            ok = (self.low is None or v >= self.low) and (self.high is None or v <= self.high)
        if not ok:
            raise ValueError(f"must be {self.accepted()} (got {value!r})")
        why = self.check(v) if self.check else None
        if why:
            raise ValueError(why)
        return v


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def declared(cls: type) -> list[Setting]:
    """The settings ``cls`` declares, base classes' first, in declaration order."""
    if hasattr(cls, "declared_settings"):
        return list(cls.declared_settings())
    seen: dict[str, Setting] = {}
    for klass in reversed(cls.__mro__):
        for k, v in vars(klass).items():
            if isinstance(v, Setting):
                seen.pop(k, None)
                seen[k] = v
    return list(seen.values())


def check_settings(cls: type, name: str, given: dict[str, Any], accept: Sequence[str] = ()) -> dict[str, Any]:
    """``given`` checked against what ``cls`` declares (values as the model uses them); ConfigError with the
    model's name and the accepted names or values otherwise. Names in ``accept`` pass unchecked."""
    decl = {s.name: s for s in declared(cls)}
    out: dict[str, Any] = {}
    for k, v in given.items():
        if k in accept:
            out[k] = v
            continue
        if k not in decl:
            known = ", ".join(decl) if decl else ""
            raise ConfigError(f"{name} has no setting '{k}'" + (f"; its settings: {known}" if known
                                                                  else "; it takes no settings"))
        try:
            out[k] = decl[k].checked(v)
        except ValueError as exc:
            sep = " " if str(exc).startswith("must be") else ": "
            raise ConfigError(f"{name}: setting {k}{sep}{exc}") from None
    return out


def describe(cls: type) -> list[dict[str, Any]]:
    """One row per setting: name, default, what it accepts, doc (for help texts and tables)."""
    return [{"name": s.name, "default": s.default, "accepts": s.accepted(), "doc": s.doc, "label": s.label,
             "kind": s.kind, "choices": list(s.choices), "low": s.low, "high": s.high}
            for s in declared(cls)]
