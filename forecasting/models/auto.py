"""``auto``: for each series, the candidate model with the best backtest score on that series' own history.

The history is split into rolling-origin windows (horizon = the forecast horizon, ``windows`` of them,
fewer when the series is short); each candidate forecasts every window through the shared safety net,
and the one with the lowest mean MASE (scaled by the in-sample seasonal naive; ``metric`` can be any of
``mae``, ``rmse``, ``smape``, ``mase``, ``rmsse``) is refit on the whole history. A candidate that had to
fall back in a window scores as the fallback it used. Too short for any window: seasonal naive.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from forecasting.models.base import DEFAULT_LEVELS, ForecastDict, LocalModel, Setting

DEFAULT_CANDIDATES = ("naive", "seasonal_naive", "drift", "ets", "theta", "sarima")


def members_problem(names: Sequence[str], refused: Sequence[str], role: str) -> str | None:
    """Why ``names`` cannot be the members of a combination of models (unknown, global, or ``refused``)."""
    from forecasting.errors import ConfigError
    from forecasting.models.registry import get_spec

    if not names:
        return "at least one model"
    for m in names:
        try:
            spec = get_spec(m)
        except ConfigError as exc:
            return str(exc)
        if m in refused or spec.capabilities.global_model:
            return f"'{m}' cannot be {role}"
    return None


class AutoSelect(LocalModel):
    name = "auto"
    models = Setting(DEFAULT_CANDIDATES, "candidate models (per-series models only)", kind="names",
                     check=lambda names: members_problem(names, ("auto",), "an auto candidate"))
    windows = Setting(2, "backtest windows per series (fewer when the series is short)", low=1)
    metric = Setting("mase", "the score that picks the candidate", choices=("mae", "rmse", "smape", "mase", "rmsse"))

    def __init__(self, season_length: int = 1, **settings: Any) -> None:
        super().__init__(season_length, **settings)
        self.models = list(self.models)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "AutoSelect":
        self.y_, self.X_ = np.asarray(y, dtype=float), X
        return self

    def select(self, h: int) -> tuple[str, dict[str, float]]:
        from forecasting import metrics as M
        from forecasting.models.fitting import cutoff_ends, fit_predict

        y, X = self.y_, self.X_
        ends = [e for e in cutoff_ends(y.size, h, self.windows, h) if e >= max(4, 2 * h)]
        if not ends:
            return "seasonal_naive", {}
        scores: dict[str, float] = {}
        for name in self.models:
            errs, vals = [], []
            for end in ends:
                res = fit_predict(name, y[:end], h, levels=(80,), season_length=self.season_length,
                                  X=None if X is None else X[:end],
                                  X_future=None if X is None else X[end:end + h], non_negative=False)
                sc, sc2 = M.naive_scale(y[:end], self.season_length)
                actual, fc = y[end:end + h], res.forecast["mean"]
                fn = {"mae": lambda: M.mae(actual, fc), "rmse": lambda: M.rmse(actual, fc),
                      "smape": lambda: M.smape(actual, fc), "mase": lambda: M.mase(actual, fc, sc),
                      "rmsse": lambda: M.rmsse(actual, fc, sc2)}[self.metric]
                vals.append(fn())
            v = float(np.nanmean(vals)) if np.isfinite(vals).any() else np.inf
            scores[name] = v
        best = min(scores, key=lambda k: (scores[k], self.models.index(k)))
        return best, scores

    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        from forecasting.models.registry import get_model_class

        self.chosen_, self.scores_ = self.select(h)
        cls = get_model_class(self.chosen_)
        use_x = self.X_ is not None and cls.capabilities.covariates
        model = cls(season_length=self.season_length).fit(self.y_, self.X_ if use_x else None)
        self.chosen_settings_ = model.fitted_settings()
        return model.predict(h, X_future if use_x else None, levels)

    def fitted_settings(self) -> dict[str, Any]:
        if not hasattr(self, "chosen_"):
            return {}
        out: dict[str, Any] = {"chosen": self.chosen_}
        out.update({f"{self.chosen_}.{k}": v for k, v in self.chosen_settings_.items()})
        out[f"{self.metric}_by_model"] = ", ".join(f"{k}={v:.3f}" for k, v in self.scores_.items())
        return out

    @classmethod
    def test_params(cls) -> dict[str, Any]:
        return {"models": ["naive", "seasonal_naive", "drift"]}
