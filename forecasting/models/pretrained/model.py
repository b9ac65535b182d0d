"""SalesCast's pretrained forecaster: ``pretrained`` (zero-shot) and ``finetuned`` (short fine-tune).

Both are global models (all series in one batch). The weights ship in ``weights/`` next to this file
(``model.safetensors`` + ``config.json``, trained by ``python -m pretraining.train`` on generated series
only, see MODEL_CARD.md); they are read with safetensors, never unpickled, and never downloaded.

* ``pretrained``: ``fit`` only keeps the last ``context_length`` values of every series; ``predict(h)``
  runs the network once on all series (batches of ``batch_size``). No training on the user's data.
* ``finetuned``: starts from the same weights and trains on the user's histories (random windows, pinball
  loss, AdamW) with early stopping on a time-ordered validation split (the last periods of every series
  are only used to validate); ``steps``, ``learning_rate`` and ``trainable`` (which layers) are settings.
  The shipped weights file is never written: the fine-tuned copy lives in memory, ``save(path)`` writes it.

The network forecasts ``horizon`` (64) periods directly. Longer horizons are forecast by feeding the
median back as if observed and running again (``fitted_settings()["feedback_rounds"]`` says how many).
Intervals: ``lo-80``/``hi-80`` are the 0.1/0.9 quantiles, ``lo-95``/``hi-95`` the 0.025/0.975 quantiles;
other levels are interpolated between the learnt quantiles. The mean column is the median.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError, DataError
from forecasting.models.base import DEFAULT_LEVELS, Capabilities, ForecastDict, GlobalModel, PerSeriesModel, Setting, \
    bound_key

WEIGHTS_DIR = Path(__file__).with_name("weights")
IGNORED = {"levels", "non_negative", "freq", "n_jobs", "season_length", "seed", "horizon", "progress"}
_NET_CACHE: dict[tuple[str, str], Any] = {}


def load_network(weights: str | Path | None = None, device: str = "cpu"):
    """The pretrained network (eval mode) from ``weights`` (a folder with model.safetensors + config.json;
    default: the shipped weights). Cached per process and device: do not modify the returned network."""
    import torch
    from safetensors.torch import load_file

    from forecasting.models.pretrained.network import NetConfig, PatchTransformer

    folder = Path(weights) if weights else WEIGHTS_DIR
    key = (str(folder.resolve()), str(device))
    if key in _NET_CACHE:
        return _NET_CACHE[key]
    if not (folder / "model.safetensors").is_file() or not (folder / "config.json").is_file():
        raise DataError(f"no pretrained weights in '{folder}' (model.safetensors and config.json expected)")
    cfg = NetConfig.from_dict(json.loads((folder / "config.json").read_text()))
    net = PatchTransformer(cfg)
    net.load_state_dict(load_file(str(folder / "model.safetensors"), device="cpu"))
    net = net.to(torch.device(device)).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    _NET_CACHE[key] = net
    return net


def quantile_columns(q: np.ndarray, quantiles: Sequence[float], levels: Sequence[int]) -> dict[str, np.ndarray]:
    """``q`` [..., Q] learnt quantiles -> ``mean`` (median) and ``lo-L``/``hi-L`` bounds, interpolating
    between learnt quantiles for levels that are not learnt directly (clamped to the outermost ones)."""
    qs = np.asarray(quantiles, dtype=float)

    def at(p: float) -> np.ndarray:
        p = float(np.clip(p, qs[0], qs[-1]))
        j = int(np.searchsorted(qs, p))
        if j < len(qs) and abs(qs[j] - p) < 1e-9:
            return q[..., j]
        j = min(max(j, 1), len(qs) - 1)
        w = (p - qs[j - 1]) / (qs[j] - qs[j - 1])
        return q[..., j - 1] * (1 - w) + q[..., j] * w

    out = {"mean": at(0.5)}
    for l in levels:
        out[bound_key("lo", l)] = at(0.5 - l / 200)
        out[bound_key("hi", l)] = at(0.5 + l / 200)
    return out


def _int(name: str, v, lo: int = 1) -> int:
    try:
        i = int(v)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {v!r}") from None
    if i < lo:
        raise ConfigError(f"{name} must be at least {lo}, got {i}")
    return i


class PretrainedForecaster(GlobalModel):
    """Zero-shot forecasts from the shipped pretrained network (see module docstring)."""

    name: ClassVar[str] = "pretrained"
    capabilities: ClassVar[Capabilities] = Capabilities(global_model=True, needs_torch=True)
    trains: ClassVar[bool] = False
    DEFAULTS: ClassVar[dict[str, Any]] = dict(context_length=512, batch_size=None, device="auto",
                                              num_threads=None, weights=None, deseasonalize="auto", precision="fp32")
    DESEASONALIZE = ("auto", "off")
    PRECISION = ("fp32", "bf16")
    DOCS: ClassVar[dict[str, str]] = dict(
        context_length="periods of history the network reads",
        batch_size="series per forward pass (none: 32 on the CPU, where small batches stay in the cache, 1024 on a GPU)",
        deseasonalize="auto: a series with a significant season (90% ACF test at the season length) is "
                      "divided by (or, with zeros or negatives, has subtracted) its classical seasonal indices "
                      "before the network reads it, and its quantiles get them back; off: the raw series",
        precision="fp32: the forecasts as trained; bf16: the transformer's matrix products in bfloat16 on the CPU "
                  "or a CUDA GPU (about 1.4x faster on CPUs with AVX-512 BF16, slower on CPUs without; forecasts "
                  "move by up to about 1% of the interval width, see benchmarks/results/pretrained_bf16.md)",
        device="auto, cpu, cuda, cuda:N or mps", num_threads="torch threads on the CPU (none: one per core)",
        weights="a folder of weights instead of the shipped ones", steps="fine-tuning steps at most",
        learning_rate="fine-tuning learning rate", trainable="layers fine-tuned: all, head or last",
        train_batch_size="windows per fine-tuning step", train_context="periods per fine-tuning window",
        eval_every="steps between validation checks", patience="checks without improvement before stopping",
        val_size="periods per series held out for validation (none: the horizon)",
        weight_decay="fine-tuning weight decay", random_seed="seed of the fine-tuning (the run's seed when not given)",
        max_seconds="stop fine-tuning after this many seconds (none: no limit)")
    run_options: ClassVar[tuple[str, ...]] = tuple(sorted(IGNORED))
    CPU_BATCH: ClassVar[int] = 32           # batch_size none: series per forward pass on the CPU ...
    DEVICE_BATCH: ClassVar[int] = 1024      # ... and on a GPU
    # the settings the app shows as widgets: setting -> (label, lowest value)
    PAGE_SETTINGS: ClassVar[dict[str, tuple[str, int]]] = {}

    @classmethod
    def declared_settings(cls) -> list[Setting]:
        return [Setting(v, cls.DOCS[k], kind="any", name=k, label=cls.PAGE_SETTINGS.get(k, ("", None))[0],
                        low=cls.PAGE_SETTINGS.get(k, ("", None))[1]) for k, v in cls.DEFAULTS.items()]

    def __init__(self, season_length: int = 1, **settings: Any) -> None:
        super().__init__(season_length, **settings)
        unknown = sorted(set(settings) - set(self.DEFAULTS) - IGNORED)
        if unknown:
            raise ConfigError(f"unknown setting(s) {unknown} for {self.name}; known: {', '.join(sorted(self.DEFAULTS))}")
        self.cfg = {**self.DEFAULTS, **{k: v for k, v in settings.items() if k in self.DEFAULTS}}
        self.progress = settings.get("progress")
        self.cfg["context_length"] = _int("context_length", self.cfg["context_length"], 8)
        if self.cfg["batch_size"] is not None:
            self.cfg["batch_size"] = _int("batch_size", self.cfg["batch_size"])
        if self.cfg["num_threads"] is not None:
            self.cfg["num_threads"] = _int("num_threads", self.cfg["num_threads"])
        if str(self.cfg["deseasonalize"]).lower() not in self.DESEASONALIZE:
            raise ConfigError(f"{self.name}: deseasonalize must be one of {', '.join(self.DESEASONALIZE)}, "
                              f"got {self.cfg['deseasonalize']!r}")
        self.cfg["deseasonalize"] = str(self.cfg["deseasonalize"]).lower()
        if str(self.cfg["precision"]).lower() not in self.PRECISION:
            raise ConfigError(f"{self.name}: precision must be one of {', '.join(self.PRECISION)}, "
                              f"got {self.cfg['precision']!r}")
        self.cfg["precision"] = str(self.cfg["precision"]).lower()
        self.fitted_: dict[str, Any] = {}
        self.net_ = None

    @classmethod
    def setting_names(cls) -> set[str]:
        return set(cls.DEFAULTS) | {"progress"}

    def check_device(self) -> None:
        from forecasting.models.deep.device import choose_device

        choose_device(self.cfg["device"])

    # ----- protocol ----------------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, freq: str) -> "PretrainedForecaster":
        from forecasting.data.contract import DS, ID, Y

        if df.empty:
            raise DataError(f"{self.name}: no rows to fit")
        self.freq_ = freq
        ids, hist, last = [], [], []
        for uid, g in df.sort_values([ID, DS], kind="stable").groupby(ID, sort=False):
            y = g[Y].to_numpy(dtype=float)
            ids.append(str(uid))
            hist.append(y)
            last.append(pd.Timestamp(g[DS].iloc[-1]))
        self.ids_, self.history_, self.last_ds_ = ids, hist, last
        self.net_ = self._network()
        self.fitted_ = {"device": self._device_name(), "context_length": self.cfg["context_length"],
                        "weights": self._weights_label(), "parameters": int(sum(p.numel() for p in self.net_.parameters())),
                        "trained_on_your_data": False}
        return self

    def predict(self, h: int, futr_df: pd.DataFrame | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS, ids: Sequence[str] | None = None) -> pd.DataFrame:
        from forecasting.data.contract import DS, ID

        h = _int("horizon", h)
        if self.net_ is None:
            raise ConfigError(f"{self.name} is not fitted; call fit first")
        self.train_for(h)
        pick = range(len(self.ids_)) if ids is None else [self.ids_.index(u) for u in ids if u in self.ids_]
        pick = list(pick)
        q = self.quantiles_for([self.history_[i] for i in pick], h)              # [n, h, Q]
        cols = quantile_columns(q, self.net_.cfg.quantiles, levels)
        dates: dict[pd.Timestamp, np.ndarray] = {}           # series often end on the same date
        for i in pick:
            if self.last_ds_[i] not in dates:
                dates[self.last_ds_[i]] = _future_dates(self.last_ds_[i], self.freq_, h)
        frame = {ID: np.repeat([self.ids_[i] for i in pick], h),
                 DS: np.concatenate([dates[self.last_ds_[i]] for i in pick])
                 if pick else np.array([], dtype="datetime64[ns]")}
        for k, v in cols.items():
            frame[k] = v.reshape(-1)
        return pd.DataFrame(frame)

    def train_for(self, h: int) -> None:
        """Nothing to train for the zero-shot model (the fine-tuned one trains here)."""

    def series_ids(self) -> list[str]:
        return list(self.ids_)

    def fitted_settings(self) -> dict[str, Any]:
        return dict(self.fitted_)

    @classmethod
    def test_params(cls) -> dict[str, Any]:
        return {"device": "cpu", "num_threads": 1, "context_length": 64}

    # ----- inference ---------------------------------------------------------------------------------
    def quantiles_for(self, series: list[np.ndarray], h: int) -> np.ndarray:
        """[n, h, Q] quantile forecasts for the given histories (batched; median fed back past the
        network's horizon).

        The series are sorted by length and cut into batches of ``batch_size`` (so a batch pads little);
        on the CPU, ``num_threads`` > 1 runs that many batches at once, each on one thread (a small
        network's operations split poorly over threads, whole batches do not)."""
        import torch

        from forecasting.models.deep.device import torch_threads

        net = self.net_
        H, C = net.cfg.horizon, min(self.cfg["context_length"], net.cfg.max_context)
        n, Q = len(series), len(net.cfg.quantiles)
        seasons = [season_of(np.asarray(y, dtype=float), self.season_length) if self.cfg["deseasonalize"] == "auto"
                   else None for y in series]
        series = [adjust(np.asarray(y, dtype=float), sz) for y, sz in zip(series, seasons)]
        self.fitted_["deseasonalized"] = {"multiplicative": sum(1 for sz in seasons if sz and sz[1]),
                                          "additive": sum(1 for sz in seasons if sz and not sz[1]),
                                          "none": sum(1 for sz in seasons if not sz)}
        out = np.zeros((n, h, Q), dtype=np.float32)
        rounds = math.ceil(h / H)
        self.fitted_["feedback_rounds"] = rounds - 1
        if rounds > 1:
            self.fitted_["note"] = (f"horizon {h} > the network's {H}: forecast in {rounds} passes, "
                                    "each feeding the previous median back as history")
        dev = next(net.parameters()).device
        # sort by length so a batch pads little
        order = np.argsort([-min(len(s), C) for s in series], kind="stable")
        bs = self.cfg["batch_size"] or (self.CPU_BATCH if dev.type == "cpu" else self.DEVICE_BATCH)
        batches = [order[b:b + bs] for b in range(0, n, bs)]
        bf16 = self.cfg["precision"] == "bf16" and dev.type in ("cpu", "cuda")
        self.fitted_["precision"] = "bf16" if bf16 else "fp32"

        def run(idx: np.ndarray) -> None:
            ctx = [np.asarray(series[i], dtype=np.float32)[-C:] for i in idx]
            done = 0
            while done < h:
                y, m = _left_padded(ctx)
                take = min(H, h - done)
                pred = net.predict(torch.from_numpy(y).to(dev), torch.from_numpy(m).to(dev), take, bf16).cpu().numpy()
                out[idx, done:done + take] = pred
                done += take
                if done < h:
                    med = pred[:, :, Q // 2]
                    ctx = [np.concatenate([c, med[r]])[-C:] for r, c in enumerate(ctx)]

        threads = self.cfg["num_threads"] or 1
        workers = min(threads, len(batches)) if dev.type == "cpu" else 1
        with torch_threads(1 if workers > 1 else threads):
            if workers > 1:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(workers, thread_name_prefix="pretrained") as pool:
                    list(pool.map(run, batches))          # each batch writes its own rows of ``out``
            else:
                for idx in batches:
                    run(idx)
        for i, sz in enumerate(seasons):
            if sz:
                idx = ahead(sz, h)[:, None].astype(np.float32)
                out[i] = out[i] * idx if sz[1] else out[i] + idx
        return out

    # ----- helpers -----------------------------------------------------------------------------------
    def _device(self):
        from forecasting.models.deep.device import choose_device

        return choose_device(self.cfg["device"])

    def _device_name(self) -> str:
        from forecasting.models.deep.device import describe

        return describe(next(self.net_.parameters()).device)

    def _weights_label(self) -> str:
        return "shipped" if not self.cfg["weights"] else str(self.cfg["weights"])

    def _network(self):
        return load_network(self.cfg["weights"], str(self._device()))


class FinetunedForecaster(PretrainedForecaster):
    """The pretrained network fine-tuned on the series it is fitted on (see module docstring)."""

    name: ClassVar[str] = "finetuned"
    trains: ClassVar[bool] = True
    DEFAULTS: ClassVar[dict[str, Any]] = dict(
        PretrainedForecaster.DEFAULTS, steps=60, learning_rate=2e-4, trainable="all", train_batch_size=32,
        train_context=128, eval_every=10, patience=2, val_size=None, weight_decay=0.0, random_seed=0,
        max_seconds=None)
    TRAINABLE = ("all", "head", "last")   # all layers; output head only; head + last transformer block
    PAGE_SETTINGS: ClassVar[dict[str, tuple[str, int]]] = {
        "steps": ("fine-tune steps", 1), "patience": ("early-stopping patience (checks)", 0)}

    def __init__(self, season_length: int = 1, **settings: Any) -> None:
        if "seed" in settings:
            settings.setdefault("random_seed", settings["seed"])
        super().__init__(season_length, **settings)
        c = self.cfg
        for k in ("steps", "train_batch_size", "eval_every"):
            c[k] = _int(k, c[k])
        c["patience"] = _int("patience", c["patience"], 0)
        c["train_context"] = _int("train_context", c["train_context"], 8)
        c["random_seed"] = _int("random_seed", c["random_seed"] or 0, 0)
        try:
            c["learning_rate"] = float(c["learning_rate"])
            c["weight_decay"] = float(c["weight_decay"])
        except (TypeError, ValueError):
            raise ConfigError(f"{self.name}: learning_rate and weight_decay must be numbers") from None
        if not (math.isfinite(c["learning_rate"]) and c["learning_rate"] > 0):
            raise ConfigError(f"{self.name}: learning_rate must be a positive number, got {c['learning_rate']}")
        if str(c["trainable"]).lower() not in self.TRAINABLE:
            raise ConfigError(f"{self.name}: trainable must be one of {', '.join(self.TRAINABLE)}, got {c['trainable']!r}")
        c["trainable"] = str(c["trainable"]).lower()
        if c["val_size"] is not None:
            c["val_size"] = _int("val_size", c["val_size"])
        self._trained_h = 0

    @classmethod
    def test_params(cls) -> dict[str, Any]:
        return {"device": "cpu", "num_threads": 1, "context_length": 64, "steps": 4, "eval_every": 2,
                "train_batch_size": 16, "train_context": 32}

    def fit(self, df: pd.DataFrame, freq: str) -> "FinetunedForecaster":
        super().fit(df, freq)
        self.fitted_["trained_on_your_data"] = True
        h = self.settings.get("horizon")
        self._trained_h = 0
        if h is not None:
            self._finetune(_int("horizon", h))
        return self

    def train_for(self, h: int) -> None:
        if self._trained_h == 0:
            self._finetune(int(h))

    def _finetune(self, h: int) -> None:
        """Fine-tune a copy of the pretrained network on windows of the fitted histories."""
        import copy

        import torch

        from forecasting.models.deep.device import torch_threads
        from forecasting.progress import Cancelled, report

        c = self.cfg
        base = self._network()
        net = copy.deepcopy(base).train()
        H = net.cfg.horizon
        Ht = min(h, H)                                   # the loss covers the steps that will be forecast
        C = min(c["train_context"], net.cfg.max_context)
        for p in net.parameters():
            p.requires_grad_(c["trainable"] == "all")
        if c["trainable"] in ("head", "last"):
            for mod in [net.head, net.norm] + ([net.blocks[-1]] if c["trainable"] == "last" else []):
                for p in mod.parameters():
                    p.requires_grad_(True)
        params = [p for p in net.parameters() if p.requires_grad]
        # time-ordered split: the last v periods of each series validate, earlier ones train
        train_s, val_s = [], []
        for y in self.history_:
            y = np.asarray(y, dtype=np.float32)
            v = c["val_size"] or min(Ht, max(1, len(y) // 5))
            if len(y) - v >= 4:
                # the network reads series as the forecast will give them (see ``deseasonalize``); the
                # seasonal indices come from the training part only
                sz = season_of(y[:-v].astype(float), self.season_length) if c["deseasonalize"] == "auto" else None
                fit_part = adjust(y[:-v].astype(float), sz).astype(np.float32)
                train_s.append(fit_part)
                val_s.append((fit_part, adjust(y[-v:].astype(float), sz, future=True).astype(np.float32)))
        rng = np.random.default_rng(c["random_seed"])
        torch.manual_seed(c["random_seed"])
        dev = next(net.parameters()).device
        t0 = time.perf_counter()
        history: list[dict[str, float]] = []
        stopped = "steps"
        best_state, best_val, since = None, math.inf, 0
        steps_done = 0
        with torch_threads(c["num_threads"]):
            if not train_s or not params:
                stopped = "no training windows (series too short)" if not train_s else "nothing trainable"
            else:
                opt = torch.optim.AdamW(params, lr=c["learning_rate"], weight_decay=c["weight_decay"])
                best_val = self._val_loss(net, val_s, C, H)
                best_state = copy.deepcopy(net.state_dict())
                history.append({"step": 0, "val_loss": best_val})
                run = []
                for step in range(1, c["steps"] + 1):
                    y, m, t, tm = _windows(rng, train_s, c["train_batch_size"], C, Ht)
                    net.train()
                    opt.zero_grad(set_to_none=True)
                    loss = net.loss(*(torch.from_numpy(a).to(dev) for a in (y, m, t, tm)))
                    if not torch.isfinite(loss):
                        stopped = "non-finite loss"
                        break
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(params, 1.0)
                    opt.step()
                    steps_done = step
                    run.append(float(loss.detach()))
                    if step % c["eval_every"] == 0 or step == c["steps"]:
                        val = self._val_loss(net, val_s, C, H)
                        history.append({"step": step, "train_loss": float(np.mean(run)), "val_loss": val})
                        run = []
                        if val < best_val - 1e-6:
                            best_val, since, best_state = val, 0, copy.deepcopy(net.state_dict())
                        else:
                            since += 1
                        try:
                            report(self.progress, "train", step, c["steps"],
                                   f"{self.name} step {step}/{c['steps']} · val {val:.4f}", epoch=len(history) - 1,
                                   train_loss=history[-1]["train_loss"], val_loss=val, model=self.name,
                                   device=str(dev))
                        except Cancelled:
                            stopped = "cancelled"          # stopped by the user: keep the best weights so far
                            break
                        if since > c["patience"]:
                            stopped = "early_stopping"
                            break
                    if c["max_seconds"] and time.perf_counter() - t0 > float(c["max_seconds"]):
                        stopped = "max_seconds"
                        break
                net.load_state_dict(best_state)
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        self.net_ = net
        self._trained_h = h
        self.fitted_.update(steps=steps_done, stopped=stopped, best_val_loss=None if not math.isfinite(best_val) else best_val,
                            train_seconds=round(time.perf_counter() - t0, 3), trainable=c["trainable"],
                            learning_rate=c["learning_rate"], train_series=len(train_s), history=history)

    @staticmethod
    def _val_loss(net, val_s, C: int, H: int) -> float:
        import torch

        if not val_s:
            return float("nan")
        net.eval()
        tot, w = 0.0, 0.0
        with torch.no_grad():
            for b in range(0, len(val_s), 512):
                part = val_s[b:b + 512]
                v = max(len(t) for _, t in part)
                L = min(C, max(len(x) for x, _ in part))
                y = np.zeros((len(part), L), np.float32)
                m = np.zeros_like(y)
                t = np.zeros((len(part), v), np.float32)
                tm = np.zeros_like(t)
                for r, (x, tg) in enumerate(part):
                    x = x[-L:]
                    y[r, L - len(x):], m[r, L - len(x):] = x, 1.0
                    t[r, :len(tg)], tm[r, :len(tg)] = tg, 1.0
                k = float(tm.sum())
                tot += float(net.loss(*(torch.from_numpy(a) for a in (y, m, t[:, :H], tm[:, :H])))) * k
                w += k
        return tot / w if w else float("nan")

    # ----- persistence -------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the fine-tuned network to ``path`` (a folder: model.safetensors + config.json +
        finetune.json); load it back with ``load`` or as ``weights=path``. Never the shipped folder."""
        from safetensors.torch import save_file

        if self.net_ is None or self._trained_h == 0:
            raise DataError(f"{self.name} is not fine-tuned yet; nothing to save")
        folder = Path(path)
        if folder.resolve() == WEIGHTS_DIR.resolve():
            raise DataError("refusing to overwrite the shipped pretrained weights")
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().float().contiguous() for k, v in self.net_.state_dict().items()},
                  str(folder / "model.safetensors"), metadata={"format": "salescast-pretrained/1"})
        (folder / "config.json").write_text(json.dumps(self.net_.cfg.to_dict(), indent=1) + "\n")
        meta = {k: v for k, v in self.fitted_.items() if k != "history"}
        (folder / "finetune.json").write_text(json.dumps({"fitted": meta, "season_length": self.season_length,
                                                          "settings": {k: v for k, v in self.cfg.items() if k != "weights"}},
                                                         indent=1, default=str) + "\n")

    @classmethod
    def load(cls, path: str | Path, **settings: Any) -> "PretrainedForecaster":
        """A zero-shot forecaster over saved fine-tuned weights (no further training). It reads series as the
        fine-tuning did (the same season length and ``deseasonalize``) unless told otherwise."""
        saved = {}
        meta = Path(path) / "finetune.json"
        if meta.exists():
            saved = json.loads(meta.read_text())
        season_length = settings.pop("season_length", saved.get("season_length", 1))
        settings.setdefault("deseasonalize", saved.get("settings", {}).get("deseasonalize", "off"))
        return PretrainedForecaster(season_length, weights=str(path), **settings)


def season_of(y: np.ndarray, m: int) -> tuple[np.ndarray, bool] | None:
    """The seasonal indices the forecast continues with (the last season's, in the order of the periods
    after the history) and whether they multiply, or None when ``y`` shows no significant season at ``m``
    (:func:`~forecasting.models.theta.significant_season`, the Theta method's rule)."""
    from forecasting.models.theta import significant_season

    season = significant_season(y, m)
    return None if season is None else (season[0][y.size - m:], season[1])


def adjust(y: np.ndarray, season: tuple[np.ndarray, bool] | None, future: bool = False) -> np.ndarray:
    """``y`` with its seasonal component taken out (as :func:`season_of` found it); ``y`` itself without one.
    ``future``: ``y`` are the periods after the history (the last season's indices repeated), else the
    history itself (aligned to its end)."""
    if not season:
        return y
    idx, mult = season
    full = ahead(season, y.size) if future else np.resize(np.roll(idx, y.size % idx.size), y.size)
    return y / full if mult else y - full


def ahead(season: tuple[np.ndarray, bool], h: int) -> np.ndarray:
    """The seasonal index of each of the ``h`` periods after the history: the last season's, repeated."""
    return np.resize(season[0], h)


def _left_padded(ctx: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Histories (float32, at most the context length) -> values [B, L] right-aligned, 0 before a history
    starts and where it is missing, and the mask [B, L] of the observed periods (L: the longest)."""
    L = max(1, max(len(c) for c in ctx))
    y = np.zeros((len(ctx), L), dtype=np.float32)
    for r, c in enumerate(ctx):
        if len(c):
            y[r, L - len(c):] = c
    m = np.isfinite(y)
    starts = L - np.fromiter((len(c) for c in ctx), dtype=np.int64, count=len(ctx))
    m &= np.arange(L)[None, :] >= starts[:, None]
    y[~m] = 0.0
    return y, m.astype(np.float32)


def _future_dates(last: pd.Timestamp, freq: str, h: int) -> np.ndarray:
    return pd.date_range(start=last, periods=h + 1, freq=freq)[1:].to_numpy()


def _windows(rng: np.random.Generator, series: list[np.ndarray], batch: int, C: int, H: int):
    """Random training windows: context [B, C] (left-masked when shorter) and target [B, H] (masked past
    the end of the training part)."""
    y = np.zeros((batch, C), np.float32)
    m = np.zeros_like(y)
    t = np.zeros((batch, H), np.float32)
    tm = np.zeros_like(t)
    pick = rng.integers(0, len(series), batch)
    for r, i in enumerate(pick):
        s = series[i]
        n = len(s)
        lo = min(max(2, n // 4), n - 1)
        end = int(rng.integers(lo, n))                 # context s[:end], target s[end:end + H]
        x = s[max(0, end - C):end]
        y[r, C - len(x):], m[r, C - len(x):] = x, 1.0
        tg = s[end:end + H]
        t[r, :len(tg)], tm[r, :len(tg)] = tg, 1.0
    ok = np.isfinite(y)
    m *= ok
    y[~ok] = 0
    okt = np.isfinite(t)
    tm *= okt
    t[~okt] = 0
    return y, m, t, tm


class PretrainedPerSeries(PerSeriesModel):
    """One series through the zero-shot network, for the ensemble (``ets,theta,pretrained``); the
    network is loaded once per process."""

    name: ClassVar[str] = "pretrained"
    capabilities: ClassVar[Capabilities] = Capabilities(needs_torch=True)

    @classmethod
    def declared_settings(cls) -> list[Setting]:
        return PretrainedForecaster.declared_settings()

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "PretrainedPerSeries":
        self.y_ = np.asarray(y, dtype=float)
        return self

    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        g = PretrainedForecaster(self.season_length, **{k: v for k, v in self.settings.items()
                                                          if k in PretrainedForecaster.DEFAULTS})
        if g.cfg["num_threads"] is None:
            g.cfg["num_threads"] = 1
        g.net_ = g._network()
        q = g.quantiles_for([self.y_], int(h))[0]
        self.fitted_ = g.fitted_
        return quantile_columns(q, g.net_.cfg.quantiles, levels)

    def fitted_settings(self) -> dict[str, Any]:
        return {"weights": "shipped", **{k: v for k, v in getattr(self, "fitted_", {}).items() if k == "feedback_rounds"}}
