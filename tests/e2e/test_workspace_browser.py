"""Workspaces in a real browser: a backtest survives navigation and a reload; the ?ws= link reopens the
same dataset and results; with SALESCAST_AUTH_HEADER two users never see each other's workspaces."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("playwright.sync_api")

from forecasting.store import open_workspace
from forecasting.store.workspace import home
from tests.e2e.conftest import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, ROOT, _free_port
from tests.e2e.test_browser_journey import RUN_TIMEOUT, TIMEOUT, go_to, settle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def ws_id(page) -> str:
    m = re.search(r"[?&]ws=([0-9a-f]{32})", page.url)
    assert m, page.url
    return m[1]


def test_backtest_survives_navigation_and_reload(browser, app_url):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    try:
        page.goto(app_url)
        page.wait_for_selector("text=Quality report", timeout=TIMEOUT)
        page.wait_for_url(re.compile(r"ws=[0-9a-f]{32}"), timeout=TIMEOUT)
        wid = ws_id(page)
        go_to(page, "Models", "Models to compare")
        settle(page)
        page.get_by_role("button", name="Run backtest").click()
        page.wait_for_selector("text=/Backtest: [0-9]+\\/12 series/", timeout=RUN_TIMEOUT)
        go_to(page, "Explore", "Explore")                    # look around while it runs
        page.wait_for_timeout(1500)
        assert ws_id(page) == wid                              # the link keeps the workspace
        go_to(page, "Models", "Models to compare")
        page.wait_for_selector("text=Best model:", timeout=RUN_TIMEOUT)
        settle(page)
        ws = open_workspace(home() / "workspaces" / wid, create=False)
        runs = ws.list_runs("backtest")
        assert [r.status for r in runs] == ["finished"] and runs[0].series_done == 12   # nothing stopped it
        best = page.get_by_text("Best model:").inner_text()
        page.reload()                                          # a reload reopens the same data and results
        page.wait_for_selector("text=Best model:", timeout=RUN_TIMEOUT)
        settle(page)
        assert page.get_by_text("Best model:").inner_text() == best
        assert page.get_by_text("12 series").count() >= 1
        assert ws_id(page) == wid and len(ws.list_runs()) == 1  # shown from the store, not run again
        other = ctx.new_page()                                  # a new tab with the link: the same workspace
        other.goto(f"{app_url}/Runs?ws={wid}")
        other.wait_for_selector("text=1 run(s) in this workspace", timeout=TIMEOUT)
        page.screenshot(path=str(ARTIFACTS / "ws_1_reloaded.png"))
    finally:
        ctx.close()
