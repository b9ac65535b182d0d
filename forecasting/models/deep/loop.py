"""The training loop: AdamW, warm-up + cosine learning-rate schedule, gradient clipping, early stopping on
the validation windows keeping the best weights, a NaN-loss guard, CUDA out-of-memory retries, progress.

Windows are gathered from flat tensors already on the device (see ``windows.py``), so a GPU is not
starved by host-side batching. On CUDA the whole training step (gather, forward, loss, backward, clipping,
AdamW) is captured once as a CUDA graph and replayed: the default networks are small, and launching their
~160 kernels one by one from Python costs ten times the GPU's own time. Capture failing falls back to the
ordinary step, with a note.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from forecasting.errors import SalesCastError
from forecasting.models.deep.device import autocast
from forecasting.models.deep.network import ForecastNet, pinball_loss
from forecasting.progress import Cancelled, ProgressCallback, report


class TrainingError(SalesCastError):
    """Training could not produce a usable network (diverged, or out of memory even at a small batch)."""


@dataclass
class TrainConfig:
    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    patience: int
    grad_clip: float
    steps_per_epoch: int | None
    max_steps: int | None
    seed: int
    amp: bool = True
    min_steps_per_epoch: int = 25      # small data: an epoch reuses the windows, else 60 windows = 1 step
    check_every_step: bool | None = None   # NaN check each step (host sync); None: on the CPU only
    max_nan_retries: int = 3
    min_batch_size: int = 8
    cuda_graph: bool = True            # CUDA: capture the training step once and replay it
    time_budget: float | None = None   # seconds: stop after the epoch that passes it (best weights kept)


@dataclass
class DeviceData:
    """The panel's flat arrays as tensors on the training device."""
    y: torch.Tensor       # [N]
    mask: torch.Tensor    # [N]
    feats: torch.Tensor   # [N, F]
    sid: torch.Tensor     # [N]
    lookback: int
    horizon: int

    @classmethod
    def from_panel(cls, panel, lookback: int, horizon: int, device) -> "DeviceData":
        return cls(torch.as_tensor(panel.y, device=device), torch.as_tensor(panel.mask, device=device),
                   torch.as_tensor(panel.feats, device=device), torch.as_tensor(panel.sid, device=device),
                   lookback, horizon)

    def batch(self, starts: torch.Tensor) -> tuple[torch.Tensor, ...]:
        L, H = self.lookback, self.horizon
        idx = starts[:, None] + torch.arange(L + H, device=starts.device)[None, :]   # [B, L + H]
        y, m, f = self.y[idx], self.mask[idx], self.feats[idx]
        return y[:, :L], m[:, :L], f[:, :L], f[:, L:], self.sid[starts], y[:, L:], m[:, L:]


@dataclass
class TrainReport:
    history: list[dict[str, Any]] = field(default_factory=list)
    best_val_loss: float | None = None
    best_epoch: int = 0
    epochs_run: int = 0
    steps: int = 0
    windows_seen: int = 0
    train_seconds: float = 0.0
    batch_size: int = 0
    learning_rate: float = 0.0
    notes: list[str] = field(default_factory=list)
    stopped: str = "max_epochs"
    cuda_graph: bool = False          # the training step ran as a replayed CUDA graph


def _schedule(total_steps: int):
    warm = max(1, int(0.05 * total_steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        t = min(1.0, (step - warm) / max(1, total_steps - warm))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t))
    return factor


def gradients(net, data: "DeviceData", starts: torch.Tensor, q: torch.Tensor, grad_clip: float, amp: bool,
              cache: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and backward pass on the windows at ``starts``, gradients clipped; returns the detached
    loss and a device flag 'loss and gradient norm are finite' (reading it would force a sync)."""
    yi, mi, fi, fo, sid, yt, mt = data.batch(starts)
    with autocast(yi.device, amp, cache=cache):
        pred = net(yi, mi, fi, fo, sid)
    loss = pinball_loss(pred, yt, mt, q)
    loss.backward()
    gnorm = torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
    return loss.detach(), torch.isfinite(loss) & torch.isfinite(gnorm)


class GraphedStep:
    """One training step captured as a CUDA graph over static tensors: the batch's window starts go in
    (``run(starts)``), the loss and a finite flag come out; parameters, gradients and the optimizer's state
    are updated in place by the replay. Needs an optimizer built with a tensor learning rate and
    ``capturable=True`` (see ``make_optimizer``); warm-up steps run eagerly on a side stream first, as
    CUDA graphs require."""

    WARMUP = 3

    def __init__(self, net, data: "DeviceData", opt, q, grad_clip: float, amp: bool, batch_size: int) -> None:
        self.net, self.data, self.opt, self.q, self.clip, self.amp = net, data, opt, q, grad_clip, amp
        self.starts = torch.zeros(batch_size, dtype=torch.long, device=data.y.device)
        self.graph, self.warm = None, 0
        self.side = torch.cuda.Stream(device=data.y.device)

    def _step(self):
        loss, finite = gradients(self.net, self.data, self.starts, self.q, self.clip, self.amp, cache=False)
        self.opt.step()
        return loss, finite

    def run(self, starts: torch.Tensor):
        self.starts.copy_(starts)
        if self.graph is not None:
            self.graph.replay()
            return self.out
        self.side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.side):
            self.opt.zero_grad(set_to_none=True)
            out = self._step()
        torch.cuda.current_stream().wait_stream(self.side)
        self.warm += 1
        if self.warm >= self.WARMUP:          # capture now; this batch's update was done by the eager step
            self.opt.zero_grad(set_to_none=True)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                self.out = self._step()
            self.graph = g
        return out


def make_optimizer(net, lr: float, weight_decay: float, graph: bool):
    """AdamW; for a CUDA graph, fused and capturable with the learning rate held in a device tensor (the
    schedule then updates it in place, and the captured step reads it)."""
    if graph:
        dev = next(net.parameters()).device
        return torch.optim.AdamW(net.parameters(), lr=torch.tensor(lr, device=dev), weight_decay=weight_decay,
                                 fused=True, capturable=True)
    # fused: one kernel for all parameters instead of a loop of small ops per parameter (CPU and CUDA;
    # about 0.3 ms of a ~9 ms CPU step at the default size)
    fused = next(net.parameters()).device.type in ("cpu", "cuda") or None
    return torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay, fused=fused)


def evaluate(net: ForecastNet, data: DeviceData, starts: torch.Tensor, quantiles: torch.Tensor,
             batch_size: int, amp: bool = True) -> tuple[float, torch.Tensor | None]:
    """Mean pinball loss over the windows at ``starts`` and their predictions [n, H, Q] (eval mode)."""
    if len(starts) == 0:
        return float("nan"), None
    net.eval()
    total, weight, preds = 0.0, 0.0, []
    with torch.no_grad():
        for i in range(0, len(starts), batch_size * 4):
            yi, mi, fi, fo, sid, yt, mt = data.batch(starts[i:i + batch_size * 4])
            with autocast(yi.device, amp):
                p = net(yi, mi, fi, fo, sid)
            w = float(mt.sum())
            total += float(pinball_loss(p, yt, mt, quantiles)) * w
            weight += w
            preds.append(p.float())
    return (total / weight if weight else float("nan")), torch.cat(preds)


def train(net: ForecastNet, data: DeviceData, train_starts: np.ndarray, val_starts: np.ndarray,
          quantiles: list[float], cfg: TrainConfig, *, progress: ProgressCallback | None = None,
          name: str = "model") -> TrainReport:
    dev = data.y.device
    q = torch.tensor(quantiles, dtype=torch.float32, device=dev)
    tr = torch.as_tensor(train_starts, device=dev)
    va = torch.as_tensor(val_starts, device=dev)
    gen = torch.Generator().manual_seed(int(cfg.seed))
    rep = TrainReport(batch_size=cfg.batch_size, learning_rate=cfg.learning_rate)
    n = len(tr)
    rep.batch_size = max(1, min(cfg.batch_size, n))
    per_epoch = max(math.ceil(n / rep.batch_size), cfg.min_steps_per_epoch)
    if cfg.steps_per_epoch:
        per_epoch = int(cfg.steps_per_epoch)
    epochs = cfg.max_epochs
    if cfg.max_steps:
        epochs = min(epochs, math.ceil(cfg.max_steps / per_epoch))
    lr = cfg.learning_rate
    sync = dev.type == "cpu" if cfg.check_every_step is None else cfg.check_every_step
    check_every = 50

    use_graph = cfg.cuda_graph and dev.type == "cuda"
    step_fn: GraphedStep | None = None

    def make_opt(lr_now: float, total: int):
        nonlocal step_fn
        opt = make_optimizer(net, lr_now, cfg.weight_decay, use_graph)
        step_fn = GraphedStep(net, data, opt, q, cfg.grad_clip, cfg.amp, rep.batch_size) if use_graph else None
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, _schedule(total))

    opt, sched = make_opt(lr, epochs * per_epoch)
    best_state = copy.deepcopy(net.state_dict())
    good_state = best_state
    best, since_best, nan_events, epoch = math.inf, 0, 0, 0
    t0 = time.perf_counter()
    while epoch < epochs:
        try:
            net.train()
            need = per_epoch * rep.batch_size           # as many shuffles as the epoch's steps need
            perm = torch.cat([torch.randperm(n, generator=gen) for _ in range(math.ceil(need / n))])
            perm = perm[:need].to(dev)
            loss_sum, loss_w, diverged = torch.zeros((), device=dev), 0.0, False   # summed on the device: no sync per step
            graph_failed = False
            for b in range(0, len(perm), rep.batch_size):
                if cfg.max_steps and rep.steps >= cfg.max_steps:
                    break
                starts = tr[perm[b:b + rep.batch_size]]
                if step_fn is not None:
                    try:
                        loss, finite = step_fn.run(starts)
                    except torch.cuda.OutOfMemoryError:
                        raise
                    except RuntimeError as exc:      # capture not supported here: plain steps from now on
                        torch.cuda.synchronize(dev)
                        rep.notes.append(f"CUDA graph capture failed ({type(exc).__name__}: {str(exc)[:160]}); "
                                         "training goes on with ordinary steps")
                        graph_failed = True
                        break
                    # a non-finite step already updated the weights: undone below (epoch restarts)
                    if rep.steps % check_every == 0 and not bool(finite):
                        diverged = True
                        break
                else:
                    opt.zero_grad(set_to_none=True)
                    loss, finite = gradients(net, data, starts, q, cfg.grad_clip, cfg.amp)
                    # on a GPU, reading a flag forces a sync: look every `check_every` steps (a NaN step in
                    # between is undone anyway: the epoch restarts from the last good weights)
                    if (sync or rep.steps % check_every == 0) and not bool(finite):
                        diverged = True
                        break
                    opt.step()
                sched.step()
                rep.steps += 1
                rep.windows_seen += len(starts)
                loss_sum += loss * len(starts)
                loss_w += len(starts)
            if graph_failed:                         # restart the epoch from its first weights, without graphs
                use_graph = False
                net.load_state_dict(good_state)
                opt, sched = make_opt(lr, max(1, (epochs - epoch) * per_epoch))
                continue
            val_loss, _ = evaluate(net, data, va, q, rep.batch_size, cfg.amp)
            train_loss = float(loss_sum) / loss_w if loss_w else float("nan")
            if not diverged and loss_w and not math.isfinite(train_loss):
                diverged = True
            if not diverged and len(va) and not math.isfinite(val_loss):
                diverged = True
        except torch.cuda.OutOfMemoryError:
            if rep.batch_size // 2 < cfg.min_batch_size:
                raise TrainingError(f"{name}: CUDA ran out of memory even at batch size {rep.batch_size}; "
                                    "use a smaller hidden_size or input_size, or device=cpu") from None
            net.load_state_dict(good_state)
            torch.cuda.empty_cache()
            msg = f"CUDA out of memory at batch size {rep.batch_size}; retrying epoch {epoch + 1} with {rep.batch_size // 2}"
            rep.notes.append(msg)
            report(progress, "train", epoch, epochs, f"{name}: {msg}", epoch=epoch, oom_retry=True)
            rep.batch_size //= 2
            if step_fn is not None:                      # the captured step has the old batch's shape
                step_fn = GraphedStep(net, data, opt, q, cfg.grad_clip, cfg.amp, rep.batch_size)
            continue
        if diverged:
            nan_events += 1
            net.load_state_dict(good_state)
            if nan_events > cfg.max_nan_retries:
                raise TrainingError(
                    f"{name}: training diverged (loss became NaN or infinite) at epoch {epoch + 1}, even after "
                    f"lowering the learning rate {cfg.max_nan_retries} times to {lr:.3g}; check the data for "
                    "extreme values, or lower learning_rate")
            lr /= 10.0
            msg = f"loss became NaN/inf in epoch {epoch + 1}; restored the last good weights, learning rate lowered to {lr:.3g}"
            rep.notes.append(msg)
            report(progress, "train", epoch, epochs, f"{name}: {msg}", epoch=epoch, nan_guard=True)
            opt, sched = make_opt(lr, max(1, (epochs - epoch) * per_epoch))
            continue
        epoch += 1
        rep.epochs_run = epoch
        good_state = copy.deepcopy(net.state_dict())
        monitor = val_loss if len(va) else train_loss
        if monitor < best - 1e-6 * max(1.0, abs(best) if math.isfinite(best) else 1.0):
            best, since_best, rep.best_epoch = monitor, 0, epoch
            best_state = good_state
        else:
            since_best += 1
        elapsed = time.perf_counter() - t0
        eta = elapsed / epoch * (epochs - epoch)
        rec = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss if len(va) else None,
               "lr": float(opt.param_groups[0]["lr"]), "seconds": round(elapsed, 3)}
        rep.history.append(rec)
        try:
            report(progress, "train", epoch, epochs,
                   f"{name} epoch {epoch}/{epochs} · train {train_loss:.4f}"
                   + (f" · val {val_loss:.4f}" if len(va) else ""),
                   epoch=epoch, train_loss=train_loss, val_loss=rec["val_loss"], eta_s=round(eta, 1),
                   device=str(dev), model=name)
        except Cancelled:
            rep.stopped = "cancelled"
            rep.notes.append(f"stopped by the user after epoch {epoch}; kept the best weights so far")
            break
        if since_best >= cfg.patience:
            rep.stopped = "early_stopping"
            break
        if cfg.time_budget and elapsed >= cfg.time_budget and epoch < epochs:
            rep.stopped = "time_budget"
            rep.notes.append(f"stopped after epoch {epoch}: the time budget of {cfg.time_budget:g}s was spent "
                             f"({elapsed:.0f}s); kept the best weights so far (epoch {rep.best_epoch})")
            break
        if cfg.max_steps and rep.steps >= cfg.max_steps:
            rep.stopped = "max_steps"
            break
    net.load_state_dict(best_state)
    rep.cuda_graph = step_fn is not None and step_fn.graph is not None
    rep.best_val_loss = best if math.isfinite(best) else None
    rep.train_seconds = time.perf_counter() - t0
    rep.learning_rate = lr
    return rep
