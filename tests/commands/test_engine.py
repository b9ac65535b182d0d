"""CLI: backtest, forecast and models — good input end to end, bad input gets one clear error line."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from forecasting.cli import main


@pytest.fixture
def sales_csv(tmp_path):
    rng = np.random.default_rng(0)
    months = pd.period_range("2016-01", periods=48, freq="M").astype(str)
    rows = []
    for store in ["North", "South"]:
        t = np.arange(48)
        y = 100 + (store == "North") * 50 + t + 20 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, 48)
        rows += [(m, store, round(v, 1)) for m, v in zip(months, y)]
    p = tmp_path / "sales.csv"
    pd.DataFrame(rows, columns=["month", "store", "units"]).to_csv(p, index=False)
    return p


COLS = ["--date-col", "month", "--target-col", "units", "--id-cols", "store", "--engine", "serial"]


def test_backtest_csv_json_and_forecasts(sales_csv, tmp_path, capsys):
    out, fc = tmp_path / "m.csv", tmp_path / "f.csv"
    rc = main(["backtest", str(sales_csv), *COLS, "--horizon", "6", "--windows", "2", "--models", "naive,seasonal_naive",
               "--levels", "80,95", "--save-forecasts", str(fc), "--output", str(out)])
    assert rc == 0
    m = pd.read_csv(out)
    assert list(m.columns[:2]) == ["store", "model"] and len(m) == 4
    assert {"mae", "rmse", "mape", "smape", "mase", "rmsse", "wape", "bias", "coverage_80", "coverage_95",
            "settings", "fallback"} <= set(m.columns)
    f = pd.read_csv(fc)
    assert len(f) == 2 * 2 * 2 * 6 and {"store", "cutoff", "date", "actual", "lo_95"} <= set(f.columns)
    # the metrics file agrees with the saved forecasts
    g = f[(f.store == "North") & (f.model == "naive")]
    assert m[(m.store == "North") & (m.model == "naive")]["mae"].iloc[0] == pytest.approx(
        (g.forecast - g.actual).abs().mean(), rel=1e-6)
    js = tmp_path / "m.json"
    assert main(["backtest", str(sales_csv), *COLS, "--horizon", "3", "--windows", "1", "--models", "drift",
                 "--seed", "1", "--output", str(js)]) == 0
    doc = json.loads(js.read_text())
    assert {"metrics", "summary", "info"} <= set(doc) and doc["metrics"][0]["model"] == "drift"
    assert "backtest:" in capsys.readouterr().err


def test_forecast_csv_and_xlsx_with_settings(sales_csv, tmp_path):
    out = tmp_path / "fc.csv"
    assert main(["forecast", str(sales_csv), *COLS, "--horizon", "4", "--model", "sarima",
                 "--set", "sarima.order=0,1,1", "--set", "sarima.seasonal_order=0,1,1", "--levels", "90",
                 "--output", str(out)]) == 0
    f = pd.read_csv(out)
    assert list(f.columns) == ["store", "date", "model", "forecast", "lo_90", "hi_90"]
    assert f["date"].min() == "2020-01-01" and len(f) == 8
    xl = tmp_path / "fc.xlsx"
    assert main(["forecast", str(sales_csv), *COLS, "--horizon", "2", "--model", "naive", "--output", str(xl)]) == 0
    sheets = pd.read_excel(xl, sheet_name=None)
    assert set(sheets) == {"forecast", "settings"} and len(sheets["forecast"]) == 4


def test_single_series_uses_series_column(tmp_path):
    p = tmp_path / "one.csv"
    pd.DataFrame({"month": pd.period_range("2018-01", periods=30, freq="M").astype(str),
                  "sales": np.arange(30) + 10.0}).to_csv(p, index=False)
    out = tmp_path / "o.csv"
    assert main(["forecast", str(p), "--horizon", "3", "--model", "drift", "--engine", "serial", "--output", str(out)]) == 0
    f = pd.read_csv(out)
    assert f.columns[0] == "series" and np.allclose(f["forecast"], [40, 41, 42])


@pytest.mark.parametrize("args,msg", [
    (["--horizon", "6", "--models", "nope"], "unknown model 'nope'"),
    (["--horizon", "0", "--models", "naive"], "horizon"),
    (["--horizon", "6", "--models", "naive", "--levels", "80,150"], "levels"),
    (["--horizon", "6", "--models", "naive", "--set", "sarima.order=1,1,1"], "not among the chosen"),
    (["--horizon", "6", "--models", "sarima", "--set", "sarima.ordr=1,1,1"], "has no setting 'ordr'"),
    (["--horizon", "6", "--models", "naive", "--set", "bad"], "MODEL.PARAM=VALUE"),
    # a network's bad values stop the run before any work (they used to fall back on every series)
    (["--horizon", "6", "--models", "gru", "--set", "gru.holiday_country=XX"], "unknown holiday_country 'XX'"),
    (["--horizon", "6", "--models", "gru", "--set", "gru.learning_rate=-1"], "learning_rate must be"),
    (["--horizon", "6", "--models", "lstm", "--set", "lstm.patch_len=0"], "patch_len must be at least 1"),
    (["--horizon", "6", "--models", "transformer", "--set", "transformer.n_heads=3"], "multiple of n_heads (3)"),
    (["--horizon", "6", "--models", "gru", "--set", "gru.device=tpu"], "unknown device 'tpu'"),
])
def test_backtest_bad_input(sales_csv, tmp_path, capsys, args, msg):
    rc = main(["backtest", str(sales_csv), *COLS, *args, "--output", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and msg in err and err.strip().splitlines()[-1].startswith("error:")
    assert not (tmp_path / "x.csv").exists()


def test_bad_output_suffix_and_missing_file(sales_csv, tmp_path, capsys):
    assert main(["forecast", str(sales_csv), *COLS, "--horizon", "3", "--output", str(tmp_path / "x.parquet")]) == 2
    assert "--output must end in .csv or .xlsx" in capsys.readouterr().err
    assert main(["backtest", str(tmp_path / "missing.csv"), "--horizon", "3", "--output", str(tmp_path / "x.csv")]) == 2
    assert "error:" in capsys.readouterr().err


def test_subprocess_models_and_error_exit(sales_csv, tmp_path):
    p = subprocess.run([sys.executable, "-m", "forecasting", "models", "--json"], capture_output=True, text=True)
    assert p.returncode == 0
    names = [m["name"] for m in json.loads(p.stdout)]
    assert {"sarima", "ets", "auto", "lstm"} <= set(names)
    p = subprocess.run([sys.executable, "-m", "forecasting", "forecast", str(sales_csv), "--horizon", "x",
                        "--output", str(tmp_path / "o.csv")], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr


def test_models_all_and_value_parsing():
    from forecasting.commands.backtest import parse_levels, parse_models, parse_settings

    names = parse_models("all")
    assert "sarima" in names and "croston" in names
    assert not {"auto", "ensemble", "lstm", "gru", "transformer"} & set(names)
    assert parse_models("all,ensemble")[-1] == "ensemble"
    assert parse_levels("95,80") == [80, 95]
    s = parse_settings(["ets.damped=false", "ets.maxiter=50", "ensemble.models=ets,theta"], ["ets", "ensemble"])
    assert s == {"ets": {"damped": False, "maxiter": 50}, "ensemble": {"models": "ets,theta"}}


def test_network_settings_are_checked_together():
    from forecasting.commands.backtest import parse_settings
    from forecasting.errors import ConfigError

    got = parse_settings(["transformer.hidden_size=48", "transformer.n_heads=3"], ["transformer"])
    assert got == {"transformer": {"hidden_size": 48, "n_heads": 3}}      # 48 heads of 16: valid only together
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU is available"):
            parse_settings(["gru.device=cuda"], ["gru"])
