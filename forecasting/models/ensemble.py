"""Combination of several models' forecasts (mean or median), a robust default for sales data.

Intervals are combined by averaging (or taking the median of) the members' bounds level by level
("Vincentization", i.e. quantile averaging): each member's bound is an estimate of the same predictive
quantile, so the combined bound is an estimate of it too. This neither sums nor narrows variances, so
the combined interval is no narrower than its members on average — honest rather than optimistic.

Each member runs through the same safety net as any model (a failing member falls back to seasonal
naive, recorded in ``fitted_settings``). Settings: ``models`` (list or comma-separated text, default
``ets,theta,sarima``), ``combine`` (``"mean"`` or ``"median"``), and per-member settings as
``member_params={"sarima": {...}}``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from forecasting.models.base import DEFAULT_LEVELS, ForecastDict, LocalModel

DEFAULT_MEMBERS = ("ets", "theta", "sarima")


class Ensemble(LocalModel):
    name = "ensemble"

    def __init__(self, season_length: int = 1, models: Sequence[str] | str = DEFAULT_MEMBERS,
                 combine: str = "mean", member_params: dict[str, dict[str, Any]] | None = None,
                 **settings: Any) -> None:
        super().__init__(season_length, **settings)
        if isinstance(models, str):
            models = [m.strip() for m in models.replace("+", ",").split(",") if m.strip()]
        self.models = list(models)
        self.combine = combine
        self.member_params = member_params or {}

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "Ensemble":
        from forecasting.models.registry import get_spec

        if self.combine not in ("mean", "median"):
            raise ValueError(f"combine must be 'mean' or 'median' (got '{self.combine}')")
        if not self.models:
            raise ValueError("the ensemble needs at least one member model")
        for m in self.models:
            spec = get_spec(m)
            if m in ("ensemble", "auto") or spec.capabilities.global_model:
                raise ValueError(f"'{m}' cannot be an ensemble member")
        self.y_, self.X_ = np.asarray(y, dtype=float), X
        return self

    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        from forecasting.models.fitting import fit_predict

        outs, self.members_ = [], {}
        for m in self.models:
            res = fit_predict(m, self.y_, h, levels=levels, season_length=self.season_length,
                              params=self.member_params.get(m, {}), X=self.X_, X_future=X_future,
                              non_negative=False)
            outs.append(res.forecast)
            self.members_[m] = res.model_used if not res.fallback else f"{res.model_used} (fallback: {res.fallback})"
        agg = np.mean if self.combine == "mean" else np.median
        return {k: agg(np.vstack([o[k] for o in outs]), axis=0) for k in outs[0]}

    def fitted_settings(self) -> dict[str, Any]:
        members = getattr(self, "members_", {m: m for m in self.models})
        return {"combine": self.combine, "members": ", ".join(members.values())}

    @classmethod
    def test_params(cls) -> dict[str, Any]:
        return {"models": ["naive", "drift", "theta"]}
