"""Transformer forecaster: a self-attention encoder over the lookback with sinusoidal positional
encodings; the last position's representation feeds the shared forecasting head.

The attention layers are written out (pre-norm, multi-head) so their weights can be kept:
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
    """Pre-norm self-attention + feed-forward block. With ``last_only`` it computes only the final
    position's output (all positions still serve as keys and values): the head reads nothing else, so
    the top layer costs O(L) instead of O(L^2)."""

    def __init__(self, d_model: int, n_heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dh = n_heads, d_model // n_heads
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.q, self.kv = nn.Linear(d_model, d_model), nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, d_model))
        self.drop = nn.Dropout(dropout)
        self.weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, keep_weights: bool = False, last_only: bool = False) -> torch.Tensor:
        B, L, D = x.shape
        h = self.norm1(x)                                                       # [B, L, D]
        hq = h[:, -1:] if last_only else h                                      # [B, Lq, D]
        q = self.q(hq).view(B, -1, self.heads, self.dh).transpose(1, 2)         # [B, heads, Lq, dh]
        k, v = self.kv(h).view(B, L, 2, self.heads, self.dh).permute(2, 0, 3, 1, 4)   # [B, heads, L, dh]
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.dh), dim=-1)     # [B, heads, Lq, L]
        self.weights = att.detach().mean(1) if keep_weights else None           # [B, Lq, L]
        a = (self.drop(att) @ v).transpose(1, 2).reshape(B, -1, D)              # [B, Lq, D]
        x = (x[:, -1:] if last_only else x) + self.drop(self.out(a))
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
        for i, layer in enumerate(self.layers):
            h = layer(h, self.keep_weights, last_only=i == len(self.layers) - 1)
        return self.norm(h[:, -1])                      # [B, D]: the last period's representation

    def attention(self) -> list[torch.Tensor]:
        """Per layer, [B, Lq, L] attention averaged over heads (Lq = 1 for the top layer)."""
        return [l.weights for l in self.layers if l.weights is not None]


class TransformerForecaster(DeepForecaster):
    name = "transformer"
    extra_defaults = {"n_heads": 4}
    extra_docs = {"n_heads": "attention heads"}
    ATTENTION_CHUNK = 4096      # series per pass when the attention weights are read

    def settle(self, cfg: dict[str, Any], lookback: int) -> dict[str, Any]:
        from forecasting.errors import ConfigError

        d = cfg["hidden_size"]
        try:
            heads = int(cfg["n_heads"])
        except (TypeError, ValueError):
            raise ConfigError(f"transformer: n_heads must be a whole number, got {cfg['n_heads']!r}") from None
        if heads < 1 or d % heads:
            raise ConfigError(f"transformer: hidden_size ({d}) must be a multiple of n_heads ({heads})")
        return {**cfg, "n_heads": heads}

    def build_encoder(self, input_dim: int, cfg: dict[str, Any]) -> tuple[nn.Module, int]:
        d, heads = cfg["hidden_size"], int(cfg["n_heads"])
        return TransformerEncoder(input_dim, d, heads, cfg["num_layers"], cfg["dropout"]), d

    def attention(self, layer: int = -1) -> pd.DataFrame:
        """Attention of the final lookback period over the lookback, per series: columns unique_id,
        lag (1 = the last observed period), weight (sums to 1 per series)."""
        from forecasting.models.deep.predict import network_outputs

        if self.net_ is None:
            from forecasting.errors import ConfigError

            raise ConfigError("transformer is not fitted; call fit first")
        enc = self.net_.encoder
        n_series = len(self.state_["series_ids"])
        parts = []
        enc.keep_weights = True
        try:
            for start in range(0, n_series, self.ATTENTION_CHUNK):   # bounded memory for many series
                network_outputs(self, 0, None, np.arange(start, min(start + self.ATTENTION_CHUNK, n_series)))
                parts.append(enc.attention()[layer][:, -1, :].float().cpu().numpy())   # last query, all keys
        finally:
            enc.keep_weights = False
        w = np.concatenate(parts)                                    # [n, L]
        n, L = w.shape
        return pd.DataFrame({"unique_id": np.repeat(self.state_["series_ids"], L),
                             "lag": np.tile(np.arange(L, 0, -1), n), "weight": w.reshape(-1)})
