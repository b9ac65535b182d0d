"""Mixed precision on the CPU: the LSTM's encoder in bf16 autocast where the CPU computes bf16 natively."""
import numpy as np
import pandas as pd
import pytest
import torch

from forecasting.models.deep.device import cpu_has_bf16
from forecasting.models.registry import create_model, get_model_class

from .helpers import TINY, as_saved_before, split, weekly_panel

needs_bf16 = pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bf16 (AVX512-BF16 or AMX)")


def encoder_dtypes(model, h=7):
    """dtypes of the recurrent layer's output and of the network's output during a forecast."""
    seen = {}

    def record(key, out):
        seen.setdefault(key, out.dtype)         # returns None: the module's output is left as it is

    hooks = [model.net_.encoder.rnn.register_forward_hook(lambda m, i, o: record("rnn", o[0])),
             model.net_.register_forward_hook(lambda m, i, o: record("net", o))]
    try:
        fc = model.predict(h)
    finally:
        for hk in hooks:
            hk.remove()
    return seen, fc


@pytest.fixture(scope="module")
def panel():
    return split(weekly_panel(n_series=3, periods=120), 7)[0]


@needs_bf16
def test_lstm_encoder_runs_in_bf16_and_the_head_in_fp32(panel):
    m = create_model("lstm", season_length=7, horizon=7, input_size=28, **TINY).fit(panel, "D")
    assert m.fitted_settings()["precision"] == "bf16 encoder, fp32 head"
    seen, fc = encoder_dtypes(m)
    assert seen == {"rnn": torch.bfloat16, "net": torch.float32}
    assert all(p.dtype == torch.float32 for p in m.net_.parameters())     # weights are kept in fp32
    assert np.isfinite(fc["mean"]).all()
    # the same seed gives the same forecasts in bf16 too
    again = create_model("lstm", season_length=7, horizon=7, input_size=28, **TINY).fit(panel, "D")
    pd.testing.assert_frame_equal(again.predict(7), fc)


@pytest.mark.parametrize("name,settings", [("lstm", {"amp": False}), ("gru", {})])
def test_fp32_when_amp_is_off_and_for_networks_without_a_bf16_kernel(panel, name, settings):
    m = create_model(name, season_length=7, horizon=7, input_size=28, **TINY, **settings).fit(panel, "D")
    assert m.fitted_settings()["precision"] == "fp32"
    seen, _ = encoder_dtypes(m)
    assert seen == {"rnn": torch.float32, "net": torch.float32}


@needs_bf16
def test_bf16_model_saves_loads_and_older_files_load_as_fp32(panel, tmp_path):
    cls = get_model_class("lstm")
    m = create_model("lstm", season_length=7, horizon=7, input_size=28, **TINY).fit(panel, "D")
    m.save(tmp_path / "m.pt")
    back = cls.load(tmp_path / "m.pt")
    assert back.net_.encoder_bf16
    pd.testing.assert_frame_equal(back.predict(7), m.predict(7))

    # a file written before this setting existed has no such key: it was trained in fp32 and loads so
    as_saved_before(tmp_path / "m.pt", tmp_path / "old.pt", "encoder_bf16")
    old = cls.load(tmp_path / "old.pt")
    assert not old.net_.encoder_bf16
    seen, fc = encoder_dtypes(old)
    assert seen["rnn"] == torch.float32 and np.isfinite(fc["mean"]).all()
