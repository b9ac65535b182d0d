"""Pretrain SalesCast's patch transformer on the generated corpus (one command).

    python -m pretraining.train --steps 6000 --device cpu --seed 0 --out forecasting/models/pretrained/weights

writes ``OUT/model.safetensors`` (weights, float32), ``OUT/config.json`` (architecture) and
``OUT/training.json`` (command, steps, samples seen, wall time, hardware, loss curve), and keeps a
checkpoint ``OUT/checkpoint.pt`` (weights + optimizer + step; plain tensors, read with
``weights_only=True``) every ``--checkpoint-every`` steps: run the same command again and it resumes.

Deterministic for a seed: batch ``s`` is drawn from a generator seeded by ``(seed, s)`` and the GP kernel
bank is a function of the seed and the step (see ``generators.KernelBank``), so a resumed run sees the
same batches as an uninterrupted one; on one machine kind the loss curve repeats exactly (1 thread).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pretraining.train", description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, required=True, help="optimizer steps")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="folder for the weights, config, log and checkpoint")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--patch-len", type=int, default=8)
    p.add_argument("--horizon", type=int, default=64)
    p.add_argument("--max-context", type=int, default=512)
    p.add_argument("--train-max-context", type=int, default=512,
                   help="longest context drawn in training (the model still accepts --max-context)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop (and save) after this wall time; the step count reached is recorded")
    p.add_argument("--stop-at", type=int, default=None,
                   help="stop (checkpoint kept) at this step, as an interruption would; run again to resume")
    return p


def lr_at(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


def save_weights(net, cfg, out: Path, meta: dict) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().float().contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "salescast-pretrained/1"})
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1) + "\n")
    (out / "training.json").write_text(json.dumps(meta, indent=1) + "\n")


def _print(msg: str) -> None:
    print(msg, flush=True)


def main(argv: list[str] | None = None, log=_print) -> dict:
    args = build_parser().parse_args(argv)
    import torch

    from forecasting.models.pretrained.network import NetConfig, PatchTransformer, n_params
    from pretraining.generators import KernelBank, sample_batch

    torch.set_num_threads(max(1, args.threads))
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda asked for, but no CUDA GPU is available", file=sys.stderr)
        raise SystemExit(2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = NetConfig(patch_len=args.patch_len, max_context=args.max_context, horizon=args.horizon,
                    d_model=args.d_model, n_heads=args.heads, n_layers=args.layers)
    torch.manual_seed(args.seed)
    net = PatchTransformer(cfg).to(dev)
    decay = [p for n, p in net.named_parameters() if p.ndim >= 2 and n not in ("pos", "future")]
    no_decay = [p for n, p in net.named_parameters() if not (p.ndim >= 2 and n not in ("pos", "future"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    ck = out / "checkpoint.pt"
    start, history, wall_before = 0, [], 0.0
    if ck.exists():
        blob = torch.load(ck, map_location="cpu", weights_only=True)
        if json.loads(blob["config"]) != cfg.to_dict() or int(blob["seed"]) != args.seed:
            raise SystemExit(f"error: {ck} was written with other settings; remove it or use another --out")
        net.load_state_dict(blob["model"])
        opt.load_state_dict(blob["optim"])
        start = int(blob["step"])
        history = json.loads(blob["history"])
        wall_before = float(blob["wall"])
        log(f"resuming from step {start} ({ck})")
    bank = KernelBank(args.seed, args.train_max_context + args.horizon, start_step=start)
    log(f"pretraining {n_params(net):,} parameters on {dev} · {args.steps} steps of {args.batch_size} series · seed {args.seed}")

    def checkpoint(step: int, wall: float) -> None:
        tmp = out / "checkpoint.pt.tmp"
        torch.save({"model": net.state_dict(), "optim": opt.state_dict(), "step": torch.tensor(step),
                    "seed": torch.tensor(args.seed), "config": json.dumps(cfg.to_dict()),
                    "history": json.dumps(history), "wall": torch.tensor(wall)}, tmp)
        os.replace(tmp, ck)

    t0 = time.perf_counter()
    run_loss, run_n = 0.0, 0
    step = start
    net.train()
    while step < args.steps:
        if args.stop_at is not None and step >= args.stop_at:
            log(f"stopping at step {step} (--stop-at); run without it to resume")
            break
        rng = np.random.default_rng([args.seed, step])
        bank.advance(step)
        y, m, t, tm = (torch.from_numpy(a).to(dev) for a in
                       sample_batch(rng, args.batch_size, args.horizon, max_context=args.train_max_context, bank=bank))
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        opt.zero_grad(set_to_none=True)
        loss = net.loss(y, m, t, tm)
        if not torch.isfinite(loss):
            log(f"step {step}: non-finite loss, batch skipped")
            step += 1
            continue
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        run_loss += float(loss.detach())
        run_n += 1
        wall = wall_before + time.perf_counter() - t0
        if step % args.log_every == 0 or step == args.steps:
            done = step - start
            eta = (time.perf_counter() - t0) / max(done, 1) * (args.steps - step)
            history.append({"step": step, "loss": round(run_loss / run_n, 5), "wall_s": round(wall, 1)})
            log(f"step {step}/{args.steps} · loss {run_loss / run_n:.4f} · {done / (time.perf_counter() - t0):.2f} steps/s · "
                f"elapsed {wall / 60:.1f} min · ETA {eta / 60:.1f} min")
            run_loss, run_n = 0.0, 0
        if step % args.checkpoint_every == 0:
            checkpoint(step, wall)
        if args.max_minutes is not None and wall >= args.max_minutes * 60:
            log(f"stopping at step {step}: --max-minutes {args.max_minutes} reached")
            break
    wall = wall_before + time.perf_counter() - t0
    checkpoint(step, wall)
    meta = {"command": "python -m pretraining.train " + " ".join(argv if argv is not None else sys.argv[1:]),
            "steps": step, "steps_asked": args.steps, "batch_size": args.batch_size,
            "samples_seen": step * args.batch_size, "seed": args.seed, "device": str(dev),
            "threads": args.threads, "wall_seconds": round(wall, 1), "parameters": n_params(net),
            "hardware": f"{platform.machine()} {platform.processor() or ''} ({os.cpu_count()} cores), "
                        f"torch {torch.__version__}".strip(),
            "lr": args.lr, "weight_decay": args.weight_decay, "warmup": args.warmup,
            "train_max_context": args.train_max_context, "loss_curve": history}
    save_weights(net, cfg, out, meta)
    log(f"saved {out / 'model.safetensors'} ({(out / 'model.safetensors').stat().st_size / 1e6:.1f} MB) · "
        f"{step} steps · {step * args.batch_size:,} series · {wall / 60:.1f} min")
    return meta


if __name__ == "__main__":
    main()
