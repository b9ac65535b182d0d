"""The sidebar's "Where to compute" block: choice stored per session, address checked, large-data warning."""
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app_settings import LARGE_SERIES, EngineSettings, address_problem
from forecasting.data.contract import Dataset, validate_long

pytestmark = pytest.mark.slow


def dataset(n_series: int) -> Dataset:
    ds = pd.date_range("2024-01-01", periods=10, freq="D")
    df = pd.concat(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": np.arange(10.0)}) for i in range(n_series))
    return Dataset(validate_long(df), freq="D")


def open_app(n_series: int) -> AppTest:
    at = AppTest.from_file("app.py", default_timeout=120)
    at.run()   # the entry script first (it draws the sidebar; the Data page opens the sample) …
    at.session_state["dataset"] = dataset(n_series)   # … then this session's data, as the Data page leaves it
    at.switch_page("pages/2_Explore.py").run()
    assert not at.exception, at.exception
    return at


def warnings(at):
    return [w.value for w in at.sidebar.warning]


def test_serial_on_large_data_warns_and_choice_is_stored():
    at = open_app(LARGE_SERIES + 50)
    assert at.session_state["engine_settings"] == EngineSettings("local", None, None)
    assert not warnings(at)
    at.sidebar.selectbox(key="engine_choice").set_value("serial").run()
    assert at.session_state["engine_settings"].engine == "serial"
    assert any(f"{LARGE_SERIES + 50:,} series" in w and "serial" in w for w in warnings(at))
    at.sidebar.selectbox(key="engine_choice").set_value("dask").run()
    at.sidebar.text_input(key="engine_address").input("tcp://127.0.0.1:8786").run()
    assert at.session_state["engine_settings"] == EngineSettings("dask", "tcp://127.0.0.1:8786", None)
    assert not warnings(at)


def test_small_data_on_serial_does_not_warn_and_bad_address_is_explained():
    at = open_app(3)
    at.sidebar.selectbox(key="engine_choice").set_value("serial").run()
    assert not warnings(at)
    at.sidebar.selectbox(key="engine_choice").set_value("dask").run()
    at.sidebar.text_input(key="engine_address").input("localhost").run()
    assert any("tcp://HOST:PORT" in e.value for e in at.sidebar.error)
    assert at.session_state["engine_settings"].address is None      # a bad address is never used


def test_address_rules():
    assert address_problem("tcp://10.0.0.5:8786") is None
    assert address_problem("tcp://scheduler.internal:8786") is None
    assert address_problem("") is None
    assert "tcp://HOST:PORT" in address_problem("10.0.0.5:8786")
    assert "out of range" in address_problem("tcp://h:99999")
