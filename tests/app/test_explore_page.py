"""Explore page driven by AppTest on the bundled sample data (3 stores x 4 products, daily) and on a
short monthly dataset that forces the fallbacks."""
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from forecasting.data.contract import Dataset, validate_long

pytestmark = pytest.mark.slow


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def open_explore() -> AppTest:
    at = AppTest.from_file("app.py", default_timeout=180)
    at.run()
    at.switch_page("pages/2_Explore.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_explore_on_the_sample_data():
    at = open_explore()
    assert not at.error
    # total of the daily sample: weekly and yearly seasonality found, summary card filled
    m = metrics(at)
    assert m["Seasonal periods"] == "7, 365.25"
    assert float(m["Seasonal strength"]) > 0.5
    assert m["Demand class"] in {"smooth", "erratic", "intermittent", "lumpy"}
    assert m["Stationary"] in {"yes", "no", "unclear"}
    assert int(m["Anomalies"]) >= 0
    assert any("not stationary" in md.value or "stationary" in md.value for md in at.markdown)
    labels = [b.label for b in at.get("download_button")]
    assert {"Chart as HTML", "Chart as PNG", "Components of this series (CSV)", "Seasonal indices (CSV)"} <= set(labels)

    # per store: three series, the table of all series, sortable dataframe with one row each
    at.selectbox(key="explore_level").set_value(("column", "store")).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="explore_series_column_store").options == ["Berlin", "Hamburg", "Munich"]
    tables = [d.value for d in at.dataframe if "demand_class" in d.value.columns]
    assert len(tables) == 1 and len(tables[0]) == 3

    # one series, MSTL with given periods, then classical multiplicative
    at.selectbox(key="explore_level").set_value(("series", None)).run()
    at.selectbox(key="explore_series_series_None").set_value("Munich / Tea")
    at.selectbox(key="explore_method").set_value("mstl")
    at.text_input(key="explore_periods").set_value("7,365.25")
    at.checkbox(key="explore_adjusted").check().run()
    assert not at.exception, at.exception
    assert any("Munich / Tea" in md.value for md in at.markdown)
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert "seasonally adjusted" in specs[0]                   # the series chart's overlay
    assert any("seasonal 365" in sp and "seasonal 7" in sp for sp in specs)   # stacked MSTL panels
    at.selectbox(key="explore_method").set_value("classical")
    at.radio(key="explore_model").set_value("multiplicative")
    at.text_input(key="explore_periods").set_value("7").run()
    assert not at.exception, at.exception
    idx = [d.value for d in at.dataframe if "position" in d.value.columns]
    assert idx and list(idx[0]["position"]) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def test_bad_period_is_a_readable_error():
    at = open_explore()
    at.text_input(key="explore_periods").set_value("weekly").run()
    assert not at.exception
    assert any("not a number" in e.value for e in at.error)


def test_short_monthly_series_falls_back_without_crashing():
    y = 50 + np.arange(18, dtype=float)
    y[5] = np.nan
    df = validate_long(pd.DataFrame({"unique_id": "total", "ds": pd.date_range("2023-01-01", periods=18, freq="MS"),
                                     "y": y}))
    at = AppTest.from_file("app.py", default_timeout=120)
    at.session_state["dataset"] = Dataset(df, "MS", "month", "sales", source="short.csv")
    at.switch_page("pages/2_Explore.py").run()
    assert not at.exception, at.exception
    m = metrics(at)
    assert m["Seasonal periods"] == "none" and m["Seasonal strength"] == "n/a"
    captions = " ".join(c.value for c in at.caption)
    assert "two full seasons" in captions and "interpolated" in captions
