"""A new model with one setting is one file plus one registry line: registered, it is in the CLI (listing,
settings, --set checked) and passes the shared protocol check."""
import pandas as pd
import pytest

from forecasting.cli import main
from forecasting.models.capabilities import Capabilities
from forecasting.models.registry import MODELS, ModelSpec
from tests.models.protocol import check_protocol

LINE = ModelSpec("last_plus", "tests.models.toy_model", "LastPlus", Capabilities(), "last value plus a lift")


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(MODELS, "last_plus", LINE)      # the one registry line


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
