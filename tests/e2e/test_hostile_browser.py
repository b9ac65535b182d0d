"""The worst files of the hostile catalog (tests/hostile.py) uploaded through the Data page in a real browser.

Each must give one readable error line (the same words as the CLI), never Streamlit's exception box or a
traceback, without the server's memory running away; the analyst's dataset from before stays in use (the
workspace keeps it and a reload reopens it). Column names built as Markdown (a remote image, a
``javascript:`` link) must make the browser fetch nothing and render no link."""
from __future__ import annotations

import re
import threading
import time

import pytest

pytest.importorskip("playwright.sync_api")

from forecasting.store import open_workspace
from forecasting.store.workspace import home
from tests.e2e.test_browser_journey import TIMEOUT, browser_page, choose, go_to, make_csv, open_app, settle, widget
from tests.hostile import catalog

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WORST = ["xlsx_member_expands_to_600MB", "parquet_struct_column", "date_year_9999", "nul_byte_deep"]
MEMORY_GROWTH = 1 << 30        # the 600 MB sheet took the CLI to 4.6 GB before the limits


def _server(app_url: str):
    """The `streamlit run` process behind ``app_url`` (a child of this pytest process)."""
    import psutil

    port = app_url.rsplit(":", 1)[1]
    for p in psutil.Process().children(recursive=True):
        try:
            cmd = p.cmdline()
        except psutil.Error:
            continue
        if "streamlit" in " ".join(cmd) and port in cmd:
            return p
    pytest.fail(f"no streamlit process on port {port}")


class PeakMemory:
    """Samples a process's resident memory every 50 ms while in the block."""

    def __init__(self, proc):
        self.proc, self.peak, self._stop = proc, proc.memory_info().rss, threading.Event()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except Exception:
                return
            time.sleep(0.05)

    def __enter__(self):
        self.start = self.peak
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def _upload(page, path) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    page.wait_for_selector(f"text={path.name}", timeout=TIMEOUT)


def _series_metric(page) -> str:
    return widget(page, "stMetric", "Series").locator('[data-testid="stMetricValue"]').inner_text().strip()


def _ws_id(page) -> str:
    m = re.search(r"[?&]ws=([0-9a-f]{32})", page.url)
    assert m, page.url
    return m[1]


def test_worst_hostile_files_through_the_data_page(browser, app_url, tmp_path):
    cases = {c.name: c for c in catalog()}
    requested: list[str] = []
    with browser_page(browser, "failure_hostile") as page:
        page.on("request", lambda r: requested.append(r.url))
        open_app(page, app_url)
        page.wait_for_url(re.compile(r"ws=[0-9a-f]{32}"), timeout=TIMEOUT)
        wid = _ws_id(page)

        # column names that are Markdown: an image on a remote host and a javascript: link
        pixel, link = "![x](http://pixel.invalid/p.png)", "[click](javascript:alert(1))"
        md = tmp_path / "markdown_names.csv"
        md.write_text(f"date,units,{pixel},{link}\n"
                      + "".join(f"2024-01-{d:02d},{d},note {d},other {d}\n" for d in range(1, 29)))
        _upload(page, md)
        page.wait_for_selector("text=Quality report", timeout=TIMEOUT)
        settle(page)
        page.get_by_text("What ingest did").click()                      # the notes name the columns
        page.wait_for_timeout(500)
        body = page.locator('[data-testid="stExpander"]').filter(has_text="What ingest did").inner_text()
        assert "pixel.invalid" in body and "javascript" in body          # the names are shown as text …
        assert any(u.startswith(app_url) for u in requested)            # (the listener sees the app's requests)
        assert not [u for u in requested if "pixel.invalid" in u]       # … the browser fetched nothing …
        assert page.locator('a[href^="javascript"]').count() == 0       # … and no link was made
        assert page.locator('img[src*="pixel.invalid"]').count() == 0

        # the analyst's own data: 2 stores (SKUs summed below), the state the hostile files must not lose
        good = make_csv(tmp_path / "good_sales.csv", ("North", "South"))
        _upload(page, good)
        page.wait_for_selector("text=Quality report", timeout=TIMEOUT)
        settle(page)
        assert _series_metric(page) == "4"

        server = _server(app_url)
        for name in WORST:
            case = cases[name]
            path = case.make(tmp_path)
            with PeakMemory(server) as mem:
                _upload(page, path)
                alert = page.locator('[data-testid="stAlertContentError"]').filter(has_text=path.name)
                alert.first.wait_for(timeout=TIMEOUT)
                settle(page)
            errors = [e.inner_text() for e in page.locator('[data-testid="stAlertContentError"]').all()]
            assert len(errors) == 1, (name, errors)
            for want in case.stderr:
                assert want.lower() in errors[0].lower(), (name, want, errors[0])
            assert "unexpected problem" not in errors[0], errors[0]
            assert page.locator('[data-testid="stException"]').count() == 0, name
            assert "Traceback" not in page.locator("body").inner_text(), name
            assert mem.peak - mem.start < MEMORY_GROWTH, (name, mem.start >> 20, mem.peak >> 20)

        # no lost state: the other pages still use the good data, the workspace never kept a hostile file,
        # and a reload reopens the good file
        go_to(page, "Explore", "Explore")
        settle(page)
        choose(page, "Look at", "Per store")          # offered only for the good file's id columns
        assert page.locator('[data-testid="stException"]').count() == 0
        assert "North" in widget(page, "stSelectbox", "Series").inner_text()
        ws = open_workspace(home() / "workspaces" / wid, create=False)
        kept = [d.name for d in ws.list_datasets()]
        assert "good_sales.csv" in kept
        assert not [k for k in kept if k.endswith((".xlsx", ".parquet")) or k.startswith(("y9999", "nul_"))], kept
        page.goto(f"{app_url}/?ws={wid}")
        page.wait_for_selector("text=Quality report", timeout=TIMEOUT)
        settle(page)
        assert _series_metric(page) == "4"
        assert page.get_by_text("good_sales.csv").count() >= 1
        assert server.is_running()
