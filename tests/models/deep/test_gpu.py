"""The CUDA path: device placement, bf16 autocast, TF32, device reporting. Skipped without CUDA."""
import numpy as np
import pytest
import torch

from forecasting.models.deep import device as dv
from forecasting.models.registry import create_model

from .helpers import TINY, deep_networks, split, weekly_panel

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("name", deep_networks())
def test_trains_and_forecasts_on_cuda(name):
    train, test = split(weekly_panel(n_series=3, periods=80, promo=True), 7)
    m = create_model(name, season_length=7, horizon=7, **{**TINY, "device": "cuda"}).fit(train, "D")
    assert next(m.net_.parameters()).device.type == "cuda"
    assert m.fitted_settings()["device"].startswith("cuda:")
    assert torch.backends.cuda.matmul.allow_tf32
    out = m.predict(7, test.drop(columns="y"))
    assert len(out) == 21 and np.isfinite(out[["mean", "lo-95", "hi-95"]].to_numpy()).all()


def test_auto_picks_cuda_and_the_gpu_preset():
    assert dv.choose_device("auto").type == "cuda"
    m = create_model("gru", season_length=7, horizon=7, device="auto", max_epochs=1)
    assert m.resolved("cuda")["hidden_size"] == 128


def test_bf16_autocast_inside_the_forward():
    dev = torch.device("cuda")
    a = torch.randn(8, 8, device=dev)
    with dv.autocast(dev):
        assert (a @ a).dtype == torch.bfloat16
    with dv.autocast(torch.device("cpu")):
        assert (a.cpu() @ a.cpu()).dtype == torch.float32


def test_training_batches_are_built_on_the_gpu(monkeypatch):
    """Windows stay on the device: every batch the loop gathers is already a CUDA tensor."""
    from forecasting.models.deep import loop

    real, seen = loop.DeviceData.batch, set()

    def spy(self, starts):
        out = real(self, starts)
        seen.update(t.device.type for t in out if isinstance(t, torch.Tensor))
        return out
    monkeypatch.setattr(loop.DeviceData, "batch", spy)
    train, _ = split(weekly_panel(n_series=3, periods=80), 7)
    create_model("lstm", season_length=7, horizon=7, **{**TINY, "device": "cuda"}).fit(train, "D")
    assert seen == {"cuda"}


def test_a_real_cuda_out_of_memory_retries_with_a_smaller_batch():
    """Cap this process's share of the GPU so that a wide LSTM at a large batch cannot fit, then train:
    the loop must catch the real OutOfMemoryError, halve the batch, say so, and finish."""
    train, test = split(weekly_panel(n_series=40, periods=400), 7)
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(min(1.0, 1.5e9 / total))
    try:
        m = create_model("lstm", season_length=7, horizon=7,
                         **{**TINY, "device": "cuda", "hidden_size": 1024, "batch_size": 16384,
                            "max_epochs": 1}).fit(train, "D")
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
    fs = m.fitted_settings()
    first = min(16384, fs["train_windows"])
    assert fs["batch_size"] < first
    assert any(f"out of memory at batch size {first}" in n for n in fs["notes"])
    assert np.isfinite(m.predict(7)[["mean", "lo-95", "hi-95"]].to_numpy()).all()


@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_the_cuda_graph_step_trains_like_the_ordinary_step(name):
    """The captured-and-replayed step is the same computation: same seed, nearly the same forecast."""
    train, test = split(weekly_panel(n_series=3, periods=120, promo=True), 7)
    out = {}
    for graph in (True, False):
        m = create_model(name, season_length=7, horizon=7,
                         **{**TINY, "device": "cuda", "cuda_graph": graph, "max_epochs": 3}).fit(train, "D")
        fs = m.fitted_settings()
        assert fs["cuda_graph"] is graph and not any("capture failed" in n for n in fs["notes"])
        out[graph] = m.predict(7, test.drop(columns="y"))["mean"].to_numpy()
    assert np.allclose(out[True], out[False], rtol=0.03, atol=0.05)
