"""The training loop: progress events, cancelling, the NaN guard, out-of-memory retries, early stopping."""
import math

import numpy as np
import pytest
import torch

from forecasting.models.deep import loop
from forecasting.models.deep.loop import TrainingError
from forecasting.models.registry import create_model
from forecasting.progress import Cancelled

from .helpers import TINY, split, weekly_panel


@pytest.fixture
def train_df():
    return split(weekly_panel(n_series=2, periods=70), 7)[0]


def test_progress_events_carry_epoch_losses_and_eta(train_df):
    events = []
    m = create_model("lstm", season_length=7, horizon=7, progress=events.append,
                     **{**TINY, "max_epochs": 3, "patience": 10}).fit(train_df, "D")
    train_events = [e for e in events if e.stage == "train"]
    assert [e.extra["epoch"] for e in train_events] == [1, 2, 3]
    assert all(e.total == 3 and math.isfinite(e.extra["train_loss"]) and math.isfinite(e.extra["val_loss"])
               and e.extra["eta_s"] >= 0 for e in train_events)
    assert train_events[-1].extra["eta_s"] == 0
    assert [h["train_loss"] for h in m.fitted_settings()["history"]] == [e.extra["train_loss"] for e in train_events]


def test_cancel_keeps_the_model_trained_so_far(train_df):
    def cancel_after_first(ev):
        if ev.extra.get("epoch") == 1:
            raise Cancelled()
    m = create_model("gru", season_length=7, horizon=7, progress=cancel_after_first,
                     **{**TINY, "max_epochs": 5}).fit(train_df, "D")
    fs = m.fitted_settings()
    assert fs["epochs_run"] == 1 and fs["stopped"] == "cancelled" and "stopped by the user" in fs["notes"][0]
    assert np.isfinite(m.predict(7)["mean"]).all()


def test_nan_loss_restores_weights_and_lowers_learning_rate(train_df, monkeypatch):
    real = loop.pinball_loss
    calls = {"n": 0}

    def flaky(pred, target, mask, q):
        calls["n"] += 1
        out = real(pred, target, mask, q)
        return out * float("nan") if calls["n"] == 3 else out       # one NaN batch in the first epoch
    monkeypatch.setattr(loop, "pinball_loss", flaky)
    events = []
    m = create_model("gru", season_length=7, horizon=7, progress=events.append,
                     **{**TINY, "learning_rate": 0.01}).fit(train_df, "D")
    fs = m.fitted_settings()
    assert fs["learning_rate"] == pytest.approx(0.001) and fs["epochs_run"] == 2
    assert "NaN" in fs["notes"][0] and "lowered to 0.001" in fs["notes"][0]
    assert any(e.extra.get("nan_guard") for e in events)
    assert np.isfinite(m.predict(7)[["mean", "lo-95", "hi-95"]].to_numpy()).all()


def test_divergence_that_persists_stops_with_a_clear_message(train_df):
    with pytest.raises(TrainingError, match="diverged.*lower learning_rate"):
        create_model("lstm", season_length=7, horizon=7,
                     **{**TINY, "learning_rate": 1e30}).fit(train_df, "D")


def test_out_of_memory_retries_with_a_smaller_batch(train_df, monkeypatch):
    real = loop.DeviceData.batch

    def small_memory(self, starts):
        if len(starts) > 16:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(self, starts)
    monkeypatch.setattr(loop.DeviceData, "batch", small_memory)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    m = create_model("gru", season_length=7, horizon=7, **{**TINY, "batch_size": 64}).fit(train_df, "D")
    fs = m.fitted_settings()
    assert fs["batch_size"] == 16 and fs["epochs_run"] == 2
    assert "out of memory at batch size 64" in fs["notes"][0] and "with 16" in fs["notes"][1]


def test_early_stopping_keeps_the_best_weights(train_df):
    m = create_model("gru", season_length=7, horizon=7,
                     **{**TINY, "max_epochs": 40, "patience": 2, "learning_rate": 0.05}).fit(train_df, "D")
    fs = m.fitted_settings()
    vals = [h["val_loss"] for h in fs["history"]]
    assert fs["stopped"] == "early_stopping" and fs["epochs_run"] < 40
    assert fs["best_val_loss"] == pytest.approx(min(vals))
    assert fs["best_epoch"] == int(np.argmin(vals)) + 1 == fs["epochs_run"] - 2
    # the kept weights are the best epoch's: re-evaluating the validation windows gives its loss
    val = m.state_["validation"]
    q = torch.tensor(m.state_["quantiles"])
    again = loop.pinball_loss(torch.as_tensor(val.pred), torch.as_tensor(val.target), torch.as_tensor(val.mask), q)
    assert float(again) == pytest.approx(min(vals), rel=1e-4)


def test_small_data_epochs_reuse_windows(train_df):
    m = create_model("gru", season_length=7, horizon=7, **{**TINY, "batch_size": 512}).fit(train_df, "D")
    fs = m.fitted_settings()
    assert fs["batch_size"] == fs["train_windows"] < 512        # a batch never exceeds the data
    assert fs["steps"] == 2 * 25                                # min_steps_per_epoch, not 1 step per epoch


def test_nan_guard_without_per_step_checks_as_on_a_gpu(train_df, monkeypatch):
    """On CUDA the loss is checked every 50 steps and at the epoch's end (no host sync per step)."""
    real = loop.pinball_loss
    calls = {"n": 0}

    def flaky(pred, target, mask, q):
        calls["n"] += 1
        out = real(pred, target, mask, q)
        return out * float("nan") if calls["n"] == 3 else out
    monkeypatch.setattr(loop, "pinball_loss", flaky)
    seen = {}
    real_train = loop.train

    def train(*a, **k):
        cfg = a[5]
        cfg.check_every_step = False
        rep = real_train(*a, **k)
        seen["rep"] = rep
        return rep
    monkeypatch.setattr(loop, "train", train)
    m = create_model("gru", season_length=7, horizon=7, **{**TINY, "learning_rate": 0.01}).fit(train_df, "D")
    fs = m.fitted_settings()
    assert fs["learning_rate"] == pytest.approx(0.001) and "NaN" in fs["notes"][0]
    assert np.isfinite(m.predict(7)["mean"]).all()
