"""Device choice (CUDA, then Apple MPS, then CPU, with an override), CUDA speed settings, threads, seeds."""
from __future__ import annotations

import contextlib
from typing import Iterator

from forecasting.errors import ConfigError


def choose_device(requested: str | None = "auto"):
    """``"auto"`` picks CUDA, then MPS, then CPU; ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` force one."""
    import torch

    req = (requested or "auto").strip().lower()
    if req == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(req)
    except RuntimeError:
        raise ConfigError(f"unknown device '{requested}'; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device '{requested}' asked for, but no CUDA GPU is available here; use device=auto or cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device '{requested}' asked for, but only {torch.cuda.device_count()} CUDA GPU(s) exist")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigError(f"device '{requested}' asked for, but Apple MPS is not available here")
    elif dev.type != "cpu":
        raise ConfigError(f"unsupported device '{requested}'; use auto, cpu, cuda, cuda:N or mps")
    return dev


def available_devices() -> list[str]:
    """The device settings that can run here: ``auto`` and ``cpu``, then ``cuda`` / ``cuda:N`` and ``mps``
    when present (for a choice in the app)."""
    import torch

    out = ["auto", "cpu"]
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        out += ["cuda"] + ([f"cuda:{i}" for i in range(n)] if n > 1 else [])
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


def describe(dev) -> str:
    """Human name of the device for results: ``cpu``, ``cuda:0 (NVIDIA H100 …)``, ``mps``."""
    import torch

    if dev.type == "cuda":
        idx = dev.index if dev.index is not None else torch.cuda.current_device()
        return f"cuda:{idx} ({torch.cuda.get_device_name(idx)})"
    return dev.type


def enable_fast_math(dev) -> None:
    """TF32 matmuls and cuDNN autotuning on CUDA (no effect elsewhere)."""
    import torch

    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def autocast(dev, enabled: bool = True, cache: bool = True):
    """bf16 autocast on CUDA GPUs that support it; a no-op context elsewhere. ``cache=False`` inside a
    CUDA graph capture (cached casts would outlive the graph's memory)."""
    import torch

    if cuda_bf16(dev, enabled):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16, cache_enabled=cache)
    return contextlib.nullcontext()


def cuda_bf16(dev, enabled: bool = True) -> bool:
    """Whether :func:`autocast` runs the network in bf16 here (a CUDA GPU that supports it, amp on)."""
    import torch

    return bool(enabled and dev.type == "cuda" and torch.cuda.is_bf16_supported())


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), where oneDNN's bf16 kernels are fast;
    elsewhere bf16 is emulated and slower than fp32."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # noqa: BLE001 - a torch without the check: assume not
        return False


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[int]:
    """Set torch's intra-op threads for the duration; default 1.

    The default networks are small: a second intra-op thread gains little on an idle machine and, on a
    busy one (or inside a process pool, one model per core), makes training many times slower."""
    import torch

    if n is None:
        n = 1
    if int(n) < 1:
        raise ConfigError(f"num_threads must be at least 1, got {n}")
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield int(n)
    finally:
        torch.set_num_threads(before)


def seed_everything(seed: int) -> None:
    import torch

    torch.manual_seed(int(seed))
