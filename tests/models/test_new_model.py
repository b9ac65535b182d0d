"""A new model with one setting is one file plus one registry line: registered, it is in the CLI (listing,
settings, --set checked), on the Models page (its setting as a widget, made from the declaration) and passes
the shared protocol check."""
import os

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from forecasting.cli import main
from forecasting.models.capabilities import Capabilities
from forecasting.models.registry import MODELS, ModelSpec
from tests.models.protocol import check_protocol

LINE = ModelSpec("last_plus", "tests.models.toy_model", "LastPlus", Capabilities(), "last value plus a lift")


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(MODELS, "last_plus", LINE)      # the one registry line


@pytest.fixture
def registered_in_workers(registered, tmp_path, monkeypatch):
    """The same registry line in the worker processes the app starts for its runs (their Python runs
    ``sitecustomize.py`` first, found through PYTHONPATH)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "from forecasting.models.capabilities import Capabilities\n"
        "from forecasting.models.registry import MODELS, ModelSpec\n"
        "MODELS['last_plus'] = ModelSpec('last_plus', 'tests.models.toy_model', 'LastPlus', Capabilities(), "
        "'last value plus a lift')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p))


def test_protocol_check(registered):
    check_protocol("last_plus")


def test_cli_lists_checks_and_runs_it(registered, tmp_path, capsys):
    assert main(["models"]) == 0
    assert "last_plus" in capsys.readouterr().out
    assert main(["models", "--settings", "last_plus"]) == 0
    assert "last_plus.lift=0.0  added to the last value" in capsys.readouterr().out
    data = tmp_path / "sales.csv"
    pd.DataFrame({"date": pd.date_range("2022-01-01", periods=30, freq="D"), "units": range(30)}).to_csv(data, index=False)
    out = tmp_path / "fc.csv"
    base = ["forecast", str(data), "--horizon", "3", "--model", "last_plus", "--engine", "serial", "--output", str(out)]
    assert main(base + ["--set", "last_plus.bogus=1"]) == 2
    assert "last_plus has no setting 'bogus'; its settings: lift" in capsys.readouterr().err
    assert main(base + ["--set", "last_plus.lift=-1"]) == 2
    assert "last_plus: setting lift must be a number of at least 0 (got -1)" in capsys.readouterr().err
    assert main(base + ["--set", "last_plus.lift=5"]) == 0
    assert pd.read_csv(out)["forecast"].tolist() == [34.0, 34.0, 34.0]


def test_models_page_shows_its_setting_and_runs_it(registered_in_workers):
    from tests.app.test_forecast_page import two_level_dataset
    from ui.sidebar import EngineSettings

    at = AppTest.from_file("app.py", default_timeout=180)
    at.session_state["engine_settings"] = EngineSettings("serial")
    at.session_state["dataset"] = two_level_dataset()
    at.switch_page("pages/3_Models.py").run()
    assert not at.exception, at.exception
    assert not [n for n in at.number_input if n.key == "set_last_plus_lift"]
    at.multiselect(key="models_choice").set_value(["naive", "last_plus"]).run()
    lift = at.number_input(key="set_last_plus_lift")             # made from the toy's declaration
    assert (lift.label, lift.value, lift.min) == ("lift", 0.0, 0.0)
    assert lift.help.startswith("added to the last value")
    lift.set_value(5.0)
    at.number_input(key="bt_horizon").set_value(3)
    at.number_input(key="bt_windows").set_value(1)
    at.button(key="run_backtest").click().run()
    assert not at.exception, at.exception
    store = at.session_state["results"]
    res = store["entries"]["backtest"][store["latest"]["backtest"]]["result"]
    assert res.info["config"]["model_params"]["last_plus"] == {"lift": 5.0}
    hist = two_level_dataset().df
    fc = res.forecasts[(res.forecasts["model"] == "last_plus") & (res.forecasts["unique_id"] == "North / A")]
    y = hist[hist["unique_id"] == "North / A"].set_index("ds")["y"]
    last = y[y.index <= fc["cutoff"].iloc[0]].iloc[-1]
    np.testing.assert_allclose(fc["forecast"], last + 5.0)
