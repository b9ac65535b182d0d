"""Exponential smoothing (ETS) on statsmodels' ``ETSModel``, the form chosen by AICc.

Forms: error A/M × trend N/A/Ad (damped) × season N/A/M, as R's ``forecast::ets`` with its defaults
(no multiplicative trend; additive error with multiplicative season excluded as unstable).
The search is pruned before fitting anything that cannot apply or cannot win:

- multiplicative error or season only when every value is positive;
- seasonal forms only with a season length > 1, at least two full seasons, and seasonality found by the
  90% autocorrelation test at lag ``m`` used by the M4 benchmarks and the Theta method, or an STL
  seasonal strength of at least 0.64 (``season_test=False`` always tries them);
- forms with more parameters than the data supports (``n <= params + 4``) are skipped;
- every form is fit with the heuristic initial states of Hyndman et al. (2008, §2.6.1): only the 2-4
  smoothing parameters are optimised, several times faster than also estimating the initial states, and
  more accurate out of sample on the M3 benchmark sample (estimated initial states overfit short series:
  mean MASE 1.06 against 0.94, ``ets_estimated_init`` in ``benchmarks/results/stats_models.md``); forms too short for the
  heuristic are fit with estimated initial states. ``refit_top=k`` refits the best ``k`` forms with
  estimated initial states; ``search_init="estimated"`` estimates them for every form.

Settings: ``model="AAdA"``-style override (error, trend, season letters; ``Ad`` = damped), ``ic``
(``aicc`` default, ``aic``, ``bic``), ``damped`` (None = try both), ``season_test``, ``maxiter``.
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from forecasting.models.base import DEFAULT_LEVELS, ForecastDict, LocalModel


def seasonal_acf_test(y: np.ndarray, m: int, z: float = 1.645) -> bool:
    """Is the lag-``m`` autocorrelation significant at 90%? (Bartlett's variance with lags below ``m``)."""
    x = np.asarray(y, dtype=float) - np.mean(y)
    den = float(np.sum(x * x))
    if m < 2 or x.size < 3 * m or den == 0:
        return x.size >= 2 * m and m >= 2 and den > 0 and x.size < 3 * m
    acf = np.array([np.sum(x[k:] * x[:-k]) / den for k in range(1, m + 1)])
    limit = z * np.sqrt((1 + 2 * np.sum(acf[:-1] ** 2)) / x.size)
    return bool(abs(acf[-1]) > limit)


def looks_seasonal(y: np.ndarray, m: int) -> bool:
    """The ACF test, or a strong STL seasonal strength (>= 0.64) on at least four seasons: either keeps
    the seasonal forms (the ACF test alone misses strong pure seasonality on short series)."""
    if seasonal_acf_test(y, m):
        return True
    from forecasting.models.arima_search import seasonal_strength

    return np.asarray(y).size >= 4 * m and seasonal_strength(y, m) >= 0.64


def _parse_form(text: str) -> tuple[str, str | None, bool, str | None]:
    t = text.strip().upper()
    damped = "D" in t[1:3]
    t = t[0] + t[1:].replace("D", "", 1) if damped else t
    if len(t) != 3 or t[0] not in "AM" or t[1] not in "NAM" or t[2] not in "NAM":
        raise ValueError(f"ETS model '{text}' is not of the form ETS (e.g. ANN, AAdN, MAM)")
    f = {"A": "add", "M": "mul", "N": None}
    return f[t[0]], f[t[1]], damped, f[t[2]]


def _form_name(error: str, trend: str | None, damped: bool, seasonal: str | None) -> str:
    L = {"add": "A", "mul": "M", None: "N"}
    return L[error] + L[trend] + ("d" if damped else "") + L[seasonal]


class AutoETS(LocalModel):
    name = "ets"

    def __init__(self, season_length: int = 1, model: str | None = None, ic: str = "aicc",
                 damped: bool | None = None, season_test: bool = True, maxiter: int = 200,
                 search_init: str = "heuristic", refit_top: int = 0, **settings: Any) -> None:
        super().__init__(season_length, **settings)
        self.model, self.ic, self.damped = model, ic, damped
        self.season_test, self.maxiter = bool(season_test), int(maxiter)
        self.search_init, self.refit_top = search_init, max(0, int(refit_top))

    def candidate_forms(self, y: np.ndarray) -> list[tuple[str, str | None, bool, str | None]]:
        if self.model:
            return [_parse_form(self.model)]
        m, n = self.season_length, y.size
        positive = bool((y > 0).all())
        errors = ["add", "mul"] if positive else ["add"]
        seasons: list[str | None] = [None]
        if m > 1 and n >= 2 * m + 2 and (self.season_test is False or looks_seasonal(y, m)):
            seasons += ["add", "mul"] if positive else ["add"]
        trends = [(None, False)]
        if self.damped is not True:
            trends.append(("add", False))
        if self.damped is not False:
            trends.append(("add", True))
        forms = []
        for s in seasons:                      # simple forms first: their estimates start the richer ones
            for t, dmp in trends:
                for e in errors:
                    if e == "add" and s == "mul":
                        continue
                    k = 2 + (t is not None) * 2 + dmp + (m if s else 0)
                    if n > k + 4:
                        forms.append((e, t, dmp, s))
        if not forms:
            forms = [("add", None, False, None)]
        return forms

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "AutoETS":
        y = np.asarray(y, dtype=float).ravel()
        if y.size < 3 or not np.isfinite(y).all():
            raise ValueError(f"ETS needs at least 3 values without gaps (got {y.size})")
        if self.ic not in ("aicc", "aic", "bic"):
            raise ValueError(f"unknown information criterion '{self.ic}'")
        import pandas as pd

        endog = pd.Series(y)   # statsmodels' simulated intervals need an index
        forms = self.candidate_forms(y)
        quick = self.search_init == "heuristic"
        ranked, tried = [], 0
        for form in forms:
            res = self._fit_form(endog, form, "heuristic" if quick else "estimated")
            if res is None and quick:
                res = self._fit_form(endog, form, "estimated")
            tried += res is not None
            if res is not None and np.isfinite(float(getattr(res, self.ic))):
                ranked.append((float(getattr(res, self.ic)), form, res))
        if not ranked:
            raise ValueError("no ETS form could be fit to this series")
        ranked.sort(key=lambda r: r[0])
        if quick and self.refit_top > 0:
            # the forms were ranked with heuristic initial states; refit the best ones with estimated
            # initial states, started from their smoothing parameters
            final = []
            for _, form, res in ranked[:self.refit_top]:
                known = {n: float(v) for n, v in zip(res.model.param_names, res.params)
                         if n.startswith(("smoothing", "damping"))}
                ref = self._fit_form(endog, form, "estimated", known) or res
                final.append((float(getattr(ref, self.ic)), form, ref))
            ranked = sorted(final, key=lambda r: r[0]) if final else ranked
        best_v, form, best = ranked[0]
        self.form_ = _form_name(*form)
        self.res_, self.ic_value_, self.n_forms_, self.n_ = best, best_v, tried, y.size
        return self

    def _fit_form(self, endog, form, init: str, known: dict[str, float] | None = None):
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        e, t, dmp, s = form
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    mod = ETSModel(endog, error=e, trend=t, damped_trend=dmp, seasonal=s,
                                   seasonal_periods=self.season_length if s else None,
                                   initialization_method=init)
                    start = None
                    if known:
                        start = np.array([known.get(n, v) for n, v in zip(mod.param_names, mod._start_params)])
                    return mod.fit(start_params=start, disp=False, maxiter=self.maxiter)
        except Exception:  # noqa: BLE001 - a form that cannot be fit loses
            return None

    def predict(self, h: int, X_future: np.ndarray | None = None,
                levels: Sequence[int] = DEFAULT_LEVELS) -> ForecastDict:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                pred = self.res_.get_prediction(start=self.n_, end=self.n_ + h - 1, simulate_repetitions=500,
                                                random_state=0)
                out: ForecastDict = {"mean": np.asarray(pred.predicted_mean, dtype=float)}
                for l in levels:
                    pi = np.asarray(pred.pred_int(alpha=1 - l / 100.0), dtype=float)
                    out[f"lo-{int(l)}"], out[f"hi-{int(l)}"] = pi[:, 0], pi[:, 1]
        return out

    def fitted_settings(self) -> dict[str, Any]:
        return {"form": self.form_, self.ic: round(self.ic_value_, 2), "forms_fit": self.n_forms_}

    def in_sample_residuals(self) -> np.ndarray:
        return np.asarray(self.res_.resid, dtype=float)
