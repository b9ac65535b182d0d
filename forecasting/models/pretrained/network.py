"""The pretrained network: an encoder-only patch transformer with a direct multi-quantile head.

``forward(context, mask)`` shapes (B series, L context periods, P patch length, N = L / P context
patches, M = horizon / P output patches, Q quantiles, D model width):

1. per-series scaling: the observed context values are centred by their mean and divided by their
   standard deviation (``scaling="std"``, floored) or their mean absolute value (``"meanabs"``), then
   optionally passed through ``arcsinh``; missing periods are 0 with mask 0;
2. the context is left-padded to whole patches (mask 0 there), so a 14-point yearly series is two
   patches of 8 with two padded periods;
3. each patch of ``[values, mask]`` (2P numbers) goes through a residual MLP to a D-vector; a learned
   position embedding per patch slot (counted back from the forecast origin) is added;
4. M learned "forecast" tokens (with their own positions) are appended after the context patches;
   a bidirectional pre-norm transformer encoder reads all N + M tokens; padding-only patches are
   masked out of attention;
5. each forecast token maps to P x Q numbers: the quantiles of its P horizon steps, in scaled units,
   then mapped back to the series' units. Quantiles are sorted (no crossing).

Trained with the pinball (quantile) loss on generated series only (see ``pretraining/``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

QUANTILES: tuple[float, ...] = (0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975)


@dataclass
class NetConfig:
    patch_len: int = 8
    max_context: int = 512
    horizon: int = 64
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 4
    ff_mult: int = 2
    dropout: float = 0.0
    scaling: str = "std"          # std | meanabs
    arcsinh: bool = False
    min_scale: float = 1e-3
    quantiles: tuple[float, ...] = field(default_factory=lambda: QUANTILES)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["quantiles"] = list(self.quantiles)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "NetConfig":
        d = dict(d)
        d["quantiles"] = tuple(float(q) for q in d.get("quantiles", QUANTILES))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    @property
    def n_patches(self) -> int:
        return math.ceil(self.max_context / self.patch_len)

    @property
    def out_patches(self) -> int:
        return math.ceil(self.horizon / self.patch_len)


class ResidualMLP(nn.Module):
    def __init__(self, d_in: int, d_hidden: int, d_out: int) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Linear(d_hidden, d_out))
        self.skip = nn.Linear(d_in, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(x) + self.skip(x)


class Block(nn.Module):
    """Pre-norm multi-head self-attention + feed-forward."""

    def __init__(self, d: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))
        self.dropout = dropout

    def forward(self, x: torch.Tensor, key_ok: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(B, T, 3, self.heads, self.dh).permute(2, 0, 3, 1, 4)  # [B, h, T, dh]
        a = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=key_bias(key_ok, q.dtype),
                                                       dropout_p=self.dropout if self.training else 0.0)
        x = x + self.out(a.transpose(1, 2).reshape(B, T, D))
        return x + self.ff(self.norm2(x))

    def infer(self, x: torch.Tensor, bias: torch.Tensor | None, rows: slice | None = None) -> torch.Tensor:
        """``forward`` for inference: ``bias`` is the key mask as an additive bias [B, 1, 1, T] (None when no
        key is masked), and only the tokens ``rows`` (a slice; default all) are computed: the keys and values
        still come from all T tokens. Returns [B, R, D]; equal to ``forward(x, key_ok)[:, rows]`` up to float
        rounding."""
        B, T, D = x.shape
        xn = self.norm1(x)
        if rows is None:
            q, k, v = self.qkv(xn).view(B, T, 3, self.heads, self.dh).permute(2, 0, 3, 1, 4)   # [B, h, T, dh]
        else:                         # queries only where they are needed; keys and values everywhere
            w, b = self.qkv.weight, self.qkv.bias
            x = x[:, rows]
            q = nn.functional.linear(xn[:, rows], w[:D], b[:D]).view(B, -1, self.heads, self.dh).transpose(1, 2)
            k, v = nn.functional.linear(xn, w[D:], b[D:]).view(B, T, 2, self.heads, self.dh).permute(2, 0, 3, 1, 4)
        a = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)   # [B, h, R, dh]
        x = x + self.out(a.transpose(1, 2).reshape(B, -1, D))
        return x + self.ff(self.norm2(x))


def key_bias(key_ok: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[B, T] True where a token may be attended to -> the additive attention bias [B, 1, 1, T]."""
    B, T = key_ok.shape
    return torch.zeros(B, 1, 1, T, dtype=dtype, device=key_ok.device).masked_fill(~key_ok[:, None, None, :], -1e4)


class PatchTransformer(nn.Module):
    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        P, D = cfg.patch_len, cfg.d_model
        self.embed = ResidualMLP(2 * P, D, D)
        self.pos = nn.Parameter(torch.randn(cfg.n_patches + cfg.out_patches, D) * 0.02)
        self.future = nn.Parameter(torch.randn(cfg.out_patches, D) * 0.02)
        self.blocks = nn.ModuleList(Block(D, cfg.n_heads, cfg.ff_mult * D, cfg.dropout) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(D)
        self.head = ResidualMLP(D, D, P * len(cfg.quantiles))
        self.register_buffer("q", torch.tensor(cfg.quantiles, dtype=torch.float32), persistent=False)

    # ----- scaling ------------------------------------------------------------------------------------
    def scale(self, y: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-series location and scale [B, 1] from the observed context."""
        cnt = m.sum(1, keepdim=True).clamp_min(1.0)
        loc = (y * m).sum(1, keepdim=True) / cnt
        if self.cfg.scaling == "meanabs":
            s = ((y - loc).abs() * m).sum(1, keepdim=True) / cnt
        else:
            s = ((((y - loc) * m) ** 2).sum(1, keepdim=True) / cnt).sqrt()
        floor = (loc.abs() * 0.01).clamp_min(self.cfg.min_scale)     # a flat series: 1% of its level
        return loc, torch.maximum(s, floor)

    def to_scaled(self, y, loc, s):
        z = (y - loc) / s
        return torch.asinh(z) if self.cfg.arcsinh else z

    def from_scaled(self, z, loc, s):
        if self.cfg.arcsinh:
            z = torch.sinh(z.clamp(-15, 15))
        return z * s + loc

    # ----- forward ------------------------------------------------------------------------------------
    def tokens(self, y: torch.Tensor, m: torch.Tensor):
        """Steps 1-4 of the module docstring. y, m: [B, L] (NaN allowed where m == 0). Returns the tokens
        [B, N + M, D], which of them may be attended to [B, N + M], N, loc and scale [B, 1]."""
        cfg = self.cfg
        B, L = y.shape
        P = cfg.patch_len
        if L > cfg.max_context:
            y, m, L = y[:, -cfg.max_context:], m[:, -cfg.max_context:], cfg.max_context
        m = m.to(y.dtype) * torch.isfinite(y)
        y = torch.nan_to_num(y) * m
        loc, s = self.scale(y, m)
        z = self.to_scaled(y, loc, s).clamp(-50, 50) * m                        # [B, L]
        pad = (-L) % P
        if pad:
            z = nn.functional.pad(z, (pad, 0))
            m = nn.functional.pad(m, (pad, 0))
        N = z.shape[1] // P
        x = torch.cat([z.view(B, N, P), m.view(B, N, P)], dim=-1)               # [B, N, 2P]
        h = self.embed(x) + self.pos[cfg.n_patches - N: cfg.n_patches]          # [B, N, D]
        M = cfg.out_patches
        f = (self.future + self.pos[cfg.n_patches:]).expand(B, M, -1)           # [B, M, D]
        h = torch.cat([h, f], dim=1)                                            # [B, N + M, D]
        key_ok = torch.cat([m.view(B, N, P).sum(-1) > 0, torch.ones(B, M, dtype=torch.bool, device=y.device)], 1)
        return h, key_ok, N, loc, s

    def forward_scaled(self, y: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """y, m: [B, L] (L <= max_context; NaN allowed where m == 0). Returns the quantiles in scaled
        units [B, H, Q] plus loc, scale [B, 1]."""
        cfg = self.cfg
        h, key_ok, N, loc, s = self.tokens(y, m)
        B = h.shape[0]
        for blk in self.blocks:
            h = blk(h, key_ok)
        out = self.head(self.norm(h[:, N:]))                                    # [B, M, P * Q]
        out = out.view(B, -1, len(cfg.quantiles))[:, : cfg.horizon]             # [B, H, Q]
        out, _ = torch.sort(out, dim=-1)
        return out, loc, s

    def predict(self, y: torch.Tensor, m: torch.Tensor, steps: int | None = None, bf16: bool = False) -> torch.Tensor:
        """Inference only: the quantile forecasts [B, steps, Q] in the series' units (``steps`` <= H, default
        H); equal to ``forward(y, m)[:, :steps]`` up to float rounding, and cheaper: no attention mask when
        no patch is padding, and the last block and the head only compute the forecast tokens that cover
        the ``steps`` asked for (the others are keys and values of the earlier blocks, so they still run
        there). ``bf16``: the transformer blocks' matrix products in bfloat16 (autocast; the scaling, the
        residual stream, the norms and the head stay float32): faster where the hardware multiplies bf16,
        not equal to ``forward`` beyond rounding (the accuracy cost is measured in the benchmark)."""
        cfg = self.cfg
        steps = cfg.horizon if steps is None else min(int(steps), cfg.horizon)
        with torch.inference_mode():
            h, key_ok, N, loc, s = self.tokens(y, m)
            B = h.shape[0]
            bias = None if bool(key_ok.all()) else key_bias(key_ok, h.dtype)
            need = math.ceil(steps / cfg.patch_len)                             # forecast tokens read
            with torch.autocast(device_type=h.device.type, dtype=torch.bfloat16, enabled=bf16):
                for blk in self.blocks[:-1]:
                    h = blk.infer(h, bias)
                h = self.blocks[-1].infer(h, bias, rows=slice(N, N + need))     # [B, need, D]
            out = self.head(self.norm(h.float())).view(B, -1, len(cfg.quantiles))[:, :steps]   # [B, steps, Q]
            out, _ = torch.sort(out, dim=-1)
            return self.from_scaled(out, loc.unsqueeze(-1), s.unsqueeze(-1))

    def forward(self, y: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Quantile forecasts [B, H, Q] in the series' units."""
        z, loc, s = self.forward_scaled(y, m)
        return self.from_scaled(z, loc.unsqueeze(-1), s.unsqueeze(-1))

    def loss(self, y: torch.Tensor, m: torch.Tensor, target: torch.Tensor, tmask: torch.Tensor) -> torch.Tensor:
        """Mean pinball loss in scaled units over the observed target steps. target, tmask: [B, H'] (H' <= H)."""
        z, loc, s = self.forward_scaled(y, m)
        Hp = target.shape[1]
        tz = self.to_scaled(torch.nan_to_num(target), loc, s).clamp(-50, 50)       # [B, H']
        diff = tz.unsqueeze(-1) - z[:, :Hp]                                       # [B, H', Q]
        pin = torch.maximum(self.q * diff, (self.q - 1) * diff)
        w = tmask.to(pin.dtype).unsqueeze(-1)
        return (pin * w).sum() / (w.sum() * len(self.cfg.quantiles)).clamp_min(1.0)


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
