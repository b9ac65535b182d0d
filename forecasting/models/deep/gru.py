"""GRU forecaster: a recurrent encoder over the lookback; everything else is the shared base."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from forecasting.models.deep.network import patch_periods, recurrent_patch
from forecasting.models.deep.training import DeepForecaster


class GRUEncoder(nn.Module):
    def __init__(self, input_dim: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 patch_len: int = 1) -> None:
        super().__init__()
        self.patch_len = patch_len
        self.rnn = nn.GRU(input_dim * patch_len, hidden_size, num_layers=num_layers, batch_first=True,
                           dropout=dropout if num_layers > 1 else 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(patch_periods(x, self.patch_len))   # [B, L / P, D]: P periods per step
        return out[:, -1]             # [B, D]: the state after the last period of the lookback


class GRUForecaster(DeepForecaster):
    name = "gru"
    extra_defaults = {"patch_len": "auto"}
    extra_docs = {"patch_len": "periods per recurrent step (auto: from the lookback)"}

    def settle(self, cfg: dict[str, Any], lookback: int) -> dict[str, Any]:
        return {**cfg, "patch_len": recurrent_patch(cfg["patch_len"], lookback)}

    def build_encoder(self, input_dim: int, cfg: dict[str, Any]) -> tuple[nn.Module, int]:
        enc = GRUEncoder(input_dim, cfg["hidden_size"], cfg["num_layers"], cfg["dropout"],
                          int(cfg.get("patch_len", 1)))  # files saved before patching: 1
        return enc, cfg["hidden_size"]
