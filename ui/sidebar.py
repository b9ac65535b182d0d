"""The sidebar's "Where to compute" block: engine, Dask scheduler address, and a warning when a large
dataset would run on the serial engine. Pages read the choice with :func:`engine_settings`."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import streamlit as st

from forecasting.engines import ENGINES
from ui import state

KEY = "engine_settings"
LARGE_SERIES = 200        # from here on, one process is noticeably slow for statistical models
LARGE_ROWS = 500_000
ADDRESS_RE = re.compile(r"^(tcp|tls|ucx)://[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")
HELP = {
    "serial": "one process, series after series; a stop keeps every series finished so far",
    "local": "a process pool on this machine, one process per core (the default)",
    "dask": "a Dask cluster: the scheduler at the address below, or a local Dask cluster when empty",
}


@dataclass(frozen=True)
class EngineSettings:
    engine: str = "local"
    address: str | None = None
    n_workers: int | None = None


def engine_settings() -> EngineSettings:
    """The engine this session chose in the sidebar (local with all cores until it chooses)."""
    return state.get(KEY) or EngineSettings()


def admin_addresses() -> list[str]:
    """The Dask schedulers the administrator allows (``SALESCAST_DASK_ADDRESSES``, comma-separated)."""
    raw = os.environ.get("SALESCAST_DASK_ADDRESSES", "")
    return [a.strip() for a in re.split(r"[,\s]+", raw) if a.strip() and address_problem(a.strip()) is None]


def free_addresses() -> bool:
    """May users type any scheduler address? Off unless ``SALESCAST_DASK_ALLOW_ANY_ADDRESS=1``: a Dask
    client unpickles what the cluster sends, so a hostile scheduler could run code in this server."""
    return os.environ.get("SALESCAST_DASK_ALLOW_ANY_ADDRESS", "").strip().lower() in ("1", "true", "yes")


def address_problem(address: str) -> str | None:
    """Why ``address`` is not a scheduler address, or None when it looks like one."""
    if not address:
        return None
    if not ADDRESS_RE.match(address):
        return f"'{address}' is not a scheduler address: write it as tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786"
    port = int(address.rsplit(":", 1)[1])
    if not 0 < port < 65536:
        return f"port {port} is out of range (1–65535)"
    return None


def draw() -> EngineSettings:
    """Draw the block in the sidebar, store the choice for this session, return it."""
    current = engine_settings()
    with st.sidebar.expander("Where to compute", expanded=current.engine == "dask"):
        engine = st.selectbox("Engine", ENGINES, index=ENGINES.index(current.engine), key="engine_choice",
                              format_func=lambda e: {"serial": "serial (one process)", "local": "local (all cores)",
                                                     "dask": "Dask cluster"}[e],
                              help="; ".join(f"{k}: {v}" for k, v in HELP.items()))
        address, n_workers = None, None
        if engine == "dask":
            allowed = admin_addresses()
            if free_addresses():
                address = st.text_input("Scheduler address", value=current.address or "", key="engine_address",
                                        placeholder="tcp://HOST:8786 — empty: a local Dask cluster").strip() or None
                st.warning("Connect only to a Dask cluster you trust: its workers send back results that this "
                           "server unpickles, so a hostile cluster can run code here.")
            elif allowed:
                pick = st.selectbox("Scheduler", ["", *allowed], key="engine_scheduler",
                                    index=([""] + allowed).index(current.address) if current.address in allowed else 0,
                                    format_func=lambda a: a or "a local Dask cluster on this machine",
                                    help="the clusters your administrator set up (SALESCAST_DASK_ADDRESSES)")
                address = pick or None
            else:
                st.caption("A local Dask cluster on this machine. Remote clusters are set by the administrator "
                           "(SALESCAST_DASK_ADDRESSES).")
            problem = address_problem(address or "")
            if problem:
                st.error(problem)
                address = None
            elif address and st.button("Check connection", key="engine_check"):
                _check(address)
        if engine in ("local", "dask") and not address:
            cores = os.cpu_count() or 1
            n_workers = int(st.number_input("Worker processes", 1, max(64, cores), value=current.n_workers or cores,
                                            key="engine_workers", help=f"this machine has {cores} core(s)"))
        settings = EngineSettings(engine, address, n_workers if n_workers != (os.cpu_count() or 1) else None)
        state.put(KEY, settings)
        _warn_if_large(engine)
    return settings


def _check(address: str) -> None:
    from forecasting.engines.dask_engine import describe_cluster
    from forecasting.errors import SalesCastError

    with st.spinner(f"Connecting to {address} …"):
        try:
            st.success(f"Connected: {describe_cluster(address)}")
        except SalesCastError as exc:
            st.error(str(exc))


def _warn_if_large(engine: str) -> None:
    ds = state.get(state.DATASET)
    if engine != "serial" or ds is None:
        return
    n_series, n_rows = ds.n_series, len(ds.df)
    if n_series >= LARGE_SERIES or n_rows >= LARGE_ROWS:
        st.warning(f"Your data has {n_series:,} series ({n_rows:,} rows): the serial engine runs them one after "
                   "another. Choose local (all cores) or a Dask cluster to spread them.")
