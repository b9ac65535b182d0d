"""``run_plan``: from a dataset to stock targets, classes, exceptions and the policy backtest.

One forecast after the last date (horizon ``max(horizon, lead time + review period)``) and one rolling-origin
backtest (``max(backtest_windows, calibration_windows)`` windows, each as long as the lead time plus the
review period, non-overlapping) with the same model. The backtest gives the probability vectors that shape
the lead-time demand (:mod:`forecasting.planning.leadtime`), the level at which its quantiles are read
(calibrated so that past lead-time demands stayed under their reorder points in a share α of cycles,
:mod:`forecasting.planning.backtest`), the forecasts for the tracking signal, and the cutoffs of the
**policy backtest**: at each of the last ``backtest_windows`` cutoffs the targets are recomputed from that
cutoff's forecast, with the probability vectors and the calibration of the *other* windows only (the window
being judged never shapes its own targets), and compared with what was then sold: achieved cycle service
level (share of cycles whose lead-time demand stayed at or below the reorder point), fill rate (units served
from stock over units demanded in the review periods), stock-outs, and the average stock the policy implies
(between ``S − D_L`` after an order arrives and ``S − D_{L+R}`` before the next).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, Y, Dataset
from forecasting.errors import ConfigError, DataError
from forecasting.planning import classes as C
from forecasting.planning.exceptions import ExceptionRules, series_exceptions, value_at_risk
from forecasting.planning.backtest import (backtest_groups, calibration, marginals, policy_backtest, policy_summary,
                                           probability_pool, scaled_errors, window_draws)
from forecasting.planning.leadtime import QUANTILE_LEVELS, lead_time_demand, max_lead_time
from forecasting.planning.policy import TAIL_LEVEL, order_quantity, targets
from forecasting.progress import ProgressCallback, report

PRICE_NAMES = ("price", "unit_price", "unitprice", "unit price")


@dataclass
class PlanConfig:
    horizon: int
    lead_time: float
    review_period: int = 1
    service_level: float = 0.95
    lead_time_sd: float = 0.0
    model: str = "auto"                          # the forecast default (forecasting.models.defaults)
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    season_length: int | None = None
    on_hand: float | pd.Series | dict | None = None     # a number for every series, or per unique_id
    on_order: float | pd.Series | dict | None = None
    backtest_windows: int = 0                    # policy backtest cutoffs (0: none)
    calibration_windows: int = 3                 # backtest windows shaping the lead-time demand
    n_paths: int = 2000
    calibrate: bool = True                       # read targets at the level calibrated on the backtest
    price_col: str | None = None                 # None: a covariate named price / unit_price, if any
    abc_thresholds: Sequence[float] = C.ABC_THRESHOLDS
    xyz_thresholds: Sequence[float] = C.XYZ_THRESHOLDS
    rules: ExceptionRules = field(default_factory=ExceptionRules)
    previous_forecast: pd.DataFrame | None = None   # unique_id, ds, forecast (else the last backtest cutoff's)
    seed: int = 0
    non_negative: bool = True
    engine: str = "local"
    address: str | None = None
    n_workers: int | None = None

    @property
    def periods(self) -> int:
        """Periods the lead-time demand needs: the longest lead time drawn plus the review period."""
        return max_lead_time(self.lead_time, self.lead_time_sd) + int(self.review_period)

    def validate(self) -> None:
        from forecasting.models.registry import get_spec

        a = float(self.service_level)
        if not (0 < a < 1):
            raise ConfigError(f"service level must be between 0 and 1, exclusive (got {self.service_level:g})")
        if not float(self.lead_time) >= 1:
            raise ConfigError(f"lead time must be at least 1 period (got {self.lead_time:g})")
        if not float(self.lead_time_sd) >= 0:
            raise ConfigError(f"lead time standard deviation must be 0 or more (got {self.lead_time_sd:g})")
        if float(self.lead_time_sd) == 0 and float(self.lead_time) != int(self.lead_time):
            raise ConfigError(f"a fixed lead time is a whole number of periods (got {self.lead_time:g})")
        if int(self.review_period) < 1 or float(self.review_period) != int(self.review_period):
            raise ConfigError(f"review period must be a whole number of periods, at least 1 (got {self.review_period})")
        if int(self.horizon) < 1:
            raise ConfigError(f"horizon must be at least 1 (got {self.horizon})")
        if int(self.backtest_windows) < 0 or int(self.calibration_windows) < 0:
            raise ConfigError("backtest windows must be 0 or more")
        if int(self.n_paths) < 100:
            raise ConfigError(f"sample paths must be at least 100 (got {self.n_paths})")
        for what, v in (("on hand", self.on_hand), ("on order", self.on_order)):
            if isinstance(v, (int, float)) and not np.isfinite(v):
                raise ConfigError(f"{what} stock must be a number (got {v})")
        C.check_thresholds("ABC", self.abc_thresholds, 1.0)
        C.check_thresholds("XYZ", self.xyz_thresholds, None)
        get_spec(self.model)

    def forecast_config(self):
        from forecasting.pipeline import ForecastConfig

        return ForecastConfig(horizon=max(int(self.horizon), self.periods), model=self.model,
                              levels=QUANTILE_LEVELS, model_params=self.model_params,
                              season_length=self.season_length, seed=self.seed, non_negative=self.non_negative,
                              engine=self.engine, address=self.address, n_workers=self.n_workers,
                              intervals="model")   # planning calibrates its own lead-time quantiles

    def backtest_config(self):
        from forecasting.pipeline import BacktestConfig

        return BacktestConfig(horizon=self.periods, models=[self.model],
                              windows=max(int(self.backtest_windows), int(self.calibration_windows)),
                              season_length=self.season_length, levels=QUANTILE_LEVELS,
                              model_params={k: v for k, v in self.model_params.items() if k == self.model},
                              seed=self.seed, non_negative=self.non_negative, engine=self.engine,
                              address=self.address, n_workers=self.n_workers)


@dataclass
class PlanResult:
    targets: pd.DataFrame        # one row per series (see TARGET_COLUMNS)
    exceptions: pd.DataFrame     # series with at least one reason, ranked by value at risk
    policy: pd.DataFrame         # policy backtest: one row per series × cutoff
    summary: pd.DataFrame        # policy backtest by class: target vs achieved
    forecasts: pd.DataFrame      # the forecast after the last date (unique_id, ds, model, forecast, bounds)
    backtest: pd.DataFrame       # the backtest's forecasts
    info: dict[str, Any]


TARGET_COLUMNS = ["model", "model_used", "lead_time", "service_level", "lead_time_demand", "safety_stock",
                  "reorder_point", "order_up_to", "fill_rate", "abc", "xyz", "demand_class"]


def price_column(dataset: Dataset, name: str | None) -> str | None:
    cols = [c for c in dataset.df.columns if c not in (ID, DS, Y)]
    if name:
        if name not in cols:
            raise DataError(f"price column '{name}' is not among the data's numeric columns ({', '.join(cols) or 'none'})")
        return name
    for c in cols:
        if c.strip().lower() in PRICE_NAMES:
            return c
    return None


def stock_column(dataset: Dataset, col: str) -> tuple[pd.Series, Dataset]:
    """The last known value of a stock column per series, and the dataset without it (stock is no covariate)."""
    if col not in dataset.df.columns or col in (ID, DS, Y):
        cols = [c for c in dataset.df.columns if c not in (ID, DS, Y)]
        raise DataError(f"stock column '{col}' is not among the data's numeric columns ({', '.join(cols) or 'none'})")
    last = dataset.df.dropna(subset=[col]).groupby(ID)[col].last()
    df = dataset.df.drop(columns=[col])
    ds = dataset.with_df(df)
    ds.covariates = [c for c in dataset.covariates if c != col]
    return last, ds


def _keyed(frame: pd.DataFrame, dataset: Dataset, what: str, one_series: bool) -> pd.DataFrame:
    """``frame`` with ``unique_id`` built from the data's id column(s) (or ``series``/``unique_id``);
    ``one_series``: without any id column, every row belongs to the data's first series."""
    keys = list(dataset.id_cols) if dataset.id_cols else []
    f = frame.copy()
    if ID in f.columns:
        f[ID] = f[ID].astype(str)
    elif keys and all(k in f.columns for k in keys):
        from forecasting.data.contract import ID_SEPARATOR

        f[ID] = f[keys[0]].astype(str)
        for k in keys[1:]:
            f[ID] = f[ID] + ID_SEPARATOR + f[k].astype(str)
    elif "series" in f.columns:
        f[ID] = f["series"].astype(str)
    elif not keys and one_series:
        f[ID] = dataset.series_ids[0]
    else:
        raise DataError(f"the {what} needs the id column(s) {keys or ['series']}")
    return f


def stock_table(frame: pd.DataFrame, dataset: Dataset, value_col: str | None = None) -> pd.Series:
    """Stock per series from a second table keyed by the data's id column(s) (or ``series``/``unique_id``)."""
    keys = list(dataset.id_cols) if dataset.id_cols else []
    f = _keyed(frame, dataset, "stock table", len(frame) == 1)
    vals = [c for c in f.columns if c not in set(keys) | {ID, "series"}]
    col = value_col or next((c for c in vals if c.strip().lower() in ("on_hand", "on hand", "stock", "onhand")),
                            vals[0] if len(vals) == 1 else None)
    if col is None or col not in f.columns:
        raise DataError(f"the stock table needs an on-hand column (one of {vals})")
    try:
        v = pd.to_numeric(f[col])
    except (TypeError, ValueError):
        raise DataError(f"stock column '{col}' is not numeric") from None
    return pd.Series(v.to_numpy(float), index=f[ID]).groupby(level=0).sum()


def previous_forecast_table(frame: pd.DataFrame, dataset: Dataset, model: str | None = None) -> pd.DataFrame:
    """An earlier forecast (the ``forecast`` command's output: id column(s) or ``series``, ``date``,
    ``forecast``, optionally ``model``) as ``unique_id, ds, forecast`` for the jump exception.

    With several models in the file, the rows of ``model`` are used (an error when it is not there). Ids that
    a spreadsheet export neutralised with a leading apostrophe are matched to the data's ids."""
    cols = {c.strip().lower(): c for c in frame.columns}
    date_col = next((cols[c] for c in ("date", "ds") if c in cols), None)
    if date_col is None or "forecast" not in cols:
        raise DataError("the previous forecast needs a date and a forecast column, as the forecast command writes "
                        f"(found {', '.join(map(str, frame.columns)) or 'no columns'})")
    f = _keyed(frame, dataset, "previous forecast", dataset.n_series == 1)
    if "model" in cols:
        models = sorted(set(f[cols["model"]].astype(str)))
        if len(models) > 1:
            if model not in models:
                raise DataError(f"the previous forecast holds models {', '.join(models)}, not '{model}': keep the "
                                "rows of one model")
            f = f[f[cols["model"]].astype(str) == model]
    known = set(dataset.series_ids)
    f[ID] = [u[1:] if u not in known and u.startswith("'") and u[1:] in known else u for u in f[ID]]
    f = f[f[ID].isin(known)]
    if f.empty:
        raise DataError("the previous forecast shares no series with the data (check its id column(s))")
    try:
        ds = pd.to_datetime(f[date_col])
    except (TypeError, ValueError):
        raise DataError(f"the previous forecast's column '{date_col}' does not hold dates") from None
    fc = pd.to_numeric(f[cols["forecast"]], errors="coerce")
    if fc.isna().all():
        raise DataError("the previous forecast's column 'forecast' holds no numbers")
    out = pd.DataFrame({ID: f[ID].to_numpy(), DS: ds.to_numpy(), "forecast": fc.to_numpy(float)})
    return out.dropna().groupby([ID, DS], as_index=False)["forecast"].mean()


def periods_per_year(freq: str) -> int:
    """12 for monthly data, 52 weekly, 4 quarterly, 365 daily (the ABC/XYZ basis and "last year")."""
    from forecasting.data.frequency import nominal_ns

    try:
        return max(1, int(round(365.25 * 86_400e9 / nominal_ns(freq))))
    except Exception:  # noqa: BLE001 - an unusual alias: one season instead
        return 1


def _per_series(value, uid: str) -> float:
    if value is None:
        return np.nan
    if isinstance(value, (pd.Series, dict)):
        v = value.get(uid, np.nan)
        return float(v) if v is not None else np.nan
    return float(value)


def run_plan(dataset: Dataset, cfg: PlanConfig, progress: ProgressCallback | None = None) -> PlanResult:
    from forecasting.pipeline import run_backtest
    from forecasting.pipeline import run_forecast

    cfg.validate()
    if dataset.df.empty:
        raise DataError("the dataset has no rows to plan from")
    alpha, L, R, P = float(cfg.service_level), float(cfg.lead_time), int(cfg.review_period), cfg.periods
    fres = run_forecast(dataset, cfg.forecast_config(), progress=progress)
    m = int(fres.info["config"]["season_length"])
    W = max(int(cfg.backtest_windows), int(cfg.calibration_windows))
    bt = pd.DataFrame(columns=[ID, "model", "cutoff", DS, "actual", "forecast"])
    if W:
        bt = run_backtest(dataset, cfg.backtest_config(), progress=progress).forecasts
    report(progress, "plan", 0, dataset.n_series, "lead-time demand")
    hist = {uid: g[Y].to_numpy(float) for uid, g in dataset.df.groupby(ID, sort=False)}
    nonneg = {uid: bool(cfg.non_negative and (y[np.isfinite(y)] >= 0).all()) for uid, y in hist.items()}
    bt_groups = backtest_groups(bt, P)
    pool, pool_w = probability_pool(bt_groups, P, nonneg, cfg.seed)
    draws = window_draws(bt_groups, pool, pool_w, nonneg, lead_time=L, review_period=R,
                         lead_time_sd=cfg.lead_time_sd, n_paths=cfg.n_paths, seed=cfg.seed)
    sc = scaled_errors([d.lead for d in draws], np.array([d.actual_lead for d in draws]))[1]
    sc_p = scaled_errors([d.protection for d in draws], np.array([d.actual_protection for d in draws]))[1]
    level = calibration(np.array([d.u for d in draws]), sc, alpha, cfg.calibrate)
    level_p = calibration(np.array([d.u_protection for d in draws]), sc_p, alpha, cfg.calibrate)
    # ---- targets per series
    price_col = price_column(dataset, cfg.price_col)
    settings = fres.settings.set_index(ID) if len(fres.settings) else pd.DataFrame()
    fc_by = {uid: g.sort_values(DS) for uid, g in fres.forecasts.groupby(ID, sort=False)}
    year = periods_per_year(dataset.freq)
    basis_n = max(year, int(cfg.horizon))
    rows, methods = [], set()
    for i, (uid, y) in enumerate(hist.items()):
        yy = y[np.isfinite(y)]
        basis = yy[-basis_n:]
        price = 1.0
        if price_col:
            pr = dataset.df.loc[dataset.df[ID] == uid, price_col].to_numpy(float)[-basis_n:]
            price = float(np.nanmean(pr)) if np.isfinite(pr).any() else 1.0
        row = {ID: uid, "model": cfg.model, "model_used": "", "lead_time": L, "service_level": alpha,
               "demand_class": C.demand_class(yy), "cv": C.coefficient_of_variation(basis),
               "value": float(basis.sum()) * price, "price": price}
        if uid in settings.index:
            srow = settings.loc[uid]
            srow = srow.iloc[0] if isinstance(srow, pd.DataFrame) else srow
            used = str(srow.get("model_used", "") or "")
            chosen = str(srow.get("settings", "") or "")
            if used == "auto" and "chosen=" in chosen:
                used = f"auto ({chosen.split('chosen=')[1].split(';')[0]})"
            row["model_used"], row["fallback"] = used, str(srow.get("fallback", "") or "")
        g = fc_by.get(uid)
        if g is not None and len(g) >= P:
            ltd = lead_time_demand(marginals(g, P, nonneg[uid]), L, R, lead_time_sd=cfg.lead_time_sd, pool=pool,
                                   n_paths=cfg.n_paths, rng=np.random.default_rng([cfg.seed, i]))
            methods.add(ltd.method)
            t = targets(ltd, level, level_p)
            row.update(lead_time_demand=t.lead_time_demand, safety_stock=t.safety_stock,
                       reorder_point=t.reorder_point, order_up_to=t.order_up_to, fill_rate=t.fill_rate,
                       review_period=R, method=ltd.method)
            if cfg.on_hand is not None:
                oh, oo = _per_series(cfg.on_hand, uid), _per_series(cfg.on_order, uid)
                row["on_hand"] = oh
                row["on_order"] = 0.0 if not np.isfinite(oo) else oo
                row["order_quantity"] = order_quantity(t.order_up_to, oh, row["on_order"]) if np.isfinite(oh) else np.nan
        rows.append(row)
        report(progress, "plan", i + 1, len(hist), str(uid))
    tg = pd.DataFrame(rows)
    for c in ("lead_time_demand", "safety_stock", "reorder_point", "order_up_to", "fill_rate"):
        if c not in tg.columns:
            tg[c] = np.nan
    if cfg.on_hand is not None and "order_quantity" not in tg.columns:
        tg["order_quantity"] = np.nan
    tg["abc"] = C.abc_classes(tg.set_index(ID)["value"], C.check_thresholds("ABC", cfg.abc_thresholds, 1.0)).to_numpy()
    xyz_t = C.check_thresholds("XYZ", cfg.xyz_thresholds, None)
    tg["xyz"] = [C.xyz_class(v, xyz_t) for v in tg["cv"]]
    # ---- policy backtest
    policy = policy_backtest(draws, service_level=alpha, lead_time=L, review_period=R,
                             windows=int(cfg.backtest_windows), calibrate=cfg.calibrate)
    if len(policy):
        per = policy.groupby(ID).agg(hits=("hit", "mean"), short=("shortfall", "sum"),
                                     demand=("review_demand", "sum"), stockouts=("stockout", "sum"),
                                     average_stock=("average_stock", "mean"))
        per["achieved_fill_rate"] = np.where(per["demand"] > 0, 1 - per["short"] / per["demand"].where(per["demand"] > 0, 1), 1.0)
        per = per.rename(columns={"hits": "achieved_service_level"})
        tg = tg.merge(per[["achieved_service_level", "achieved_fill_rate", "stockouts", "average_stock"]],
                      left_on=ID, right_index=True, how="left")
        policy = policy.merge(tg[[ID, "abc", "xyz", "demand_class"]], on=ID, how="left")
    elif cfg.backtest_windows:
        for c in ("achieved_service_level", "achieved_fill_rate", "stockouts", "average_stock"):
            tg[c] = np.nan
    summary = policy_summary(policy, alpha)
    exc = _exceptions(cfg, tg, hist, fc_by, bt_groups, year)
    cols = [ID] + TARGET_COLUMNS[:2] + ["lead_time", "review_period", "service_level", "lead_time_demand",
                                        "safety_stock", "reorder_point", "order_up_to"]
    if cfg.on_hand is not None:
        cols += ["on_hand", "on_order", "order_quantity"]
    cols += ["fill_rate", "abc", "xyz", "demand_class"]
    if cfg.backtest_windows:
        cols += ["achieved_service_level", "achieved_fill_rate", "stockouts", "average_stock"]
    cols += ["value", "price", "cv", "method"]
    for c in cols:
        if c not in tg.columns:
            tg[c] = np.nan if c not in ("method",) else ""
    method = "bootstrap" if methods == {"bootstrap"} else "copula" if methods == {"copula"} else "mixed"
    info = {"config": {"horizon": int(cfg.horizon), "lead_time": L, "lead_time_sd": float(cfg.lead_time_sd),
                       "review_period": R, "service_level": alpha, "model": cfg.model, "season_length": m,
                       "backtest_windows": int(cfg.backtest_windows), "calibration_windows": W,
                       "n_paths": int(cfg.n_paths), "price_col": price_col, "seed": cfg.seed},
            "method": method, "pool_size": int(pool.shape[0]), "level_used": level.level,
            "level_used_order_up_to": level_p.level, "tail_score": level.score,
            "tail_score_order_up_to": level_p.score,
            "calibration_size": len(draws), "forecast": fres.info,
            "notes": [f"lead-time demand from {pool.shape[0]} backtest probability vector(s): "
                      + ("bootstrap of whole vectors" if method == "bootstrap" else
                         "too few for the bootstrap, Gaussian copula between periods" if method == "copula" else
                         "bootstrap and copula"),
                      _reading_note(level, level_p, alpha, len(draws))]}
    return PlanResult(tg[cols].reset_index(drop=True), exc, policy, summary, fres.forecasts, bt, info)


def _reading_note(level, level_p, alpha: float, n: int) -> str:
    if level.score is not None:
        return (f"service level {alpha:g} is in the tail (at or above {TAIL_LEVEL:g}): reorder point = median + "
                f"{level.score:.2f} × spread (10–90 % range) of the lead-time demand, order-up-to = median + "
                f"{level_p.score if level_p.score is not None else float('nan'):.2f} × spread of demand over lead "
                f"time + review period; the multipliers are the {alpha:g}-quantiles of {n} backtest cycles' scaled "
                "errors")
    return (f"quantiles read at level {level.level:.4f} (reorder point) and {level_p.level:.4f} (order-up-to) for a "
            f"target of {alpha:g} "
            + (f"(calibrated on {n} backtest cycle(s))" if level.level != alpha or n >= 30
               else "(too few backtest cycles to calibrate)"))


def _exceptions(cfg: PlanConfig, tg: pd.DataFrame, hist: dict, fc_by: dict, bt_groups: dict, m: int) -> pd.DataFrame:
    prev_by = {}
    if cfg.previous_forecast is not None and len(cfg.previous_forecast):
        pf = cfg.previous_forecast.copy()
        pf[ID] = pf[ID].astype(str)
        pf[DS] = pd.to_datetime(pf[DS])
        prev_by = {uid: g for uid, g in pf.groupby(ID)}
    rows = []
    H = int(cfg.horizon)
    info = tg.set_index(ID)
    for uid, y in hist.items():
        g = fc_by.get(uid)
        f = g["forecast"].to_numpy(float)[:H] if g is not None else np.zeros(0)
        wins = bt_groups.get(uid, [])
        bt_a = np.concatenate([w[1]["actual"].to_numpy(float) for w in wins]) if wins else None
        bt_f = np.concatenate([w[1]["forecast"].to_numpy(float) for w in wins]) if wins else None
        if uid in prev_by and g is not None:
            pv = prev_by[uid].set_index(DS)["forecast"]
            common = [d for d in g[DS] if d in pv.index]
            prev = pv.loc[common].to_numpy(float) if common else None
            cur = g.set_index(DS).loc[common, "forecast"].to_numpy(float) if common else f
        else:
            prev = wins[-1][1]["forecast"].to_numpy(float) if wins else None
            cur = f
        fallback = str(info.loc[uid].get("fallback", "") or "") if "fallback" in info.columns else ""
        yy = y[np.isfinite(y)]
        if g is None:
            reasons, meas = ["no forecast: the series has no values"], {}
        else:
            reasons, meas = series_exceptions(yy, cur, m, previous=prev, bt_actual=bt_a, bt_forecast=bt_f,
                                              fallback=fallback if fallback != "nan" else "", rules=cfg.rules)
            if cur is not f:       # the other rules read the whole horizon
                r2, meas2 = series_exceptions(yy, f, m, bt_actual=bt_a, bt_forecast=bt_f,
                                              fallback=fallback if fallback != "nan" else "", rules=cfg.rules)
                reasons = [r for r in reasons if r.startswith("jump")] + r2
                meas = {**meas2, "jump": meas.get("jump", np.nan)}
        if not reasons:
            continue
        price = float(info.loc[uid, "price"]) if "price" in info.columns else 1.0
        rows.append({ID: uid, "reasons": "; ".join(reasons), "n_reasons": len(reasons),
                     "value_at_risk": value_at_risk(yy, f, price, bt_a, bt_f),
                     "abc": info.loc[uid, "abc"], "xyz": info.loc[uid, "xyz"],
                     "demand_class": info.loc[uid, "demand_class"], **meas})
    cols = [ID, "rank", "reasons", "n_reasons", "value_at_risk", "abc", "xyz", "demand_class",
            "yoy_change", "jump", "tracking_signal"]
    if not rows:
        return pd.DataFrame(columns=cols)
    ex = pd.DataFrame(rows).sort_values(["value_at_risk", "n_reasons"], ascending=False, kind="stable")
    ex["rank"] = np.arange(1, len(ex) + 1)
    for c in cols:
        if c not in ex.columns:
            ex[c] = np.nan
    return ex[cols].reset_index(drop=True)
