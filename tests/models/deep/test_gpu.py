"""The CUDA path: device placement, bf16 autocast, TF32, device reporting. Skipped without CUDA."""
import numpy as np
import pytest
import torch

from forecasting.models.deep import device as dv
from forecasting.models.registry import create_model

from .helpers import TINY, split, weekly_panel

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("name", ["lstm", "gru", "transformer"])
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
