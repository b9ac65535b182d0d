"""The sidebar's "Where to compute" block: choice stored per session, address checked, large-data warning."""
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ui.sidebar import LARGE_SERIES, EngineSettings, address_problem
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


def test_serial_on_large_data_warns_and_choice_is_stored(monkeypatch):
    monkeypatch.setenv("SALESCAST_DASK_ALLOW_ANY_ADDRESS", "1")     # the administrator allows any address
    at = open_app(LARGE_SERIES + 50)
    assert at.session_state["engine_settings"] == EngineSettings("local", None, None)
    assert not warnings(at)
    at.sidebar.selectbox(key="engine_choice").set_value("serial").run()
    assert at.session_state["engine_settings"].engine == "serial"
    assert any(f"{LARGE_SERIES + 50:,} series" in w and "serial" in w for w in warnings(at))
    at.sidebar.selectbox(key="engine_choice").set_value("dask").run()
    at.sidebar.text_input(key="engine_address").input("tcp://127.0.0.1:8786").run()
    assert at.session_state["engine_settings"] == EngineSettings("dask", "tcp://127.0.0.1:8786", None)
    assert [w for w in warnings(at) if "trust" in w] and not [w for w in warnings(at) if "serial" in w]


def test_small_data_on_serial_does_not_warn_and_bad_address_is_explained(monkeypatch):
    monkeypatch.setenv("SALESCAST_DASK_ALLOW_ANY_ADDRESS", "1")
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


def test_dask_addresses_come_from_the_administrator(monkeypatch):
    monkeypatch.delenv("SALESCAST_DASK_ALLOW_ANY_ADDRESS", raising=False)
    monkeypatch.setenv("SALESCAST_DASK_ADDRESSES", "tcp://10.0.0.5:8786, tls://sched.internal:8786, bogus")
    at = open_app(3)
    at.sidebar.selectbox(key="engine_choice").set_value("dask").run()
    typed = lambda: [t for t in at.sidebar.text_input if t.key == "engine_address"]  # noqa: E731
    assert not typed()                             # no free typing: users pick from the list
    assert at.sidebar.selectbox(key="engine_scheduler").options == [
        "a local Dask cluster on this machine", "tcp://10.0.0.5:8786", "tls://sched.internal:8786"]
    at.sidebar.selectbox(key="engine_scheduler").set_value("tls://sched.internal:8786").run()
    assert at.session_state["engine_settings"] == EngineSettings("dask", "tls://sched.internal:8786", None)
    monkeypatch.delenv("SALESCAST_DASK_ADDRESSES")
    at = open_app(3)
    at.sidebar.selectbox(key="engine_choice").set_value("dask").run()
    assert not typed() and at.session_state["engine_settings"].address is None


def test_tls_security_from_the_administrators_files(monkeypatch, tmp_path):
    from forecasting.engines.dask_engine import security

    assert security("tcp://h:1") is None
    monkeypatch.setenv("SALESCAST_DASK_TLS_CA_FILE", str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SALESCAST_DASK_TLS_CERT", str(tmp_path / "client.pem"))
    sec = security("tls://h:1")
    assert sec.require_encryption and sec.tls_ca_file == str(tmp_path / "ca.pem")
    assert sec.tls_client_cert == str(tmp_path / "client.pem")
