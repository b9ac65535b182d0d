"""The shared base of the deep models: a :class:`GlobalModel` that owns everything but the encoder.

A subclass only says how to build its encoder over the lookback (``build_encoder``). The base does the
windowing (``windows.py``), scaling and features (``data.py``, ``features.py``), global or per-series
fitting, quantile loss with conformal calibration on the validation windows, the training loop
(``loop.py``), device choice (``device.py``), seeding, progress and persistence.

Settings are declared once, in ``SETTING_DOCS`` (one line each) with their defaults in ``COMMON`` and the
device presets (``preset`` picks the CPU or GPU defaults; explicit settings win); per network,
``extra_defaults`` and ``extra_docs``.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError
from forecasting.models.base import DEFAULT_LEVELS, GlobalModel
from forecasting.models.settings import Setting
from forecasting.models.deep import calibrate
from forecasting.models.deep.data import prepare

CPU_PRESET: dict[str, Any] = dict(
    max_epochs=20, batch_size=256, learning_rate=3e-3, weight_decay=1e-4, patience=4, grad_clip=1.0,
    hidden_size=32, num_layers=1, dropout=0.0, context_size=8, decoder_hidden=32, emb_dim=4)
GPU_PRESET: dict[str, Any] = dict(
    max_epochs=100, batch_size=1024, learning_rate=2e-3, weight_decay=1e-4, patience=10, grad_clip=1.0,
    hidden_size=128, num_layers=2, dropout=0.1, context_size=16, decoder_hidden=128, emb_dim=8)
COMMON: dict[str, Any] = dict(
    horizon=None, input_size=None, steps_per_epoch=None, min_steps_per_epoch=25, max_steps=None, val_size=None,
    scaler="standard", window_norm=True, linear_skip=True, covariates=True, calendar=True, holiday_country=None,
    local=False, device="auto", amp=True, cuda_graph=True, num_threads=None, random_seed=0, train_levels=(80, 95),
    conformal=True, progress=None, preset="auto", time_budget=None)
IGNORED = ("levels", "non_negative", "freq", "n_jobs", "season_length")
SETTING_DOCS: dict[str, str] = {
    "max_epochs": "training epochs at most (early stopping may end sooner)",
    "batch_size": "training windows per optimiser step",
    "learning_rate": "AdamW learning rate",
    "weight_decay": "AdamW weight decay",
    "patience": "epochs without a better validation loss before training stops",
    "grad_clip": "gradient norm clipping (0: none)",
    "hidden_size": "width of the encoder",
    "num_layers": "encoder layers",
    "dropout": "dropout between layers, in [0, 1)",
    "context_size": "width of the context vector per horizon step",
    "decoder_hidden": "width of the decoder's hidden layer",
    "emb_dim": "width of the series embedding (0: none)",
    "horizon": "horizon the network trains for (none: the first forecast's)",
    "input_size": "lookback in periods (none: max(2 horizon, 2 seasons, 8))",
    "steps_per_epoch": "optimiser steps per epoch (none: one pass over the windows)",
    "min_steps_per_epoch": "at least this many steps per epoch (small data reuses windows)",
    "max_steps": "stop after this many optimiser steps in all",
    "val_size": "periods per series held out for validation (none: the horizon)",
    "scaler": "per-series scaling: standard, robust or none",
    "window_norm": "normalise each input window by its own level",
    "linear_skip": "add a linear path from the lookback to the forecast",
    "covariates": "use the dataset's covariates: true, false or a list of names",
    "calendar": "add calendar features (day of week, month …)",
    "holiday_country": "ISO country code of public holidays as features, e.g. US, GB, DE (none: no holidays)",
    "local": "one network per series instead of one for all",
    "device": "auto, cpu, cuda, cuda:N or mps",
    "amp": "bf16 autocast on CUDA (and a CPU encoder with native bf16); false: fp32 throughout",
    "cuda_graph": "capture the training step in a CUDA graph on the GPU",
    "num_threads": "torch threads on the CPU (none: one per core)",
    "random_seed": "seed of weights and shuffling (the run's seed when not given)",
    "train_levels": "interval levels the quantile loss learns",
    "conformal": "calibrate the intervals on the validation windows",
    "progress": "a callback for training progress (Python only)",
    "preset": "defaults for the device: auto, cpu or gpu",
    "time_budget": "stop training after this many seconds (none: no limit)",
}
# the networks' key settings, shown on the pages: setting -> label
PAGE_SETTINGS = {"max_epochs": "epochs", "hidden_size": "hidden units", "patience": "early-stopping patience"}
# the largest values a setting may take: far above any useful network, far below one that cannot be allocated
UPPER_BOUNDS = {"hidden_size": 4096, "num_layers": 16, "context_size": 4096, "decoder_hidden": 8192,
                "emb_dim": 1024, "batch_size": 1 << 20, "max_epochs": 1_000_000, "patience": 1_000_000}
INT_SETTINGS = ("max_epochs", "batch_size", "patience", "hidden_size", "num_layers", "context_size",
                "decoder_hidden", "emb_dim")


class DeepForecaster(GlobalModel):
    """Base of LSTM / GRU / Transformer forecasters (see module docstring)."""

    name: ClassVar[str] = "deep"
    extra_defaults: ClassVar[dict[str, Any]] = {}
    extra_docs: ClassVar[dict[str, str]] = {}
    run_options: ClassVar[tuple[str, ...]] = ("seed", *IGNORED)
    # With ``amp`` on a CPU that computes bf16 natively, run the encoder in bf16 autocast (the head, loss
    # and optimizer stay fp32). Worth it where the encoder is one oneDNN kernel with a bf16 path (LSTM:
    # its step ran about 1.4x faster); GRU has no such path and went slower, so it is per network.
    cpu_bf16_encoder: ClassVar[bool] = False

    def __init__(self, season_length: int = 1, **settings: Any) -> None:
        super().__init__(season_length, **settings)     # names checked against declared_settings()
        settings = dict(self.settings)
        if "seed" in settings:           # the run's seed; an explicit random_seed wins
            settings.setdefault("random_seed", settings.pop("seed"))
        self.settings = settings
        self.settle(self.resolved(), 10**6)   # bad values fail where they are given, not at the first fit
        self._pending: tuple[pd.DataFrame, str] | None = None
        self.net_ = None
        self.local_: dict[str, Any] | None = None
        self.fitted_: dict[str, Any] = {}

    # ----- what subclasses provide -------------------------------------------------------------------
    def build_encoder(self, input_dim: int, cfg: dict[str, Any]):
        """Return ``(encoder module, output width)``; the encoder maps [B, L, input_dim] -> [B, width]."""
        raise NotImplementedError

    def settle(self, cfg: dict[str, Any], lookback: int) -> dict[str, Any]:
        """Settings that depend on the data (``auto`` values), fixed once the lookback is known; the
        settled values are what is saved with the model. Subclasses add theirs."""
        return cfg

    # ----- settings ----------------------------------------------------------------------------------
    @classmethod
    def declared_settings(cls) -> list[Setting]:
        """Every setting this network takes, with its CPU-preset default (values are checked by
        :meth:`resolved`, which also knows the GPU preset)."""
        defaults = {**COMMON, **CPU_PRESET, **cls.extra_defaults}
        docs = {**SETTING_DOCS, **cls.extra_docs}
        out = []
        for k in [*CPU_PRESET, *COMMON, *cls.extra_defaults]:
            doc = docs[k] + (f" (cpu preset {CPU_PRESET[k]}, gpu preset {GPU_PRESET[k]})" if k in CPU_PRESET else "")
            out.append(Setting(defaults[k], doc, kind="any", low=1 if k in PAGE_SETTINGS else None,
                               label=PAGE_SETTINGS.get(k, ""), name=k))
        return out

    @classmethod
    def setting_names(cls) -> set[str]:
        """Every setting this network takes."""
        return {s.name for s in cls.declared_settings()}

    def resolved(self, device_type: str = "cpu") -> dict[str, Any]:
        """All settings: preset for the device, then the class' extras, then what the caller gave."""
        given = {k: v for k, v in self.settings.items() if k not in IGNORED}
        preset = str(given.get("preset", "auto")).lower()
        if preset not in ("auto", "cpu", "gpu"):
            raise ConfigError(f"unknown preset '{preset}'; use auto, cpu or gpu")
        use_gpu = preset == "gpu" or (preset == "auto" and device_type == "cuda")
        cfg = {**COMMON, **(GPU_PRESET if use_gpu else CPU_PRESET), **self.extra_defaults, **given,
               "preset": "gpu" if use_gpu else "cpu"}
        for k in INT_SETTINGS:
            try:
                cfg[k] = int(cfg[k])
            except (TypeError, ValueError):
                raise ConfigError(f"{self.name}: {k} must be a whole number, got {cfg[k]!r}") from None
            if cfg[k] < (0 if k == "emb_dim" else 1):
                raise ConfigError(f"{self.name}: {k} must be positive, got {cfg[k]}")
        for k in ("learning_rate", "weight_decay", "grad_clip", "dropout"):
            try:
                cfg[k] = float(cfg[k])
            except (TypeError, ValueError):
                raise ConfigError(f"{self.name}: {k} must be a number, got {cfg[k]!r}") from None
            if not math.isfinite(cfg[k]) or cfg[k] < 0 or (k == "learning_rate" and cfg[k] == 0):
                raise ConfigError(f"{self.name}: {k} must be a finite positive number, got {cfg[k]}")
        for k, top in UPPER_BOUNDS.items():   # a saved or typed config must not ask for a 640 GB network
            if k in cfg and cfg[k] > top:
                raise ConfigError(f"{self.name}: {k} must be at most {top:,}, got {cfg[k]:,}")
        if cfg["time_budget"] is not None:
            try:
                cfg["time_budget"] = float(cfg["time_budget"])
            except (TypeError, ValueError):
                raise ConfigError(f"{self.name}: time_budget must be a number of seconds, "
                                  f"got {cfg['time_budget']!r}") from None
            if not math.isfinite(cfg["time_budget"]) or cfg["time_budget"] <= 0:
                raise ConfigError(f"{self.name}: time_budget must be a positive number of seconds, "
                                  f"got {cfg['time_budget']}")
        if not 0 <= cfg["dropout"] < 1:
            raise ConfigError(f"{self.name}: dropout must be in [0, 1), got {cfg['dropout']}")
        levels = cfg["train_levels"]
        cfg["train_levels"] = tuple(sorted({int(l) for l in ([levels] if np.isscalar(levels) else levels)}))
        if any(not 0 < l < 100 for l in cfg["train_levels"]):
            raise ConfigError(f"{self.name}: train_levels must lie between 0 and 100, got {levels}")
        if cfg["holiday_country"]:
            from forecasting.models.deep.features import country_code

            country_code(cfg["holiday_country"])
        return cfg

    def check_device(self) -> None:
        """Raise :class:`ConfigError` now if the ``device`` asked for does not exist on this machine."""
        from forecasting.models.deep.device import choose_device

        choose_device(self.settings.get("device", "auto"))

    def lookback(self, cfg: dict[str, Any], horizon: int) -> int:
        L = cfg["input_size"] or max(2 * horizon, 2 * self.season_length, 8)
        if int(L) < 1:
            raise ConfigError(f"{self.name}: input_size must be positive, got {L}")
        return int(L)

    @staticmethod
    def quantiles(levels: Sequence[int]) -> list[float]:
        qs = {0.5}
        for l in levels:
            qs |= {round(0.5 - l / 200, 6), round(0.5 + l / 200, 6)}
        return sorted(qs)

    # ----- GlobalModel protocol ----------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, freq: str) -> "DeepForecaster":
        from forecasting.models.deep.device import choose_device

        cfg = self.resolved(choose_device(self.settings.get("device", "auto")).type)
        self.net_, self.local_, self._pending, self.fitted_ = None, None, None, {}
        if cfg["local"]:
            from forecasting.models.deep.local import fit_local

            self.local_ = fit_local(self, df, freq)
            return self
        if cfg["horizon"] is None:
            self._pending = (df, freq)       # horizon unknown yet: train at the first predict(h)
            return self
        self._train(df, freq, int(cfg["horizon"]))
        return self

    def predict(self, h: int, futr_df: pd.DataFrame | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS, ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Forecasts of the trained series (only ``ids`` when given: how inference is spread over workers)."""
        h = int(h)
        if h < 1:
            raise ConfigError(f"horizon must be at least 1, got {h}")
        if self.local_ is not None:
            from forecasting.models.deep.local import predict_local

            models = self.local_ if ids is None else {u: self.local_[u] for u in ids if u in self.local_}
            return predict_local(models, h, futr_df, levels)
        if ids is None:
            ids = getattr(self, "only_ids_", None)     # a saved network given new history of some series
        self.train_for(h)
        from forecasting.models.deep.predict import forecast

        return forecast(self, h, futr_df, levels, ids)

    def train_for(self, h: int) -> None:
        """Train now if ``fit`` left the training for the first forecast (horizon not given)."""
        if self.local_ is not None:
            return
        if self.net_ is None or h > self.fitted_["horizon"]:
            if self._pending is None:
                if self.net_ is None:
                    raise ConfigError(f"{self.name} is not fitted; call fit first")
                raise ConfigError(f"{self.name} was trained for horizon {self.fitted_['horizon']} and cannot "
                                  f"forecast {h} periods; retrain it with horizon={h}")
            self._train(*self._pending, h)

    def series_ids(self) -> list[str]:
        if self.local_ is not None:
            return list(self.local_)
        only = getattr(self, "only_ids_", None)
        return list(only) if only is not None else list(self.state_["series_ids"])

    def for_workers(self) -> "DeepForecaster":
        """A copy to send to worker processes for inference: the network on the CPU, without the training
        data or the progress callback (which belong to this process)."""
        import copy

        import torch

        other = copy.copy(self)
        other.__dict__ = dict(self.__dict__)
        other._pending = None
        other.settings = {k: v for k, v in self.settings.items() if k != "progress"}
        if getattr(self, "config_", None) is not None:
            other.config_ = {**self.config_, "progress": None}
        if self.net_ is not None:
            other.net_ = copy.deepcopy(self.net_).to("cpu")
            other.device_ = torch.device("cpu")
        return other

    def fitted_settings(self) -> dict[str, Any]:
        if self.local_ is not None:
            from forecasting.models.deep.local import local_settings

            return local_settings(self.local_)
        return dict(self.fitted_)

    @classmethod
    def test_params(cls) -> dict[str, Any]:
        return dict(max_epochs=2, batch_size=64, hidden_size=8, context_size=4, decoder_hidden=8, emb_dim=2,
                    device="cpu", num_threads=1, random_seed=0)

    # ----- training ----------------------------------------------------------------------------------
    def build_net(self, cfg: dict[str, Any], lookback: int, horizon: int, n_feats: int, n_series: int):
        from forecasting.models.deep.network import ForecastNet

        encoder, width = self.build_encoder(ForecastNet.input_dim(n_feats, cfg["emb_dim"]), cfg)
        return ForecastNet(encoder, width, lookback=lookback, horizon=horizon, n_feats=n_feats,
                           n_series=n_series, n_quantiles=len(self.quantiles(cfg["train_levels"])),
                           emb_dim=cfg["emb_dim"], context_size=cfg["context_size"],
                           decoder_hidden=cfg["decoder_hidden"], dropout=cfg["dropout"],
                           window_norm=bool(cfg["window_norm"]), linear_skip=bool(cfg["linear_skip"]),
                           encoder_bf16=bool(cfg.get("encoder_bf16", False)))  # saved before it: fp32

    def _train(self, df: pd.DataFrame, freq: str, horizon: int) -> None:
        import torch

        from forecasting.models.deep import device as dv
        from forecasting.models.deep.loop import DeviceData, TrainConfig, train
        from forecasting.models.deep.windows import window_starts

        dev = dv.choose_device(self.settings.get("device", "auto"))
        cfg = self.resolved(dev.type)
        L = self.lookback(cfg, horizon)
        cfg = self.settle(cfg, L)
        # settled like patch_len and saved with the model, so a loaded model forecasts as it was trained
        cfg["encoder_bf16"] = bool(self.cpu_bf16_encoder and cfg["amp"] and dev.type == "cpu"
                                   and dv.cpu_has_bf16())
        prep = prepare(df, freq, lookback=L, horizon=horizon, covariates=cfg["covariates"],
                       scaler=cfg["scaler"], holiday_country=cfg["holiday_country"], val_size=cfg["val_size"],
                       calendar=bool(cfg["calendar"]))
        panel = prep.panel
        train_starts, val_starts = window_starts(panel, horizon, prep.val_sizes, prep.min_obs)
        seed = int(cfg["random_seed"] or 0)
        with dv.torch_threads(cfg["num_threads"]) as threads:
            dv.enable_fast_math(dev)
            dv.seed_everything(seed)
            net = self.build_net(cfg, L, horizon, panel.n_feats, panel.n_series).to(dev)
            data = DeviceData.from_panel(panel, L, horizon, dev)
            tcfg = TrainConfig(max_epochs=cfg["max_epochs"], batch_size=cfg["batch_size"],
                               learning_rate=cfg["learning_rate"], weight_decay=cfg["weight_decay"],
                               patience=cfg["patience"], grad_clip=cfg["grad_clip"],
                               steps_per_epoch=cfg["steps_per_epoch"], max_steps=cfg["max_steps"], seed=seed,
                               amp=bool(cfg["amp"]), min_steps_per_epoch=int(cfg["min_steps_per_epoch"]),
                               cuda_graph=bool(cfg["cuda_graph"]), time_budget=cfg["time_budget"])
            qs = self.quantiles(cfg["train_levels"])
            rep = train(net, data, train_starts, val_starts, qs, tcfg, progress=cfg["progress"], name=self.name)
            from forecasting.models.deep.loop import evaluate

            val_loss, val_pred = evaluate(net, data, torch.as_tensor(val_starts, device=dev),
                                          torch.tensor(qs, device=dev), tcfg.batch_size, tcfg.amp)
            idx = val_starts[:, None] + np.arange(L, L + horizon)[None, :]
            cal = calibrate.ValidationSet(
                pred=val_pred.cpu().numpy() if val_pred is not None else np.zeros((0, horizon, len(qs))),
                target=panel.y[idx], mask=panel.mask[idx])
            # inputs of the forecast: the last L positions of every series
            from forecasting.models.deep.windows import last_windows

            tail = last_windows(panel)[:, None] + np.arange(L)[None, :]
        self.net_ = net.eval()
        self.device_ = dev
        self.config_ = {k: v for k, v in cfg.items() if k != "progress"}
        self.state_ = dict(freq=freq, horizon=horizon, lookback=L, quantiles=qs, series_ids=panel.series_ids,
                           scale=prep.scale, cov_names=prep.cov_names, cov_stats=prep.cov_stats,
                           cal_names=prep.cal_names, last_ds=prep.last_ds, tail_y=panel.y[tail],
                           tail_m=panel.mask[tail], tail_f=panel.feats[tail], n_feats=panel.n_feats,
                           validation=cal)
        self.fitted_ = dict(
            device=dv.describe(dev), threads=threads, horizon=horizon, input_size=L, epochs_run=rep.epochs_run,
            best_epoch=rep.best_epoch, best_val_loss=rep.best_val_loss, stopped=rep.stopped,
            train_windows=int(len(train_starts)), val_windows=int(len(val_starts)),
            windows_per_s=rep.windows_seen / rep.train_seconds if rep.train_seconds else None,
            seconds_per_epoch=rep.train_seconds / rep.epochs_run if rep.epochs_run else None,
            train_seconds=rep.train_seconds, steps=rep.steps, batch_size=rep.batch_size,
            learning_rate=rep.learning_rate, covariates=prep.cov_names, calendar_features=prep.cal_names,
            parameters=int(sum(p.numel() for p in net.parameters())), seed=seed, history=rep.history,
            notes=rep.notes, preset=cfg["preset"], cuda_graph=rep.cuda_graph, precision=_precision(dev, cfg),
            **({"patch_len": cfg["patch_len"]} if "patch_len" in cfg else {}))
        self._pending = (df, freq) if self.settings.get("horizon") is None else None

    # ----- persistence -------------------------------------------------------------------------------
    def save(self, path) -> None:
        from forecasting.models.deep.persist import save

        save(self, path)

    @classmethod
    def load(cls, path) -> "DeepForecaster":
        from forecasting.models.deep.persist import load

        return load(cls, path)


def _precision(dev, cfg: dict[str, Any]) -> str:
    """What the training ran in, for the results: ``fp32``, ``bf16 autocast`` or ``bf16 encoder, fp32 head``."""
    from forecasting.models.deep.device import cuda_bf16

    if cuda_bf16(dev, cfg["amp"]):
        return "bf16 autocast"
    return "bf16 encoder, fp32 head" if cfg.get("encoder_bf16") else "fp32"
