"""Combination of several models' forecasts (mean or median), a robust default for sales data.

Intervals are combined by averaging (or taking the median of) the members' bounds level by level
("Vincentization", i.e. quantile averaging): each member's bound is an estimate of the same predictive
quantile, so the combined bound is an estimate of it too. This neither sums nor narrows variances, so
the combined interval is no narrower than its members on average — honest rather than optimistic.

Each member runs through the same safety net as any model (a failing member falls back to seasonal
naive, recorded in ``fitted_settings``). ``pretrained``, the zero-shot network, is accepted as a member
(its per-series variant).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from forecasting.errors import ConfigError
from forecasting.models.auto import members_problem
from forecasting.models.base import DEFAULT_LEVELS, ForecastDict, PerSeriesModel, Setting

DEFAULT_MEMBERS = ("ets", "theta", "sarima")


class Ensemble(PerSeriesModel):
    name = "ensemble"
    models = Setting(DEFAULT_MEMBERS, "member models (per-series models only)", kind="names",
                     check=lambda names: members_problem(names, ("ensemble", "auto"), "an ensemble member",
                                                         per_series_variants=True))
    combine = Setting("mean", "how members' forecasts and bounds are combined", choices=("mean", "median"))
    member_params = Setting(None, "settings per member, e.g. {\"sarima\": {\"max_p\": 2}}", kind="dict")

    def __init__(self, season_length: int = 1, **settings: Any) -> None:
        super().__init__(season_length, **settings)
        self.models = list(self.models)
        self.member_params = self.member_params or {}
        from forecasting.models.registry import check_settings

        for m, params in self.member_params.items():
            if m not in self.models:
                raise ConfigError(f"ensemble: member_params names '{m}', which is not a member")
            check_settings(m, params)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "Ensemble":
        self.y_, self.X_ = np.asarray(y, dtype=float), X
        return self

    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        outs = self.member_forecasts(h, X_future, levels)
        agg = np.mean if self.combine == "mean" else np.median
        return {k: agg(np.vstack([o[k] for o in outs]), axis=0) for k in outs[0]}

    def member_forecasts(self, h: int, X_future: np.ndarray | None = None,
                         levels: Sequence[int] = DEFAULT_LEVELS) -> list[ForecastDict]:
        """Each member's forecast (through the safety net), in the order of ``models``."""
        from forecasting.models.fitting import fit_predict

        outs, self.members_ = [], {}
        for m in self.models:
            res = fit_predict(m, self.y_, h, levels=levels, season_length=self.season_length,
                              params=self.member_params.get(m, {}), X=self.X_, X_future=X_future,
                              non_negative=False)
            outs.append(res.forecast)
            self.members_[m] = res.model_used if not res.fallback else f"{res.model_used} (fallback: {res.fallback})"
        return outs

    def fitted_settings(self) -> dict[str, Any]:
        members = getattr(self, "members_", {m: m for m in self.models})
        return {"combine": self.combine, "members": ", ".join(members.values())}

    @classmethod
    def test_params(cls) -> dict[str, Any]:
        return {"models": ["naive", "drift", "theta"]}
