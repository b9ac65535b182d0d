"""The app's workspace: the ``?ws=`` link, its owner, the datasets and runs kept in it, and runs that go on
outside the page (a worker process per run, see :mod:`forecasting.store.jobs`).

A page starts a run with :func:`start_run` and follows it with :func:`follow`: the page polls the store and
draws the progress; navigating, clicking another widget or reloading stops only the polling, never the
run. Coming back (or reloading) follows the run again and shows its result from the store.
"""
from __future__ import annotations

import hashlib
import os
import re
import time

import streamlit as st

from forecasting.store import jobs
from forecasting.store.workspace import ACTIVE, StoreError, Workspace, home, new_id, open_workspace
from ui import feedback, state

WS = "workspace"
WS_ID = re.compile(r"^[0-9a-f]{32}$")
POLL_SECONDS = 0.5
TITLES = {"backtest": "Backtest", "forecast": "Forecast"}


# ---------------------------------------------------------------- limits (administrator's config)

def _limit(var: str) -> float | None:
    v = os.environ.get(var, "").strip()
    try:
        return float(v) if v else None
    except ValueError:
        return None


def max_upload_bytes() -> float | None:
    mb = _limit("SALESCAST_MAX_UPLOAD_MB")
    return None if mb is None else mb * 1e6


def check_room(ws: Workspace, new_bytes: int) -> str | None:
    """Why ``new_bytes`` more cannot be stored in ``ws`` (upload size, disk limit), or None."""
    up = max_upload_bytes()
    if up is not None and new_bytes > up:
        return (f"This file is {new_bytes / 1e6:.1f} MB; uploads are limited to {up / 1e6:.0f} MB here "
                "(SALESCAST_MAX_UPLOAD_MB).")
    disk = _limit("SALESCAST_MAX_DISK_MB")
    if disk is not None:
        used = ws.disk_bytes()
        if used + new_bytes > disk * 1e6:
            return (f"This workspace uses {used / 1e6:.1f} MB of its {disk:.0f} MB (SALESCAST_MAX_DISK_MB); "
                    "delete old runs or datasets on the Runs and Data pages first.")
    return None


# ---------------------------------------------------------------- the workspace of this page view

def user() -> str | None:
    """The signed-in user named by the proxy's header (``SALESCAST_AUTH_HEADER``), or None when unset.
    Without the header on a deployment that requires it, the page is refused."""
    header = os.environ.get("SALESCAST_AUTH_HEADER", "").strip()
    if not header:
        return None
    who = (st.context.headers.get(header) or "").strip()
    if not who:
        st.error(f"Sign-in required: this SalesCast expects the {header} header from its sign-in proxy, and "
                 "this request has none. Open SalesCast through your organisation's sign-in page.")
        st.stop()
    return who


def _folder(ws_id: str):
    return home() / "workspaces" / ws_id


def owned_by(who: str) -> int:
    import json

    n = 0
    for meta in (home() / "workspaces").glob("*/workspace.json"):
        try:
            n += json.loads(meta.read_text()).get("owner") == who
        except (OSError, ValueError):
            pass
    return n


def current() -> Workspace:
    """The workspace named in the URL (``?ws=``); a new one (on the bundled sample) when there is none."""
    who = user()
    ws_id = st.query_params.get("ws")
    ws: Workspace | None = state.get(WS)
    if ws is not None and ws.owner == who and ws_id in (None, ws.id):
        if ws_id is None:            # page switches drop the query string: keep the link in the address bar
            st.query_params["ws"] = ws.id
        return ws
    if ws_id:
        if not WS_ID.match(ws_id) or not (_folder(ws_id) / "workspace.json").exists():
            st.error("There is no workspace at this link. Check the link, or open SalesCast without one to "
                     "start a new workspace.")
            st.stop()
        ws = open_workspace(_folder(ws_id), create=False)
        if ws.owner != who:
            st.error("This workspace is not yours: it belongs to another user. Ask its owner to export what "
                     "you need, or open SalesCast without a link to start your own workspace.")
            st.stop()
    else:
        cap = _limit("SALESCAST_MAX_WORKSPACES_PER_USER")
        if cap is not None and owned_by(who or "") >= cap and who:
            st.error(f"You have {int(cap)} workspaces, the most allowed here "
                     "(SALESCAST_MAX_WORKSPACES_PER_USER). Open one of them by its link.")
            st.stop()
        ws_id = new_id()
        ws = open_workspace(_folder(ws_id), owner=who, ws_id=ws_id)
        st.query_params["ws"] = ws.id
    if state.get(WS) is not None and state.get(WS).id != ws.id:
        state.reset_session()        # another workspace in this tab: nothing of the old one shows
    state.put(WS, ws)
    return ws


# ---------------------------------------------------------------- the pages' settings

SETTINGS = "settings"                                     # key of the widgets' values in the workspace state
# the setting widgets (key prefixes) of the Models and Forecast pages; not the views of their results
BACKTEST_SETTINGS = ("models_choice", "bt_horizon", "bt_windows", "bt_step", "bt_season", "bt_window_type", "bt_seed",
                     "bt_intervals", "bt_net_", "bt_reconcile", "bt_levels", "bt_every_level", "set_")
FORECAST_SETTINGS = ("fc_",)       # the chosen model's settings are fc_<setting>
VIEWS = {"fc_view", "fc_series", "fc_group", "fc_chart", "fc_table", "bt_series", "bt_level", "bt_chart"}
VIEW_PREFIXES = ("fc_h_", "bt_h_")     # the hierarchy's level and node pickers


def _setting(key: str, prefixes: tuple[str, ...]) -> bool:
    return key.startswith(prefixes) and key not in VIEWS and not key.startswith(VIEW_PREFIXES)


def _plain(v) -> bool:
    if isinstance(v, (list, tuple)):
        return all(_plain(x) for x in v)
    return v is None or isinstance(v, (bool, int, float, str))


def restore_settings(prefixes: tuple[str, ...]) -> None:
    """Give the page's setting widgets the values last chosen in this workspace, where this session holds
    none (after a reload, in a new tab, with the link, or back from another page). Call before the widgets."""
    kept = current().get_state().get(SETTINGS) or {}
    for k, v in kept.items():
        if _setting(k, prefixes) and not state.has(k):
            state.put(k, v)


def keep_settings(prefixes: tuple[str, ...]) -> None:
    """Keep the page's setting widgets' values in the workspace (when they changed). Call after the widgets."""
    ws = current()
    ws_state = ws.get_state()
    kept = dict(ws_state.get(SETTINGS) or {})
    now = {k: state.get(k) for k in state.keys_starting(prefixes) if _setting(k, prefixes)}
    now = {k: list(v) if isinstance(v, tuple) else v for k, v in now.items() if _plain(v)}
    if any(kept.get(k) != v for k, v in now.items()):
        ws.set_state({**ws_state, SETTINGS: {**kept, **now}})


# ---------------------------------------------------------------- datasets

def remember_dataset(ds, raw: bytes | None, name: str, mapping: dict, treatments: dict, digest: str = "") -> str:
    """Keep the page's dataset in the workspace (once per file, mapping and treatments) and make it current."""
    ws = current()
    memo = state.get("ws_dataset_ids") or {}
    key = f"{digest}|{sorted(mapping.items())}|{sorted(treatments.items())}"
    ds_id = memo.get(key)
    if ds_id is None:
        problem = check_room(ws, len(raw or b""))
        if problem:
            st.error(problem)
            st.stop()
        rec = ws.add_dataset(ds, raw=raw, name=name, mapping=mapping, treatments=treatments)
        ds_id = memo[key] = rec.id
        state.put("ws_dataset_ids", memo)
        _know(ds, ds_id)
    kept = ws.get_state()
    if kept.get("dataset_id") != ds_id:
        ws.set_state({**kept, "dataset_id": ds_id})
    state.put("ws_dataset_id", ds_id)
    return ds_id


def _know(ds, ds_id: str) -> None:
    known = state.get("ws_fingerprints") or {}
    if ds_id not in known.values():
        known[state.dataset_fingerprint(ds)] = ds_id
        state.put("ws_fingerprints", known)


def dataset_id_of(ds) -> str:
    """The workspace id of the session's dataset (stored now when it was built in memory)."""
    ws = current()
    fp = state.dataset_fingerprint(ds)
    known = state.get("ws_fingerprints") or {}
    if fp in known:
        return known[fp]
    cur = state.get("ws_dataset_id") or ws.get_state().get("dataset_id")
    if cur and ws.find_dataset(cur) is not None and state.dataset_fingerprint(ws.load_dataset(cur)) == fp:
        ds_id = cur
    else:
        ds_id = ws.add_dataset(ds, raw=None, raw_hash=fp, name=ds.source or "dataset", mapping={"in_memory": fp},
                               treatments=[]).id
    known[fp] = ds_id
    state.put("ws_fingerprints", known)
    state.put("ws_dataset_id", ds_id)
    return ds_id


def restore_dataset():
    """The workspace's current dataset (after a reload or in a new tab), or None."""
    ws = current()
    ds_id = ws.get_state().get("dataset_id")
    if not ds_id or ws.find_dataset(ds_id) is None:
        return None
    state.put("ws_dataset_id", ds_id)
    ds = ws.load_dataset(ds_id)
    _know(ds, ds_id)
    return ds


def stored_upload():
    """(raw bytes, name, mapping, treatments) of the current dataset when it came from an upload, else None."""
    ws = current()
    ds_id = ws.get_state().get("dataset_id")
    if not ds_id:
        return None
    rec = ws.find_dataset(ds_id)
    if rec is None or not rec.mapping.get("uploaded"):
        return None
    path = ws.path / "files" / rec.raw_hash
    return (path.read_bytes(), rec.name, rec.mapping, rec.treatments) if path.exists() else None


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- runs

def start_run(kind: str, ds, cfg, key: str, data_key: str, hcfg=None) -> str | None:
    """Record a ``kind`` run of ``cfg`` on ``ds`` (over every node of ``hcfg``'s hierarchy, reconciled, when
    given) and queue it (a worker process starts when a core is free); the page follows it with
    :func:`follow`. Reuses this session's result for the same key."""
    from forecasting.store.execute import config_of

    if state.reuse_cached(kind, key):
        return None
    feedback.check(cfg)           # a setting the models refuse: one clear error before any work
    if hcfg is not None:
        feedback.check(hcfg)
    ws = current()
    config = config_of(kind, cfg)
    for params in config.get("model_params", {}).values():
        params.pop("progress", None)
    if hcfg is not None:
        from dataclasses import asdict

        config["hierarchy"] = asdict(hcfg)
    ds_id = dataset_id_of(ds)
    ws_state = ws.get_state()
    if ws_state.get("dataset_id") != ds_id:   # the run's data is the workspace's current data (a reload shows it)
        ws.set_state({**ws_state, "dataset_id": ds_id})
    run_id = ws.create_run(kind, ds_id, config)
    pending = state.get("ws_pending") or {}
    pending[run_id] = {"key": key, "data_key": data_key}
    state.put("ws_pending", pending)
    jobs.dispatch(ws)
    return run_id


def result_of(ws: Workspace, rec):
    """A stored run's result as the pipeline returned it (BacktestResult / ForecastResult)."""
    frames = ws.run_frames(rec.id)
    if not frames:
        return None
    info = dict(rec.info)
    info["cancelled"] = rec.status == "stopped"
    if rec.kind == "backtest":
        from forecasting.pipeline import BacktestResult

        return BacktestResult(frames["forecasts"], frames["metrics"], frames.get("summary"), info, frames.get("total"))
    from forecasting.pipeline import ForecastResult

    return ForecastResult(frames["forecasts"], frames["settings"], info, frames.get("attention"))


def load_run(rec, data_key: str | None = None, key: str | None = None) -> dict | None:
    """Put a finished (or stopped) stored run into this session as the latest result of its kind."""
    from forecasting.store.execute import build_config

    ws = current()
    res = result_of(ws, rec)
    if res is None:
        return None
    cfg = build_config(rec.kind, rec.config)
    if data_key is None:
        ds = state.get(state.DATASET)
        same = ds is not None and state.get("ws_dataset_id") == rec.dataset_id
        data_key = state.dataset_fingerprint(ds if same else ws.load_dataset(rec.dataset_id))
    key = key or data_key + state.config_fingerprint(cfg)
    entry = {"dataset": data_key, "result": res, "config": cfg, "key": key, "run_id": rec.id}
    state.store_result(rec.kind, key, entry)
    return entry


def follow(kind: str, ds) -> None:
    """Draw the progress of this workspace's queued and running ``kind`` runs until they end, then load
    their results. Leaving the page ends only this view of the run."""
    ws = current()
    active = [r for r in ws.list_runs(kind) if r.status in ACTIVE]
    interrupted = [r for r in ws.list_runs(kind) if r.status == "interrupted"]
    for r in interrupted[-1:]:
        c1, c2 = st.columns([4, 1])
        c1.warning(f"A {kind} run ({r.series_done} of {r.n_series} series) was interrupted: its worker stopped "
                   "(server restart?). Finished series are kept.")
        if c2.button("Resume", key=f"resume_{r.id}"):
            jobs.queue_run(ws, r.id)
            st.rerun()
    if not active:
        return
    title = TITLES[kind]
    if st.button("Stop", key=f"stop_{kind}", help="Stop; the finished series are kept"):
        for r in active:
            jobs.stop_run(ws, r.id)
    box = st.empty()
    ids = [r.id for r in active]
    while True:
        jobs.dispatch(ws)
        recs = [ws.get_run(i) for i in ids]
        live = [r for r in recs if r.status in ACTIVE]
        if not live:
            break
        with box.container():
            for r in live:
                if r.status == "queued":
                    st.info(f"{title} queued: it starts when a core is free ({len(jobs.live_jobs())} run(s) "
                            f"computing, at most {jobs.slots()} at a time).")
                    continue
                frac = r.series_done / r.n_series if r.n_series else 0.0
                el = r.duration_s or 0.0
                eta = f" · about {el * (1 - frac) / frac:.0f}s left" if 0 < frac < 1 else ""
                st.progress(min(1.0, frac), text=f"{title}: {r.series_done}/{r.n_series} series · "
                                                 f"{el:.0f}s elapsed{eta}")
                _live_curve(ws, r)
        time.sleep(POLL_SECONDS)
    box.empty()
    pending = state.get("ws_pending") or {}
    for r in recs:
        if r.status == "failed":
            feedback.error(f"The {kind} failed: {r.error}")
            continue
        p = pending.pop(r.id, {})
        load_run(r, p.get("data_key"), p.get("key"))
    state.put("ws_pending", pending)


def _live_curve(ws: Workspace, rec) -> None:
    """The loss curve of the network training now (epochs so far), from the run's ``live.json``."""
    import json

    import pandas as pd

    path = ws.path / "runs" / rec.id / "live.json"
    try:
        events = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    curve: list[dict] = []
    for ev in events:          # a new network, or epoch 1 again (the next window), starts a new curve
        model = " · ".join(str(ev[k]) for k in ("model", "series") if ev.get(k))
        if curve and (curve[-1]["model"] != model or ev["epoch"] <= curve[-1]["epoch"]):
            curve = []
        curve.append({"model": model, "epoch": int(ev["epoch"]), "train": ev["train_loss"],
                      "validation": ev.get("val_loss")})
    if not curve:
        return
    df = pd.DataFrame(curve).set_index("epoch")[["train", "validation"]].astype(float).dropna(axis=1, how="all")
    st.caption(f"{curve[-1]['model'] or 'network'}: loss by epoch (train, validation)")
    st.line_chart(df, height=180, x_label="epoch", y_label="loss")


def latest_entry(kind: str, data_key: str):
    """This session's latest ``kind`` result for the dataset; else the workspace's latest finished or
    stopped run on it (after a reload or in a new tab)."""
    entry = state.latest_result(kind)
    if entry is not None and entry["dataset"] == data_key:
        return entry
    ws = current()
    ds_id = (state.get("ws_fingerprints") or {}).get(data_key)   # the stored dataset with these data
    if ds_id is None:
        return entry
    done = [r for r in ws.list_runs(kind) if r.status in ("finished", "stopped") and r.dataset_id == ds_id]
    if done and not state.get(f"ws_loaded_{kind}_{ds_id}"):
        state.put(f"ws_loaded_{kind}_{ds_id}", True)      # once per session: later runs come by follow()
        return load_run(done[-1], data_key)
    return entry


def describe(rec) -> dict:
    return {"id": rec.id, "name": rec.name or "", "kind": rec.kind, "status": rec.status, "dataset": rec.dataset,
            "models": ", ".join(rec.models), "progress": f"{rec.series_done}/{rec.n_series}",
            "started": _t(rec.started), "finished": _t(rec.finished),
            "duration": "" if rec.duration_s is None else f"{rec.duration_s:.0f}s", "device": rec.device or ""}


def _t(v):
    import pandas as pd

    return "" if v is None else pd.Timestamp(v, unit="s").strftime("%Y-%m-%d %H:%M:%S")


__all__ = ["current", "remember_dataset", "restore_dataset", "start_run", "follow", "latest_entry", "load_run",
           "result_of", "StoreError"]


state.restore_dataset_with(restore_dataset)
