"""The network shell shared by LSTM, GRU and Transformer: only the encoder over the lookback differs.

``forward`` shapes (B windows, L lookback, H horizon, F known features, E id embedding, Q quantiles):

1. window normalisation (RevIN-style): the observed input values are centred and scaled per window, so
   one network serves series at any level; the output is mapped back at the end;
2. encoder (the subclass' module) over ``[y, mask, features, id embedding]`` -> one vector per window
   (with ``encoder_bf16``, on a CPU, in bf16 autocast: see ``DeepForecaster.cpu_bf16_encoder``);
3. a linear map to a context vector per horizon step, then a small MLP per step over ``[context,
   that step's known features, id embedding]`` -> Q quantiles (direct multi-horizon, MIMO);
4. an optional linear skip from the normalised lookback to the horizon, added to every quantile.
"""
from __future__ import annotations

import torch
from torch import nn


class ForecastNet(nn.Module):
    def __init__(self, encoder: nn.Module, enc_dim: int, *, lookback: int, horizon: int, n_feats: int,
                 n_series: int, n_quantiles: int, emb_dim: int = 4, context_size: int = 8,
                 decoder_hidden: int = 32, dropout: float = 0.1, window_norm: bool = True,
                 linear_skip: bool = True, min_scale: float = 0.05, encoder_bf16: bool = False) -> None:
        super().__init__()
        self.encoder_bf16 = encoder_bf16
        self.horizon, self.context_size = horizon, context_size
        self.window_norm, self.min_scale = window_norm, min_scale
        self.emb = nn.Embedding(n_series, emb_dim) if emb_dim > 0 else None
        self.emb_dim = emb_dim if emb_dim > 0 else 0
        self.encoder = encoder
        self.context = nn.Linear(enc_dim + self.emb_dim, horizon * context_size)
        self.decoder = nn.Sequential(
            nn.Linear(context_size + n_feats + self.emb_dim, decoder_hidden), nn.GELU(),
            nn.Dropout(dropout), nn.Linear(decoder_hidden, n_quantiles))
        self.skip = nn.Linear(lookback, horizon) if linear_skip else None

    @staticmethod
    def input_dim(n_feats: int, emb_dim: int) -> int:
        """Width of the encoder's per-step input: value, mask, known features, id embedding."""
        return 2 + n_feats + max(emb_dim, 0)

    def forward(self, y_in: torch.Tensor, m_in: torch.Tensor, f_in: torch.Tensor, f_out: torch.Tensor,
                sid: torch.Tensor) -> torch.Tensor:
        # y_in, m_in: [B, L]; f_in: [B, L, F]; f_out: [B, H, F]; sid: [B]
        B, L = y_in.shape
        if self.window_norm:
            cnt = m_in.sum(1, keepdim=True).clamp_min(1.0)                        # [B, 1]
            mu = (y_in * m_in).sum(1, keepdim=True) / cnt                          # [B, 1]
            var = (((y_in - mu) * m_in) ** 2).sum(1, keepdim=True) / cnt
            sd = var.sqrt().clamp_min(self.min_scale)                              # [B, 1]
        else:
            mu = torch.zeros_like(y_in[:, :1])
            sd = torch.ones_like(y_in[:, :1])
        yn = (y_in - mu) / sd * m_in                                               # [B, L]
        parts_in = [yn.unsqueeze(-1), m_in.unsqueeze(-1), f_in]
        parts_ctx: list[torch.Tensor] = []
        parts_out = [f_out]
        if self.emb is not None:
            e = self.emb(sid)                                                      # [B, E]
            parts_in.append(e.unsqueeze(1).expand(B, L, -1))
            parts_ctx.append(e)
            parts_out.append(e.unsqueeze(1).expand(B, self.horizon, -1))
        x = torch.cat(parts_in, dim=-1)                                            # [B, L, input_dim]
        if self.encoder_bf16 and x.device.type == "cpu":
            with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
                h = self.encoder(x).float()                                        # [B, D]
        else:
            h = self.encoder(x)                                                    # [B, D]
        ctx = self.context(torch.cat([h, *parts_ctx], dim=-1))                     # [B, H * C]
        ctx = ctx.view(B, self.horizon, self.context_size)                         # [B, H, C]
        out = self.decoder(torch.cat([ctx, *parts_out], dim=-1))                   # [B, H, Q]
        if self.skip is not None:
            out = out + self.skip(yn).unsqueeze(-1)                                # [B, H, Q]
        return out.float() * sd.unsqueeze(-1) + mu.unsqueeze(-1)                  # series-scaled units


def patch_periods(x: torch.Tensor, patch_len: int) -> torch.Tensor:
    """[B, L, D] -> [B, ceil(L / P), P * D]: consecutive periods side by side, so a recurrent encoder takes
    P periods per step (P times fewer sequential steps). The front is zero-padded when P does not divide L;
    the mask column (0 there) tells the network those periods are empty."""
    if patch_len <= 1:
        return x
    B, L, D = x.shape
    pad = (-L) % patch_len
    if pad:
        x = torch.nn.functional.pad(x, (0, 0, pad, 0))
    return x.reshape(B, (L + pad) // patch_len, patch_len * D)


def recurrent_patch(value, lookback: int) -> int:
    """Periods per recurrent step. ``auto``: about 12 recurrent steps over the lookback (``L // 12``
    periods each; 1 below 24). Fewer sequential steps is most of a recurrent network's training time on a
    CPU; in the benchmark (benchmarks/results/deep_cpu.md) accuracy and coverage stay within their targets
    and MASE within the seed-to-seed spread of one period per step.
    A season per step (4 steps for 4 years of monthly data) over-covered the 80% interval on Tourism."""
    from forecasting.errors import ConfigError

    if isinstance(value, str) and value.strip().lower() == "auto":
        return max(1, lookback // 12)
    try:
        p = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"patch_len must be a whole number or 'auto', got {value!r}") from None
    if p < 1:
        raise ConfigError(f"patch_len must be at least 1, got {p}")
    return min(p, max(1, lookback))


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                 quantiles: torch.Tensor) -> torch.Tensor:
    """Mean quantile (pinball) loss over observed targets. pred [B, H, Q]; target, mask [B, H]; quantiles [Q]."""
    diff = target.unsqueeze(-1) - pred                                             # [B, H, Q]
    loss = torch.maximum(quantiles * diff, (quantiles - 1) * diff)
    w = mask.unsqueeze(-1)
    return (loss * w).sum() / (w.sum() * pred.shape[-1]).clamp_min(1.0)
