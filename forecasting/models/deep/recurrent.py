"""The recurrent forecasters (LSTM, GRU): one recurrent encoder over the lookback, taking the cell type;
everything else is the shared base (:mod:`forecasting.models.deep.training`)."""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from forecasting.models.deep.network import patch_periods, recurrent_patch
from forecasting.models.deep.training import DeepForecaster


class RecurrentEncoder(nn.Module):
    """``cell`` (``nn.LSTM`` or ``nn.GRU``) over the lookback, read in patches of ``patch_len`` periods."""

    def __init__(self, cell: type[nn.Module], input_dim: int, hidden_size: int, num_layers: int = 1,
                 dropout: float = 0.0, patch_len: int = 1) -> None:
        super().__init__()
        self.patch_len = patch_len
        self.rnn = cell(input_dim * patch_len, hidden_size, num_layers=num_layers, batch_first=True,
                        dropout=dropout if num_layers > 1 else 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(patch_periods(x, self.patch_len))   # [B, L / P, D]: P periods per step
        return out[:, -1]             # [B, D]: the state after the last period of the lookback


class RecurrentForecaster(DeepForecaster):
    cell: ClassVar[type[nn.Module]]
    extra_defaults = {"patch_len": "auto"}
    extra_docs = {"patch_len": "periods per recurrent step (auto: from the lookback)"}

    def settle(self, cfg: dict[str, Any], lookback: int) -> dict[str, Any]:
        return {**cfg, "patch_len": recurrent_patch(cfg["patch_len"], lookback)}

    def build_encoder(self, input_dim: int, cfg: dict[str, Any]) -> tuple[nn.Module, int]:
        enc = RecurrentEncoder(self.cell, input_dim, cfg["hidden_size"], cfg["num_layers"], cfg["dropout"],
                               int(cfg.get("patch_len", 1)))  # files saved before patching: 1
        return enc, cfg["hidden_size"]


class LSTMForecaster(RecurrentForecaster):
    name = "lstm"
    cell = nn.LSTM
    cpu_bf16_encoder = True   # oneDNN's LSTM has a bf16 kernel (see DeepForecaster)


class GRUForecaster(RecurrentForecaster):
    name = "gru"
    cell = nn.GRU
