"""The analyst's journey in a real browser: upload, map columns, backtest, forecast, download, check the files.

Runs the app with `streamlit run` on localhost and drives Debian's Chromium through Playwright
(see conftest.py). Screenshots go to artifacts/ (gitignored)."""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
expect = pytest.importorskip("playwright.sync_api").expect

from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TIMEOUT = 60_000          # ms for one step
RUN_TIMEOUT = 240_000     # ms for a backtest/forecast on 2 cores


def make_csv(path: Path, stores: tuple[str, ...], seed: int = 0, n: int = 48) -> Path:
    """Monthly units for stores x 2 SKUs with a yearly season (long layout, a price covariate)."""
    rng = np.random.default_rng(seed)
    months = pd.period_range("2019-01", periods=n, freq="M")
    rows = []
    for i, store in enumerate(stores):
        for sku in ("A-1", "B-2"):
            y = 200 + 50 * i + 40 * np.sin(2 * np.pi * np.arange(n) / 12) + rng.normal(0, 5, n)
            rows += [(str(m), store, sku, round(float(v), 1), 9.99) for m, v in zip(months, y)]
    pd.DataFrame(rows, columns=["month", "store", "sku", "units", "price"]).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- small page helpers

def open_app(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("text=Quality report", timeout=TIMEOUT)


def upload(page, path: Path) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    page.wait_for_selector(f"text={path.name}", timeout=TIMEOUT)
    page.wait_for_selector("text=Back to the sample data", timeout=TIMEOUT)


def widget(page, testid: str, label: str):
    return page.locator(f'[data-testid="{testid}"]').filter(has_text=label).first


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = widget(page, "stSelectbox", label)
    opt = page.get_by_role("option", name=re.compile(rf"^{re.escape(option)}")).first
    # a click that lands while the app reruns (an expander just opened) can leave the list closed: reopen it
    for attempt in range(3):
        box.click()
        try:
            opt.wait_for(state="visible", timeout=TIMEOUT // 3)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    opt.click()
    # the choice must show in the box before anything else is clicked (a slow machine can lag behind)
    expect(box).to_contain_text(option, timeout=TIMEOUT)
    settle(page)


def multiselect_remove(page, label: str, value: str) -> None:
    ms = widget(page, "stMultiSelect", label)
    tag = ms.locator(f'span[data-baseweb="tag"]:has(> span[title="{value}"]), '
                     f'span[data-baseweb="tag"]:has(> span[title^="{value} "])')
    tag.locator('span[role="presentation"]').click()


def multiselect_add(page, label: str, value: str) -> None:
    ms = widget(page, "stMultiSelect", label)
    ms.locator("input").fill(value)
    page.get_by_role("option", name=re.compile(rf"^{re.escape(value)}\b")).first.click()
    page.keyboard.press("Escape")


def set_number(page, label: str, value: int) -> None:
    box = widget(page, "stNumberInput", label).locator("input")
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(300)


def go_to(page, name: str, wait_text: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=name).click()
    page.wait_for_selector(f"text={wait_text}", timeout=TIMEOUT)


def settle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_timeout(500)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=RUN_TIMEOUT)


def download(page, label: str, tmp_path: Path) -> Path:
    with page.expect_download(timeout=RUN_TIMEOUT) as info:
        page.get_by_role("button", name=label).click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return target


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@contextlib.contextmanager
def browser_page(browser, failure: str, **context):
    """A page in a fresh browser context (its own session); a screenshot named ``failure`` if the test fails."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1500}, **context)
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        yield page
    except Exception:
        shot(page, failure)
        raise
    finally:
        ctx.close()


# ---------------------------------------------------------------- the journey

def test_upload_backtest_forecast_download(browser, app_url, tmp_path):
    csv = make_csv(tmp_path / "e2e_sales.csv", ("North", "South"))
    with browser_page(browser, "failure_journey", accept_downloads=True) as page:
        # 1-2. upload and map columns: one series per store (SKUs summed), target "units"
        open_app(page, app_url)
        upload(page, csv)
        choose(page, "Target (long layout)", "units")
        multiselect_remove(page, "Series id column", "sku")
        page.get_by_role("button", name="Apply").click()
        settle(page)
        series = widget(page, "stMetric", "Series")
        assert series.locator('[data-testid="stMetricValue"]').inner_text().strip() == "2"
        shot(page, "1_data")

        # 3. backtest seasonal_naive, sarima and a tiny GRU
        go_to(page, "Models", "Models to compare")
        for m in ("ets", "theta", "ensemble"):   # the page preselects these (ensemble: the suggested model)
            multiselect_remove(page, "Models to compare", m)
        multiselect_add(page, "Models to compare", "sarima")
        multiselect_add(page, "Models to compare", "gru")
        set_number(page, "Horizon", 6)
        set_number(page, "Windows", 2)
        page.get_by_text("Model settings and advanced options").click()
        set_number(page, "epochs", 2)
        set_number(page, "hidden units", 8)
        settle(page)
        page.get_by_role("button", name="Run backtest").click()
        page.wait_for_selector("text=Best model:", timeout=RUN_TIMEOUT)
        settle(page)
        shot(page, "2_models")
        page.get_by_role("tab", name="Training").click()
        page.wait_for_selector("text=Trained on:", timeout=TIMEOUT)
        page.get_by_role("tab", name="Per series").click()
        metrics = pd.read_csv(download(page, "Metrics (CSV)", tmp_path))
        assert set(metrics["model"]) == {"seasonal_naive", "sarima", "gru"}
        assert sorted(metrics["store"].unique()) == ["North", "South"] and len(metrics) == 6
        assert metrics["mase"].notna().all()
        page.get_by_role("tab", name="Backtest charts").click()
        page.locator('[data-testid="stPlotlyChart"]').first.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        shot(page, "3_models_backtest")

        # 4. forecast 6 months with seasonal ARIMA
        go_to(page, "Forecast", "Run forecast")
        set_number(page, "Horizon", 6)
        choose(page, "Model", "sarima")
        settle(page)
        page.get_by_role("button", name="Run forecast").click()
        page.wait_for_selector("text=Forecast numbers", timeout=RUN_TIMEOUT)
        settle(page)
        shot(page, "4_forecast")

        # 5-6. download the forecast CSV and the report, check their contents
        fc_path = download(page, "Forecast (CSV)", tmp_path)
        assert fc_path.name == "e2e_sales_forecast.csv"
        fc = pd.read_csv(fc_path)
        assert {"store", "date", "model", "forecast", "lo_80", "hi_80", "lo_95", "hi_95"} <= set(fc.columns)
        assert "sku" not in fc.columns and len(fc) == 2 * 6
        assert (fc["model"] == "sarima").all()
        assert pd.to_datetime(fc["date"]).min() == pd.Timestamp("2023-01-01")
        o = fc[["lo_95", "lo_80", "forecast", "hi_80", "hi_95"]].to_numpy()
        assert (np.diff(o, axis=1) >= -1e-9).all()
        # a seasonal series: the forecast follows last year's shape, within the 95% band of the truth
        north = fc[fc["store"] == "North"]["forecast"].to_numpy()
        truth = 2 * (200 + 40 * np.sin(2 * np.pi * np.arange(48, 54) / 12))
        assert np.abs(north - truth).max() < 60

        report = download(page, "Report (HTML)", tmp_path).read_text(encoding="utf-8")
        body = report.split("</head>", 1)[1]
        for section in ("dataset", "leaderboard", "forecasts", "settings", "reproduce"):
            assert f"<section id='{section}'>" in body
        assert "e2e_sales.csv" in report and "sarima" in body and "North" in body
        assert not re.search(r"<script[^>]+src=", report) and "https://" not in body
        pdf = download(page, "Report (PDF)", tmp_path).read_bytes()
        assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
        page.get_by_text("Total", exact=True).click()
        page.wait_for_selector("text=Total over all series", timeout=TIMEOUT)
        settle(page)
        page.get_by_role("button", name="Everything (zip)").scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        shot(page, "5_forecast_total_downloads")


def test_two_sessions_do_not_see_each_other(browser, app_url, tmp_path):
    """Two browser contexts (two analysts) upload different files into one running app."""
    a_csv = make_csv(tmp_path / "alpha.csv", ("Alphaville", "Betatown"), seed=1)
    b_csv = make_csv(tmp_path / "gamma.csv", ("Gammaford", "Deltaport"), seed=2)
    ctx_a, ctx_b = (browser.new_context(viewport={"width": 1300, "height": 900}) for _ in range(2))
    try:
        a, b = ctx_a.new_page(), ctx_b.new_page()
        for page, path in ((a, a_csv), (b, b_csv)):
            page.set_default_timeout(TIMEOUT)
            open_app(page, app_url)
            upload(page, path)
            settle(page)
        # A runs a backtest; B must see neither A's data nor A's results
        go_to(a, "Models", "Models to compare")
        for m in ("ets", "theta", "ensemble"):   # the page preselects these (ensemble: the suggested model)
            multiselect_remove(a, "Models to compare", m)
        a.get_by_role("button", name="Run backtest").click()
        a.wait_for_selector("text=Best model:", timeout=RUN_TIMEOUT)
        go_to(b, "Models", "Models to compare")
        settle(b)
        assert b.get_by_text("Choose models and settings, then").count() == 1   # no result in B's session
        assert b.get_by_text("Best model:").count() == 0
        for page, mine, theirs in ((a, "Alphaville", "Gammaford"), (b, "Gammaford", "Alphaville")):
            go_to(page, "Data", "Quality report")
            settle(page)
            widget(page, "stSelectbox", "Series to plot").click()
            options = page.get_by_role("option").all_inner_texts()
            page.keyboard.press("Escape")
            assert any(mine in o for o in options), options
            assert not any(theirs in o for o in options), options
            assert theirs not in page.content()
        # a third, fresh session still gets the bundled sample
        ctx_c = browser.new_context()
        c = ctx_c.new_page()
        open_app(c, app_url)
        assert "Alphaville" not in c.content() and "Gammaford" not in c.content()
        ctx_c.close()
    except Exception:
        shot(a, "failure_sessions_a")
        shot(b, "failure_sessions_b")
        raise
    finally:
        ctx_a.close()
        ctx_b.close()


def test_stop_keeps_the_results_so_far(browser, app_url):
    """Stop a backtest of the 12-series sample on the serial engine: the series finished so far stay."""
    with browser_page(browser, "failure_stop") as page:
        open_app(page, app_url)
        page.get_by_text("Where to compute").click()
        choose(page, "Engine", "serial")
        settle(page)
        go_to(page, "Models", "Models to compare")
        for m in ("ets", "theta", "ensemble"):
            multiselect_remove(page, "Models to compare", m)
        multiselect_add(page, "Models to compare", "sarima")
        settle(page)
        page.get_by_role("button", name="Run backtest").click()
        page.wait_for_selector("text=/Backtest: [0-9]+\\/12/", timeout=TIMEOUT)
        page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop", exact=True).click()
        page.wait_for_selector("text=Stopped: results for", timeout=RUN_TIMEOUT)
        done = int(re.search(r"results for (\d+) of 12", page.get_by_text("Stopped: results for").inner_text())[1])
        assert 1 <= done < 12
        page.wait_for_selector("text=Best model:", timeout=TIMEOUT)
        settle(page)
        shot(page, "6_models_stopped")
        # the app stays usable: a cheap run afterwards completes
        multiselect_remove(page, "Models to compare", "sarima")
        settle(page)
        page.get_by_role("button", name="Run backtest").click()
        page.wait_for_selector("text=Best model: seasonal_naive", timeout=RUN_TIMEOUT)
        assert page.get_by_text("Stopped: results for").count() == 0


def test_network_loss_curve_is_drawn_live(browser, app_url):
    """An LSTM backtest of the sample data: while it trains, the progress panel draws its loss by epoch."""
    with browser_page(browser, "failure_live_loss") as page:
        open_app(page, app_url)
        go_to(page, "Models", "Models to compare")
        for m in ("ets", "theta", "ensemble"):
            multiselect_remove(page, "Models to compare", m)
        multiselect_add(page, "Models to compare", "lstm")
        set_number(page, "Windows", 1)
        page.get_by_text("Model settings and advanced options").click()
        set_number(page, "epochs", 12)
        set_number(page, "early-stopping patience", 50)
        settle(page)
        page.get_by_role("button", name="Run backtest").click()
        page.wait_for_selector("text=lstm: loss by epoch", timeout=RUN_TIMEOUT)
        chart = page.locator('[data-testid="stVegaLiteChart"]')
        expect(chart.first).to_be_visible(timeout=TIMEOUT)
        shot(page, "7_models_live_loss")
        page.wait_for_selector("text=Best model:", timeout=RUN_TIMEOUT)
        settle(page)
        assert page.get_by_text("lstm: loss by epoch").count() == 0   # the panel goes when the run ends
        page.get_by_role("tab", name="Training").click()
        page.wait_for_selector("text=Trained on:", timeout=TIMEOUT)
