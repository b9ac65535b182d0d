"""LSTM forecaster: a recurrent encoder over the lookback; everything else is the shared base."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from forecasting.models.deep.training import DeepForecaster


class LSTMEncoder(nn.Module):
    def __init__(self, input_dim: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.rnn = nn.LSTM(input_dim, hidden_size, num_layers=num_layers, batch_first=True,
                           dropout=dropout if num_layers > 1 else 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)          # [B, L, D]
        return out[:, -1]             # [B, D]: the state after the last period of the lookback


class LSTMForecaster(DeepForecaster):
    name = "lstm"

    def build_encoder(self, input_dim: int, cfg: dict[str, Any]) -> tuple[nn.Module, int]:
        enc = LSTMEncoder(input_dim, cfg["hidden_size"], cfg["num_layers"], cfg["dropout"])
        return enc, cfg["hidden_size"]
