"""The forecast archive and judgmental overrides, on SQLite and on a real PostgreSQL server: every kind of
override (cell, range, series, aggregate; value or percent) against values worked out by hand from the
archived statistical forecast, refusals, the append-only audit trail, and overrides that survive reopening
the workspace and come from another process under another user."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from forecasting.pipeline import BacktestConfig
from forecasting.store import StoreError, db, open_workspace
from forecasting.store.archive import archive
from forecasting.store.execute import config_of, execute_run
from forecasting.store.overrides import (OverrideError, add_override, audit_trail, changed_cells, final_forecasts,
                                         list_overrides)
from tests.conftest import ROOT
from tests.store.cycle_data import archived_forecast, sales

JAN, FEB, MAR = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-01")


@pytest.fixture
def cycle(backend, tmp_path):
    """A forecast (naive, 3 months) made at cutoff 2023-12 on four series; the statistical values by hand."""
    frame = sales(36)
    ws, run_id, dataset = archived_forecast(tmp_path / "ws", frame, tmp_path / "sales_2023.csv")
    last = frame[frame["month"] == "2023-12"].set_index(["store", "sku"])["units"]
    stat = {f"{s} / {k}": float(v) for (s, k), v in last.items()}    # naive: the last value, every month
    return ws, run_id, dataset, stat


def _final(ws, run_id) -> dict:
    f = final_forecasts(ws, run_id)
    return {(r.unique_id, r.ds): r.final for r in f.itertuples()}


def test_archive_keeps_cutoff_model_settings_and_data_version(cycle, tmp_path):
    ws, run_id, dataset, stat = cycle
    [a] = archive(ws)
    rec = ws.get_run(run_id)
    assert a.run_id == run_id and a.cutoff == pd.Timestamp("2023-12-01") and a.models == ["naive"]
    assert a.horizon == 3 and a.season_length == 12 and a.settings["horizon"] == 3
    assert a.data_version == rec.dataset_id and a.freq == "MS"
    before = ws.run_frames(run_id)
    with pytest.raises(StoreError, match="archived"):          # a finished forecast is never recomputed
        execute_run(ws, run_id)
    after = ws.run_frames(run_id)
    for k in before:
        pd.testing.assert_frame_equal(before[k], after[k])
    assert ws.get_run(run_id).status == "finished"
    # next month's forecast on newer data is a new archived forecast beside the first
    path = tmp_path / "sales_2024_01.csv"
    sales(37).to_csv(path, index=False)
    from tests.store.cycle_data import load_csv
    from forecasting.pipeline import ForecastConfig

    newer = ws.add_dataset(load_csv(path), raw=path, name=path.name, mapping={}, treatments=[])
    second = ws.create_run("forecast", newer.id, config_of("forecast", ForecastConfig(horizon=3, model="naive",
                                                                                       engine="serial")))
    execute_run(ws, second)
    bt = ws.create_run("backtest", newer.id, config_of("backtest", BacktestConfig(horizon=3, models=["naive"],
                                                                                   windows=1, engine="serial")))
    execute_run(ws, bt)
    arch = archive(ws)
    assert [x.run_id for x in arch] == [run_id, second]        # backtests are not archived forecasts
    assert arch[1].cutoff == JAN and arch[1].data_version != arch[0].data_version
    pd.testing.assert_frame_equal(ws.run_forecasts(run_id), before["forecasts"])


def test_every_kind_of_override_against_hand_values(cycle):
    ws, run_id, dataset, stat = cycle
    statistical = ws.run_forecasts(run_id).copy()
    na1, nb2, sa1, sb2 = "North / A-1", "North / B-2", "South / A-1", "South / B-2"
    o1 = add_override(ws, run_id, series=na1, dates="2024-01-01", value=123, reason="promotion", user="ann")
    o2 = add_override(ws, run_id, series=sb2, dates="2024-02-01:2024-03-01", percent=10, reason="new listing",
                      user="bob")
    o3 = add_override(ws, run_id, where={"store": "North"}, dates="2024-02-01", value=300, reason="store event",
                      user="ann")
    o4 = add_override(ws, run_id, where={}, dates="2024-03-15", percent=-50, reason="strike", user="bob")
    o5 = add_override(ws, run_id, series=sa1, dates=None, value=7, reason="lost customer", user="ann")
    assert [o.scope for o in (o1, o2, o3, o4, o5)] == ["cell", "range", "aggregate", "aggregate", "series"]
    assert (o1.n_cells, o2.n_cells, o3.n_cells, o4.n_cells, o5.n_cells) == (1, 2, 2, 4, 3)
    assert o1.old_total == stat[na1] and o1.new_total == 123
    assert o3.target == "store=North" and o4.target == "total" and o4.date_from == o4.date_to == "2024-03-01"

    exp = {(u, d): stat[u] for u in stat for d in (JAN, FEB, MAR)}
    exp[(na1, JAN)] = 123.0
    exp[(sb2, FEB)] = stat[sb2] * 1.1
    exp[(sb2, MAR)] = stat[sb2] * 1.1
    north = stat[na1] + stat[nb2]                       # February's North total before the change
    exp[(na1, FEB)] = stat[na1] * 300 / north
    exp[(nb2, FEB)] = stat[nb2] * 300 / north
    for u in stat:                                      # the total in March halved: every series halved
        exp[(u, MAR)] = exp[(u, MAR)] * 0.5
    for d in (JAN, FEB, MAR):                           # then South / A-1 set to 7 on every date
        exp[(sa1, d)] = 7.0
    got = _final(ws, run_id)
    assert set(got) == set(exp)
    for k, v in exp.items():
        assert got[k] == pytest.approx(v, rel=1e-12), k
    assert exp[(na1, FEB)] + exp[(nb2, FEB)] == pytest.approx(300)
    f = final_forecasts(ws, run_id)
    np.testing.assert_allclose(f["forecast"] + f["override"], f["final"], rtol=1e-12)
    assert (f.loc[f["final"] == f["forecast"], "override"] == 0).all()
    pd.testing.assert_frame_equal(ws.run_forecasts(run_id), statistical)   # statistical values untouched
    cells = changed_cells(ws, run_id)
    c3 = cells[cells["override_id"] == o3.id].set_index("unique_id")
    assert c3.loc[na1, "old"] == stat[na1] and c3.loc[na1, "new"] == pytest.approx(exp[(na1, FEB)])
    c4 = cells[cells["override_id"] == o4.id].set_index("unique_id")
    assert c4.loc[sb2, "old"] == pytest.approx(stat[sb2] * 1.1)          # old = the value before this change
    trail = audit_trail(ws, run_id)
    assert list(trail["user"]) == ["ann", "bob", "ann", "bob", "ann"]
    assert list(trail["reason"]) == ["promotion", "new listing", "store event", "strike", "lost customer"]
    assert list(trail["change"]) == ["= 123", "+10%", "= 300", "-50%", "= 7"]


def test_refusals(cycle):
    ws, run_id, dataset, stat = cycle
    ok = dict(series="North / A-1", dates="2024-01-01", value=1.0, reason="x")
    for kwargs, msg in [
        ({"series": "Nowhere / Z"}, "unknown series 'Nowhere / Z'"),
        ({"dates": "2024-04-01"}, "no forecast of 'North / A-1' on 2024-04-01"),
        ({"dates": "2023-12-01:2024-02-01"}, "outside the forecast"),
        ({"dates": "2024-13-45"}, "dates are YYYY-MM-DD"),
        ({"dates": "2024-03-01:2024-01-01"}, "ends before it starts"),
        ({"reason": "  "}, "needs a reason"),
        ({"percent": 5}, "either a value or a percentage"),
        ({"value": None}, "either a value or a percentage"),
        ({"value": None, "percent": -150}, "below -100%"),
        ({"value": float("nan")}, "finite"),
        ({"model": "ets"}, "model 'ets' is not in this forecast"),
        ({"series": None, "where": {"region": "X"}}, "unknown id column"),
        ({"series": None, "where": {"store": "East"}}, "no series of this forecast has store=East"),
        ({"where": {"store": "North"}}, "either a series or an aggregate"),
    ]:
        with pytest.raises(OverrideError, match=msg.replace("(", r"\(").replace("+", r"\+")):
            add_override(ws, run_id, **{**ok, **kwargs})
    with pytest.raises(StoreError, match="no run"):
        add_override(ws, "nope", **ok)
    assert list_overrides(ws, run_id) == []                   # nothing half-recorded
    o = add_override(ws, run_id, **{**ok, "dates": "2024-01-17"})    # any day names its month
    assert o.date_from == "2024-01-01" and o.user == "local"


def test_audit_trail_is_append_only_in_the_database(cycle):
    ws, run_id, dataset, stat = cycle
    add_override(ws, run_id, series="North / A-1", dates="2024-01-01", value=5, reason="promotion", user="ann")
    for stmt in (db.overrides.update().values(reason="nothing happened"), db.overrides.delete(),
                 db.override_cells.update().values(new=0.0), db.override_cells.delete()):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with ws.engine.begin() as conn:
                conn.execute(stmt.where(stmt.table.c.run_id == run_id))
    [o] = list_overrides(ws, run_id)
    assert o.reason == "promotion" and _final(ws, run_id)[("North / A-1", JAN)] == 5
    ws.delete_run(run_id)                                     # the trail goes with its run, and only then
    with ws.engine.connect() as conn:
        for t in (db.overrides, db.override_cells):
            assert conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.run_id == run_id)).scalar() == 0


def test_overrides_survive_reopening_and_another_process_and_user(cycle, tmp_path):
    ws, run_id, dataset, stat = cycle
    add_override(ws, run_id, series="North / A-1", dates="2024-01-01", value=111, reason="ann's promo", user="ann")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = ("from forecasting.store import open_workspace; from forecasting.store.overrides import add_override; "
            f"ws = open_workspace({str(ws.path)!r}, create=False); "
            f"add_override(ws, {run_id!r}, series='South / B-2', dates='2024-02-01', percent=20, "
            "reason=\"bob's listing\", user='bob')")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=str(ROOT))
    db.dispose_all()                                          # as after a server restart
    again = open_workspace(ws.path, create=False)
    trail = list_overrides(again, run_id)
    assert [(o.user, o.reason) for o in trail] == [("ann", "ann's promo"), ("bob", "bob's listing")]
    got = _final(again, run_id)
    assert got[("North / A-1", JAN)] == 111
    assert got[("South / B-2", FEB)] == pytest.approx(stat["South / B-2"] * 1.2)
    assert trail[0].created <= trail[1].created


def test_a_reconciled_forecast_stays_coherent_under_overrides(backend, tmp_path):
    """Every node of a hierarchy in one run: an override at a series shows at its store and the total, and an
    override of a store node is spread over that store's series."""
    from dataclasses import asdict

    from forecasting.hierarchy.run import HierarchyConfig
    from forecasting.pipeline import ForecastConfig
    from tests.store.cycle_data import load_csv

    path = tmp_path / "s.csv"
    sales(36).to_csv(path, index=False)
    ws = open_workspace(tmp_path / "ws")
    rec = ws.add_dataset(load_csv(path), raw=path, name="s.csv", mapping={}, treatments=[])
    config = config_of("forecast", ForecastConfig(horizon=3, model="naive", season_length=12, engine="serial"))
    config["hierarchy"] = asdict(HierarchyConfig(None, "bottom_up"))
    run_id = ws.create_run("forecast", rec.id, config)
    execute_run(ws, run_id)
    add_override(ws, run_id, series="North / A-1", dates="2024-01-01", value=500, reason="promotion", user="ann")
    o = add_override(ws, run_id, series="store=South", dates="2024-02-01", percent=50, reason="event", user="bob")
    assert o.scope == "aggregate" and o.n_cells == 2                 # spread over South's two series
    f = final_forecasts(ws, run_id).set_index(["unique_id", "ds"])
    for d in (JAN, FEB, MAR):
        north = f.loc[("North / A-1", d), "final"] + f.loc[("North / B-2", d), "final"]
        south = f.loc[("South / A-1", d), "final"] + f.loc[("South / B-2", d), "final"]
        assert f.loc[("store=North", d), "final"] == pytest.approx(north)
        assert f.loc[("store=South", d), "final"] == pytest.approx(south)
        assert f.loc[("total", d), "final"] == pytest.approx(north + south)
    assert f.loc[("North / A-1", JAN), "final"] == 500
    assert f.loc[("store=South", FEB), "final"] == pytest.approx(1.5 * f.loc[("store=South", FEB), "forecast"])
    assert f.loc[("total", MAR), "override"] == 0
