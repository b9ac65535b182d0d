"""Transformer forecaster: a self-attention encoder over the lookback with sinusoidal positional
encodings; the last position's representation feeds the shared forecasting head.

The attention layers are written out (pre-norm, ``nn.MultiheadAttention``) so their weights can be kept:
after ``predict``, :meth:`TransformerForecaster.attention` gives, per series, how much the final
period attends to each lag of the lookback (averaged over heads), for an explanation view.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from forecasting.models.deep.training import DeepForecaster


class PositionalEncoding(nn.Module):
    def __init__(self, d_model: int, max_len: int = 4096) -> None:
        super().__init__()
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[: x.shape[1]].to(x.dtype)          # [B, L, D]


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, n_heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(d_model, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, d_model))
        self.drop = nn.Dropout(dropout)
        self.weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, keep_weights: bool = False) -> torch.Tensor:
        h = self.norm1(x)
        a, w = self.attn(h, h, h, need_weights=keep_weights, average_attn_weights=True)
        self.weights = w.detach() if keep_weights else None    # [B, L, L]
        x = x + self.drop(a)
        return x + self.drop(self.ff(self.norm2(x)))


class TransformerEncoder(nn.Module):
    def __init__(self, input_dim: int, d_model: int, n_heads: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.proj = nn.Linear(input_dim, d_model)
        self.pos = PositionalEncoding(d_model)
        self.layers = nn.ModuleList(EncoderLayer(d_model, n_heads, 2 * d_model, dropout) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.keep_weights = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pos(self.proj(x))                      # [B, L, D]
        for layer in self.layers:
            h = layer(h, self.keep_weights)
        return self.norm(h[:, -1])                      # [B, D]: the last period's representation

    def attention(self) -> list[torch.Tensor]:
        return [l.weights for l in self.layers if l.weights is not None]


class TransformerForecaster(DeepForecaster):
    name = "transformer"
    extra_defaults = {"n_heads": 4}

    def build_encoder(self, input_dim: int, cfg: dict[str, Any]) -> tuple[nn.Module, int]:
        d = cfg["hidden_size"]
        heads = int(cfg["n_heads"])
        if d % heads:
            from forecasting.errors import ConfigError

            raise ConfigError(f"transformer: hidden_size ({d}) must be a multiple of n_heads ({heads})")
        return TransformerEncoder(input_dim, d, heads, cfg["num_layers"], cfg["dropout"]), d

    def attention(self, layer: int = -1) -> pd.DataFrame:
        """Attention of the final lookback period over the lookback, per series: columns unique_id,
        lag (1 = the last observed period), weight (sums to 1 per series)."""
        from forecasting.models.deep.predict import network_outputs

        if self.net_ is None:
            from forecasting.errors import ConfigError

            raise ConfigError("transformer is not fitted; call fit first")
        enc = self.net_.encoder
        enc.keep_weights = True
        try:
            network_outputs(self, 0, None)
        finally:
            enc.keep_weights = False
        w = enc.attention()[layer][:, -1, :].float().cpu().numpy()   # [n, L]: last query over all keys
        n, L = w.shape
        return pd.DataFrame({"unique_id": np.repeat(self.state_["series_ids"], L),
                             "lag": np.tile(np.arange(L, 0, -1), n), "weight": w.reshape(-1)})
