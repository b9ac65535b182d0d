"""Judgmental overrides of an archived forecast, with an append-only audit trail in the workspace.

A planner changes forecast values with what the data cannot know (a promotion, a lost customer): one
cell, a range of dates or a whole series, or an aggregate (every series sharing some id-column values,
e.g. ``{"store": "North"}``, or ``{}`` for the total), by a value or a percentage. At an aggregate the
change is spread over its series in proportion to their current forecasts (a value sets the aggregate's
total on each date; a percentage scales every series alike).

Every change is one row of the audit trail: who (the sign-in proxy's user, or ``"local"``), when, what
(scope, target, model, dates, value or percent), why (required) and the old and new value of each cell
it set. The trail is append-only: nothing here updates or deletes it, and the database refuses both
while the run exists. The statistical forecast is never changed; the **final** forecast is the
statistical one with the overrides applied in order (the latest change of a cell wins)::

    add_override(ws, run_id, series="North / A-1", dates="2024-07-01", value=120, reason="promotion", user="ann")
    final_forecasts(ws, run_id)     # … forecast, override (= final - forecast), final
"""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
import sqlalchemy as sa

from forecasting.data.contract import DS, ID
from forecasting.store import db
from forecasting.store.archive import archived_run
from forecasting.store.workspace import StoreError, Workspace

LOCAL_USER = "local"
SCOPES = ("cell", "range", "series", "aggregate")
MAX_REASON = 2000
KEYS = [ID, DS, "model"]


class OverrideError(StoreError):
    """An override that cannot be applied as asked (unknown series or date, no reason, bad value)."""


@dataclass
class Override:
    id: int
    run_id: str
    created: float
    user: str
    scope: str
    target: str
    selector: dict
    model: str
    date_from: str
    date_to: str
    mode: str
    amount: float
    reason: str
    n_cells: int
    old_total: float
    new_total: float


def parse_dates(spec: Any) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """``"2024-07-01"`` or ``"2024-07-01:2024-09-01"`` (or a date, or a pair) -> (first, last); None -> None."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    if isinstance(spec, (tuple, list)):
        if len(spec) != 2:
            raise OverrideError(f"a date range is two dates (got {spec!r})")
        parts = list(spec)
    elif isinstance(spec, str):
        parts = re.split(r":(?=\s*\d{4}-)", spec.strip())      # "A:B"; a time's own colons stay
        if len(parts) > 2:
            raise OverrideError(f"dates are YYYY-MM-DD or YYYY-MM-DD:YYYY-MM-DD (got '{spec}')")
    else:
        parts = [spec]
    try:
        first, last = pd.Timestamp(str(parts[0]).strip() if isinstance(parts[0], str) else parts[0]), None
        last = pd.Timestamp(str(parts[-1]).strip() if isinstance(parts[-1], str) else parts[-1])
    except (ValueError, TypeError):
        raise OverrideError(f"dates are YYYY-MM-DD or YYYY-MM-DD:YYYY-MM-DD (got '{spec}')") from None
    if pd.isna(first) or pd.isna(last):
        raise OverrideError(f"dates are YYYY-MM-DD or YYYY-MM-DD:YYYY-MM-DD (got '{spec}')")
    if last < first:
        raise OverrideError(f"the date range ends before it starts ({first.date()} > {last.date()})")
    return first, last


def _pick_dates(available: pd.DatetimeIndex, rng: tuple[pd.Timestamp, pd.Timestamp] | None, freq: str | None,
                what: str) -> pd.DatetimeIndex:
    """The forecast dates an override covers: every date (``rng`` None), one date, or a range inside the
    forecast's dates. A date of a monthly (or coarser) forecast may name any day of its month."""
    available = available.sort_values()
    span = f"its forecast covers {available[0].date()} to {available[-1].date()}" if len(available) else \
        "it has no forecast dates"
    if rng is None:
        return available
    first, last = rng
    if _monthly_or_coarser(freq):           # a day of the month names its monthly period
        first = available[(available.year == first.year) & (available.month == first.month)].min() \
            if ((available.year == first.year) & (available.month == first.month)).any() else first
        last = available[(available.year == last.year) & (available.month == last.month)].max() \
            if ((available.year == last.year) & (available.month == last.month)).any() else last
    if first == last:
        if first not in available:
            raise OverrideError(f"no forecast of {what} on {_d(first)}; {span}")
        return pd.DatetimeIndex([first])
    if len(available) == 0 or first < available[0] or last > available[-1]:
        raise OverrideError(f"the dates {_d(first)} to {_d(last)} are outside the forecast of {what}; {span}")
    chosen = available[(available >= first) & (available <= last)]
    if len(chosen) == 0:
        raise OverrideError(f"no forecast of {what} between {_d(first)} and {_d(last)}; {span}")
    return chosen


def _monthly_or_coarser(freq: str | None) -> bool:
    if not freq:
        return False
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            name = type(pd.tseries.frequencies.to_offset(freq)).__name__
    except ValueError:
        return False
    return any(k in name for k in ("Month", "Quarter", "Year")) and "SemiMonth" not in name


def _d(t: pd.Timestamp) -> str:
    return str(t.date()) if t == t.normalize() else t.isoformat()


def _children(ws: Workspace, dataset_id: str, where: Mapping[str, Any], ids: set[str]) -> tuple[list[str], str]:
    """The series of an aggregate (``{}``: every series) and its label ("store=North", "total")."""
    if not where:
        return sorted(ids), "total"
    ds = ws.load_dataset(dataset_id)
    if ds.id_map is None or not ds.id_cols:
        raise OverrideError("this forecast's data has no id columns to aggregate by; override the series")
    unknown = [c for c in where if c not in ds.id_cols]
    if unknown:
        raise OverrideError(f"unknown id column(s) {unknown}; the id columns are {ds.id_cols}")
    m = ds.id_map
    mask = np.ones(len(m), bool)
    for c, v in where.items():
        mask &= m[c].astype(str).to_numpy() == str(v)
    label = ", ".join(f"{c}={v}" for c, v in where.items())
    kids = sorted(set(m.loc[mask, ID]) & ids)
    if not kids:
        raise OverrideError(f"no series of this forecast has {label}")
    return kids, label


def add_override(ws: Workspace, run_id: str, *, series: str | None = None, where: Mapping[str, Any] | None = None,
                 dates: Any = None, value: float | None = None, percent: float | None = None,
                 reason: str = "", user: str | None = None, model: str | None = None) -> Override:
    """Change the final forecast of archived forecast run ``run_id`` and record the change.

    ``series`` (an id as the app shows it, the id columns' values joined with " / ") or ``where`` (an
    aggregate: ``{id column: value}``, ``{}`` for the total); ``dates``: one date, "first:last", or None
    for every date of the forecast; ``value`` (the new value on each date; at an aggregate, its total) or
    ``percent`` (+10 raises by 10%); ``reason`` is required; ``user`` None means ``"local"``; ``model``:
    which of the run's models (default its first)."""
    arch = archived_run(ws, run_id)
    reason = str(reason or "").strip()
    if not reason:
        raise OverrideError("an override needs a reason (what the planner knows that the data does not)")
    if len(reason) > MAX_REASON:
        raise OverrideError(f"the reason is longer than {MAX_REASON} characters")
    if (value is None) == (percent is None):
        raise OverrideError("give either a value or a percentage")
    amount = float(value if value is not None else percent)
    if not math.isfinite(amount):
        raise OverrideError(f"the override must be a finite number (got {amount})")
    if percent is not None and amount < -100:
        raise OverrideError(f"a percentage below -100% would make the forecast negative (got {amount}%)")
    if (series is None) == (where is None):
        raise OverrideError("override either a series or an aggregate")
    model = model or arch.models[0]
    if model not in arch.models:
        raise OverrideError(f"model '{model}' is not in this forecast (its models: {', '.join(arch.models)})")
    user = str(user).strip()[:200] if user and str(user).strip() else LOCAL_USER
    cur = final_forecasts(ws, run_id)
    cur = cur[cur["model"] == model]
    ids = set(cur[ID])
    rng = parse_dates(dates)
    hier = _hierarchy(ws, run_id)
    if series is not None and hier is not None and str(series).strip() in ids \
            and str(series).strip() not in hier["bottom"]:      # a node above the series: spread over them
        where, series = _node_selector(str(series).strip()), None
    if series is not None:
        series = str(series).strip()
        if series not in ids:
            close = sorted(ids)[:3]
            raise OverrideError(f"unknown series '{series}' in run {run_id} (series ids are the id columns' values "
                                f"joined with ' / ', e.g. {', '.join(repr(c) for c in close)})")
        kids, target, selector = [series], series, {}
    else:
        selector = {str(k): str(v) for k, v in dict(where).items()}
        kids, target = _children(ws, arch.data_version, selector, ids)
    sel = cur[cur[ID].isin(kids)]
    chosen = _pick_dates(pd.DatetimeIndex(sel[DS].unique()), rng, arch.freq, repr(target))
    cells = sel[sel[DS].isin(chosen)].copy()
    old = cells["final"].to_numpy(dtype=float)
    if percent is not None:
        new = old * (1.0 + amount / 100.0)
    elif series is not None:
        new = np.full(old.size, amount)
    else:                    # spread the aggregate's value over its series in proportion to their forecasts
        tot = cells.groupby(DS)["final"].transform("sum").to_numpy(dtype=float)
        cnt = cells.groupby(DS)["final"].transform("size").to_numpy(dtype=float)
        new = np.where(tot != 0, old * amount / np.where(tot != 0, tot, 1.0), amount / cnt)
    scope = "aggregate" if series is None else "series" if rng is None else "cell" if len(chosen) == 1 else "range"
    row = dict(workspace_id=ws.id, run_id=run_id, created=time.time(), username=user, scope=scope, target=target,
               selector=json.dumps(selector), model=model, date_from=_d(chosen.min()), date_to=_d(chosen.max()),
               mode="percent" if percent is not None else "value", amount=amount, reason=reason,
               n_cells=int(len(cells)), old_total=float(np.nansum(old)), new_total=float(np.nansum(new)))
    with ws.engine.begin() as conn:
        oid = conn.execute(db.overrides.insert().values(**row)).inserted_primary_key[0]
        recs = [{"override_id": int(oid), "run_id": run_id, "unique_id": str(u), "ds": pd.Timestamp(d).isoformat(),
                 "model": model, "old": float(o), "new": float(n)}
                for u, d, o, n in zip(cells[ID], cells[DS], old, new)]
        if recs:
            conn.execute(db.override_cells.insert(), recs)
    return _record({**row, "id": int(oid)})


def _record(row: Mapping) -> Override:
    return Override(id=int(row["id"]), run_id=row["run_id"], created=float(row["created"]), user=row["username"],
                    scope=row["scope"], target=row["target"], selector=json.loads(row["selector"] or "{}"),
                    model=row["model"], date_from=row["date_from"], date_to=row["date_to"], mode=row["mode"],
                    amount=float(row["amount"]), reason=row["reason"], n_cells=int(row["n_cells"]),
                    old_total=float(row["old_total"]), new_total=float(row["new_total"]))


def list_overrides(ws: Workspace, run_id: str) -> list[Override]:
    """The run's overrides, oldest first."""
    with ws.engine.connect() as conn:
        rows = conn.execute(sa.select(db.overrides).where(db.overrides.c.run_id == run_id)
                            .order_by(db.overrides.c.id)).mappings().all()
    return [_record(r) for r in rows]


def audit_trail(ws: Workspace, run_id: str) -> pd.DataFrame:
    """The audit trail as a table (one row per change, oldest first; times in UTC)."""
    cols = ["id", "when", "user", "scope", "target", "model", "dates", "change", "reason", "cells",
            "old_total", "new_total"]
    rows = []
    for o in list_overrides(ws, run_id):
        dates = o.date_from if o.date_from == o.date_to else f"{o.date_from} to {o.date_to}"
        change = f"{o.amount:+g}%" if o.mode == "percent" else f"= {o.amount:g}"
        rows.append([o.id, pd.Timestamp(o.created, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M:%S UTC"),
                     o.user, o.scope, o.target, o.model, dates, change, o.reason, o.n_cells,
                     o.old_total, o.new_total])
    return pd.DataFrame(rows, columns=cols)


def changed_cells(ws: Workspace, run_id: str) -> pd.DataFrame:
    """Every cell an override set, in order: override id, unique_id, ds, model, old, new."""
    c = db.override_cells.c
    with ws.engine.connect() as conn:
        rows = conn.execute(sa.select(c.override_id, c.unique_id, c.ds, c.model, c.old, c.new)
                            .where(c.run_id == run_id).order_by(c.id)).all()
    out = pd.DataFrame(rows, columns=["override_id", ID, DS, "model", "old", "new"])
    out[DS] = pd.to_datetime(out[DS], format="ISO8601") if len(out) else pd.Series([], dtype="datetime64[ns]")
    return out


def final_forecasts(ws: Workspace, run_id: str, forecasts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The run's forecasts with ``override`` (final − statistical; 0 where none) and ``final`` (the
    statistical ``forecast`` with the overrides applied, the latest change of a cell winning)."""
    fc = ws.run_forecasts(run_id) if forecasts is None else forecasts
    if fc is None:
        raise StoreError(f"run {run_id} has no forecasts")
    cells = changed_cells(ws, run_id)
    out = fc.copy()
    if len(cells):
        last = cells.drop_duplicates(KEYS, keep="last")[KEYS + ["new"]]
        last[DS] = last[DS].astype(out[DS].dtype)
        out = out.merge(last, on=KEYS, how="left")
        final = out["new"].where(out["new"].notna(), out["forecast"]).to_numpy(dtype=float)
        out = out.drop(columns="new")
    else:
        final = out["forecast"].to_numpy(dtype=float)
    out["override"] = final - out["forecast"].to_numpy(dtype=float)
    out["final"] = final
    if len(cells):
        hier = _hierarchy(ws, run_id)
        if hier is not None:
            _roll_up(ws, hier, out)
    return out


def _hierarchy(ws: Workspace, run_id: str) -> dict | None:
    """A reconciled run's hierarchy (its levels and bottom series), or None for a plain run."""
    rec = ws.get_run(run_id)
    info = rec.info.get("hierarchy") or {}
    if not info.get("bottom_ids"):
        return None
    return {"levels": list(info.get("levels") or []), "bottom": set(info["bottom_ids"]), "dataset_id": rec.dataset_id}


def _node_selector(node: str) -> dict[str, str]:
    """``total`` -> {}; ``store=North / sku=A-1`` -> {"store": "North", "sku": "A-1"} (the hierarchy's names)."""
    from forecasting.hierarchy.structure import TOTAL

    if node == TOTAL:
        return {}
    out = {}
    for part in node.split(" / "):
        if "=" not in part:
            raise OverrideError(f"'{node}' is neither a series nor a node of this forecast's hierarchy")
        k, v = part.split("=", 1)
        out[k] = v
    return out


def _roll_up(ws: Workspace, hier: dict, out: pd.DataFrame) -> None:
    """Every node above the series gets the sum of its series' overrides (in place), so the final forecast
    of a reconciled run stays coherent: a planner's change at a series shows at its store and the total."""
    from forecasting.hierarchy.structure import aggregate_id

    ds = ws.load_dataset(hier["dataset_id"])
    if ds.id_map is None:
        return
    bottom = out[out[ID].isin(hier["bottom"])]
    delta = bottom[bottom["override"] != 0]
    if delta.empty:
        return
    id_map = ds.id_map.set_index(ID)
    parts = []
    for level in hier["levels"]:
        cols = [] if level == "total" else [c for c in level.split(",") if c]
        if cols == list(ds.id_cols):
            continue
        node = delta[ID].map(lambda u, c=cols: aggregate_id(c, [id_map.at[u, x] for x in c]) if u in id_map.index
                             else None)
        parts.append(delta.assign(**{ID: node.to_numpy()})[[ID, DS, "model", "override"]])
    add = pd.concat(parts, ignore_index=True).dropna(subset=[ID]).groupby(KEYS, sort=False)["override"].sum()
    key = pd.MultiIndex.from_frame(out[KEYS])
    extra = add.reindex(key).to_numpy()
    hit = ~np.isnan(extra) & ~out[ID].isin(hier["bottom"]).to_numpy()
    out.loc[hit, "override"] = extra[hit]
    out.loc[hit, "final"] = out.loc[hit, "forecast"].to_numpy(dtype=float) + extra[hit]


def last_change(ws: Workspace) -> int:
    """The id of the workspace's latest override (0 when none): changes whenever an override is added."""
    with ws.engine.connect() as conn:
        v = conn.execute(sa.select(sa.func.max(db.overrides.c.id))
                         .where(db.overrides.c.workspace_id == ws.id)).scalar()
    return int(v or 0)
