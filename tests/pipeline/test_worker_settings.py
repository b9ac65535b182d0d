"""Model settings sent to worker processes leave the progress callback behind: a network's callback (a
lambda, as the CLI and the app give it) stays in the driver, where the network trains, and the per-series
models on the process pool still run."""
import pickle

import pytest

from forecasting.pipeline import BacktestConfig, run_backtest
from forecasting.pipeline.per_series import worker_job
from forecasting.pipeline.plan import Job
from tests.pipeline.test_backtest import make_dataset


def test_the_job_for_workers_has_no_callbacks():
    job = Job(h=3, levels=[80], season_length=12, params={"naive": {}, "gru": {"max_epochs": 1,
              "progress": lambda ev: None}}, non_negative=False, seed=0, freq="MS")
    with pytest.raises(Exception):
        pickle.dumps(job)
    sent = worker_job(job)
    assert sent.params == {"naive": {}, "gru": {"max_epochs": 1}}
    assert pickle.loads(pickle.dumps(sent)).params == sent.params
    assert "progress" in job.params["gru"]          # the driver's settings keep the callback


@pytest.mark.slow
def test_backtest_on_the_process_pool_with_a_network_reporting_progress():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    d = make_dataset(n_series=2, n=48)
    epochs: list = []
    params = {"gru": {"max_epochs": 2, "hidden_size": 4, "num_threads": 1,
                      "progress": lambda ev: epochs.append(ev.extra["epoch"]) if "epoch" in ev.extra else None}}
    cfg = BacktestConfig(horizon=3, models=["naive", "gru"], windows=1, engine="local", n_workers=2,
                         model_params=params)
    res = run_backtest(d, cfg)
    assert set(res.metrics["model"]) == {"naive", "gru"} and res.metrics["fallback"].eq("").all()
    assert epochs and max(epochs) <= 2                  # the network reported to the driver's callback
    serial = run_backtest(d, BacktestConfig(horizon=3, models=["naive"], windows=1, engine="serial"))
    naive = res.forecasts[res.forecasts["model"] == "naive"].reset_index(drop=True)
    assert naive[["unique_id", "ds", "forecast"]].equals(serial.forecasts[["unique_id", "ds", "forecast"]])
