"""Synthetic panels for the deep-model tests."""
import numpy as np
import pandas as pd


def weekly_panel(n_series: int = 3, periods: int = 160, promo: bool = False, noise: float = 0.3,
                 seed: int = 0) -> pd.DataFrame:
    """Daily series with a strong day-of-week pattern (and an optional promotion lift)."""
    rng = np.random.default_rng(seed)
    frames = []
    pattern = np.array([0.0, 1.0, 2.0, 3.0, 6.0, 9.0, 4.0])
    for s in range(n_series):
        ds = pd.date_range("2023-01-02", periods=periods, freq="D")
        t = np.arange(periods)
        y = 20 + 5 * s + (1 + 0.3 * s) * pattern[t % 7] + rng.normal(0, noise, periods)
        f = pd.DataFrame({"unique_id": f"s{s}", "ds": ds, "y": y})
        if promo:
            p = (rng.random(periods) < 0.15).astype(float)
            f["promo"] = p
            f["y"] += 8 * p
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def split(df: pd.DataFrame, h: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = df.groupby("unique_id")["ds"].transform(lambda s: s.iloc[-h])
    return df[df["ds"] < cut].reset_index(drop=True), df[df["ds"] >= cut].reset_index(drop=True)


TINY = dict(max_epochs=2, batch_size=64, hidden_size=8, context_size=4, decoder_hidden=8, emb_dim=2,
            device="cpu", num_threads=1, random_seed=0, holiday_country=None)


def as_saved_before(src, dst, key: str) -> None:
    """Copy a saved model file without one config ``key``: a file written before that setting existed."""
    import json

    import torch

    blob = torch.load(src, weights_only=True)
    config = json.loads(blob["config"])
    del config[key]
    blob["config"] = json.dumps(config)
    torch.save(blob, dst)


def deep_networks() -> list[str]:
    """The networks trained from scratch (LSTM, GRU, Transformer); the pretrained models have their own tests."""
    from forecasting.models.registry import MODELS

    return [n for n, s in MODELS.items() if s.capabilities.needs_torch and s.module.startswith("forecasting.models.deep.")]
