"""Data-quality report per series, and explicit treatments that list every change.

The report is a list of named findings (after Nixtla's ``audit_data``): each has a check id, the series,
a severity, the dates it concerns and the fix that can be applied. Treatments never drop anything: they
return a new :class:`Dataset` and a change log with one row per changed value or inserted period.

Outlier methods (per series):

- ``iqr``: outside ``[Q1 - 1.5 IQR, Q3 + 1.5 IQR]``;
- ``zscore``: more than 3 standard deviations from the mean;
- ``seasonal``: robust seasonal residual on the scale the series asks for (additive, sqrt or log, chosen
  per series from how its seasonal swing grows with its level), flagged beyond 4.5 robust standard
  deviations: :func:`forecasting.data.outliers.seasonal_outliers`, the rule Explore and ``decompose`` use
  too. It does not flag the regular weekly/yearly peaks that IQR and z-score mistake for outliers, nor
  the growing Decembers of a growing business, nor the spikes and dips that the dataset's on/off
  covariates (0/1 columns: promotion, holiday) explain.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.data.contract import DS, ID, Y, Dataset, validate_long
from forecasting.data.frequency import period_index
from forecasting.data.outliers import THRESHOLD, seasonal_outliers
from forecasting.errors import ConfigError
from forecasting.data.frequency import season_length_for

OUTLIER_METHODS = ("iqr", "zscore", "seasonal")
FILL_METHODS = ("none", "leave", "zero", "ffill", "interpolate")
OUTLIER_TREATMENTS = ("leave", "clip", "interpolate")
ZERO_TREATMENTS = ("leave", "missing")
INTERMITTENT = 0.3                       # share of zero periods from which a series counts as intermittent
LOG_COLUMNS = ["unique_id", "ds", "column", "action", "old", "new"]


@dataclass
class Finding:
    check: str                 # gaps | missing_values | duplicates | zeros | negatives | outliers | short | ...
    unique_id: str
    severity: str              # error | warning | info
    count: int
    dates: list = field(default_factory=list)   # the periods concerned
    message: str = ""
    fix: str = ""


@dataclass
class QualityReport:
    summary: pd.DataFrame      # one row per series
    findings: list[Finding]
    gaps: pd.DataFrame         # unique_id, ds: missing periods
    outliers: pd.DataFrame     # unique_id, ds, y, iqr, zscore, seasonal (bool per method), expected, scale
    season_length: int

    def findings_frame(self) -> pd.DataFrame:
        rows = [{"check": f.check, "unique_id": f.unique_id, "severity": f.severity, "count": f.count,
                 "first dates": ", ".join(str(pd.Timestamp(d).date()) if pd.Timestamp(d) == pd.Timestamp(d).normalize()
                                          else str(d) for d in f.dates[:5]) + (" …" if len(f.dates) > 5 else ""),
                 "message": f.message, "fix": f.fix} for f in self.findings]
        return pd.DataFrame(rows, columns=["check", "unique_id", "severity", "count", "first dates", "message", "fix"])

    def totals(self) -> dict:
        s = self.summary
        return {k: int(s[k].sum()) for k in ("missing_values", "missing_dates", "duplicates", "zeros", "negatives",
                                             "outliers")}


# ----------------------------------------------------------------------------------------------------
# detection


def outlier_flags(df: pd.DataFrame, freq: str, season_length: int, *, iqr_k: float = 1.5, z: float = 3.0,
                  robust: float = THRESHOLD, covariates: list[str] | None = None) -> pd.DataFrame:
    """Per row of a long frame: a flag per method plus the bounds each method implies (NaN y never flagged).
    ``covariates``: the on/off ones among them (promotion, holiday) are expected effects for ``seasonal``.

    Vectorised over series (group codes), so a million rows take seconds, not minutes."""
    y = df[Y]
    codes = df.groupby(ID, sort=False).ngroup().to_numpy()
    g = y.groupby(codes, sort=False)

    def per_row(stat: pd.Series) -> np.ndarray:
        return stat.to_numpy()[codes] if len(stat) else np.full(len(y), np.nan)

    q1, q3 = per_row(g.quantile(0.25)), per_row(g.quantile(0.75))
    iqr = q3 - q1
    out = pd.DataFrame(index=df.index)
    yv = y.to_numpy()
    out["iqr_lo"], out["iqr_hi"] = q1 - iqr_k * iqr, q3 + iqr_k * iqr
    out["iqr"] = (iqr > 0) & ((yv < out["iqr_lo"].to_numpy()) | (yv > out["iqr_hi"].to_numpy()))
    mean, std = per_row(g.mean()), per_row(g.std())
    out["z_lo"], out["z_hi"] = mean - z * std, mean + z * std
    out["zscore"] = (std > 0) & (np.abs(yv - mean) > z * std)
    so = seasonal_outliers(df, freq, season_length, robust, covariates=covariates)
    out["expected"], out["scale"] = so["expected"].to_numpy(), so["scale"].to_numpy()
    out["seasonal_lo"], out["seasonal_hi"] = so["lo"].to_numpy(), so["hi"].to_numpy()
    out["seasonal"] = so["outlier"].to_numpy()
    for c in OUTLIER_METHODS:
        out[c] = out[c].fillna(False).astype(bool) & y.notna()
    return out


def find_gaps(df: pd.DataFrame, freq: str) -> pd.DataFrame:
    """The missing periods of each series between its first and last date (unique_id, ds)."""
    if df.empty:
        return pd.DataFrame({ID: pd.Series(dtype=object), DS: pd.Series(dtype="datetime64[ns]")})
    p = period_index(df[DS], freq)
    step = np.diff(p)
    same = df[ID].to_numpy()[1:] == df[ID].to_numpy()[:-1]
    holes = np.flatnonzero(same & (step > 1))
    parts = []
    dsv = df[DS].to_numpy()
    ids = df[ID].to_numpy()
    for i in holes:  # one small date_range per hole, not per row
        rng = pd.date_range(dsv[i], dsv[i + 1], freq=freq)[1:-1]
        parts.append(pd.DataFrame({ID: ids[i], DS: rng}))
    if not parts:
        return pd.DataFrame({ID: pd.Series(dtype=object), DS: pd.Series(dtype="datetime64[ns]")})
    return pd.concat(parts, ignore_index=True)


# beyond this magnitude the squares (variances, errors) and sums models compute overflow float64 to infinity
TOO_LARGE = 1e150


def too_large(df: pd.DataFrame) -> pd.DataFrame:
    """Series holding values too large to compute with (1.7e308 from a broken export): ``unique_id, count,
    largest, first`` (the first date), one row per such series."""
    y = df[Y].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        big = np.abs(y) > TOO_LARGE
    if not big.any():
        return pd.DataFrame(columns=[ID, "count", "largest", "first"])
    sub = df.loc[big, [ID, DS, Y]]
    g = sub.groupby(ID, sort=False)
    return pd.DataFrame({"count": g.size(), "largest": g[Y].agg(lambda v: v.abs().max()),
                         "first": g[DS].min()}).reset_index().rename(columns={"index": ID})


def too_large_message(df: pd.DataFrame, limit: int = 3) -> str:
    """One line naming the series whose values are too large to compute with ("" when none)."""
    big = too_large(df)
    if not len(big):
        return ""
    shown = ", ".join(f"{r[ID]} ({int(r['count'])} value(s) up to {r['largest']:.3g})"
                      for _, r in big.head(limit).iterrows())
    more = f" and {len(big) - limit} more" if len(big) > limit else ""
    return (f"{len(big)} series hold values too large to compute with (above {TOO_LARGE:.0e}; sums and squares "
            f"overflow to infinity), so models fall back or give no forecast: {shown}{more}")


def missing_date_counts(df: pd.DataFrame, freq: str) -> pd.Series:
    """Missing periods per series (fast: from period numbers, no grid)."""
    p = pd.Series(period_index(df[DS], freq), index=df.index)
    g = p.groupby(df[ID], sort=False)
    return (g.max() - g.min() + 1 - g.size()).astype(int)


def quality_report(ds: Dataset, *, combined: pd.Series | None = None, season_length: int | None = None,
                   method: str = "seasonal") -> QualityReport:
    """Check every series of a dataset; ``combined`` (from ingest) gives duplicated timestamps per series.

    ``method`` picks the outlier method behind the ``outliers`` count and finding (all three are computed)."""
    if method not in OUTLIER_METHODS:
        raise ConfigError(f"unknown outlier method '{method}'; use one of {', '.join(OUTLIER_METHODS)}")
    df = ds.df
    m = season_length or season_length_for(ds.freq)
    flags = outlier_flags(df, ds.freq, m, covariates=ds.covariates)
    gaps = find_gaps(df, ds.freq)
    g = df.groupby(ID, sort=False)
    y = df[Y]
    summary = pd.DataFrame({
        "start": g[DS].min(), "end": g[DS].max(), "length": g.size(),
        "missing_values": y.isna().groupby(df[ID], sort=False).sum(),
        "zeros": (y == 0).groupby(df[ID], sort=False).sum(),
        "negatives": (y < 0).groupby(df[ID], sort=False).sum(),
        "outliers_iqr": flags["iqr"].groupby(df[ID], sort=False).sum(),
        "outliers_zscore": flags["zscore"].groupby(df[ID], sort=False).sum(),
        "outliers_seasonal": flags["seasonal"].groupby(df[ID], sort=False).sum(),
        "outlier_scale": flags["scale"].groupby(df[ID], sort=False).first(),
    })
    summary.insert(3, "missing_dates", gaps.groupby(ID).size().reindex(summary.index, fill_value=0)
                   if len(gaps) else 0)
    summary["duplicates"] = (combined.reindex(summary.index).fillna(0).astype(int)
                             if combined is not None else 0)
    any_out = flags[method]
    summary["outliers"] = any_out.groupby(df[ID], sort=False).sum()
    observed = y.notna().groupby(df[ID], sort=False).sum()
    summary["intermittency"] = (summary["zeros"] / (observed + summary["missing_dates"]).clip(lower=1)).round(3)
    summary["mean"] = g[Y].mean()
    summary = summary.reset_index().rename(columns={"index": ID})
    for c in ("length", "missing_values", "missing_dates", "zeros", "negatives", "outliers_iqr", "outliers_zscore",
              "outliers_seasonal", "duplicates", "outliers"):
        summary[c] = summary[c].astype(int)
    flagged = flags[list(OUTLIER_METHODS)].any(axis=1)
    outliers = pd.concat([df.loc[flagged, [ID, DS, Y]], flags.loc[flagged, [*OUTLIER_METHODS, "expected", "scale"]]], axis=1)
    findings = _findings(df, summary, gaps, flags, m, method)
    return QualityReport(summary, findings, gaps, outliers.reset_index(drop=True), m)


def _findings(df, summary, gaps, flags, m, method) -> list[Finding]:
    out: list[Finding] = []

    def dates_where(mask) -> dict:
        sub = df.loc[mask, [ID, DS]]
        return {k: list(v) for k, v in sub.groupby(ID, sort=False)[DS]} if len(sub) else {}

    by_gap = {k: list(v) for k, v in gaps.groupby(ID)[DS]} if len(gaps) else {}
    y = df[Y]
    missing, negative, zero, outl = (dates_where(y.isna()), dates_where(y < 0), dates_where(y == 0),
                                     dates_where(flags[method]))
    distinct = y.groupby(df[ID], sort=False).nunique()
    # 0/1 covariates (promo, holiday): outliers on such days are effects the covariate explains, not errors
    flag_cols = [c for c in df.columns if c not in (ID, DS, Y) and df[c].dropna().isin([0, 1]).all()
                 and (df[c] == 1).any()]
    on_flags = (df.loc[flags[method], [ID, *flag_cols]].groupby(ID, sort=False)[flag_cols].sum()
                if flag_cols else pd.DataFrame())
    big = too_large(df).set_index(ID)
    big_dates = dates_where(y.abs() > TOO_LARGE) if len(big) else {}
    for row in summary.itertuples(index=False):
        uid = row.unique_id
        if uid in big.index:
            b = big.loc[uid]
            out.append(Finding("too_large", uid, "error", int(b["count"]), big_dates.get(uid, []),
                               f"{int(b['count'])} value(s) up to {b['largest']:.3g}: too large to compute with "
                               f"(sums and squares overflow to infinity), so models fall back or give no forecast",
                               "check the source: such a number is a broken export or a placeholder, not a sale; "
                               "correct it or remove the row"))
        if row.missing_dates:
            out.append(Finding("gaps", uid, "warning", row.missing_dates, by_gap.get(uid, []),
                               f"{row.missing_dates} missing period(s) between {row.start.date()} and {row.end.date()}",
                               "fill gaps: zero (no sales recorded), forward-fill, interpolate, or leave missing"))
        if row.missing_values:
            out.append(Finding("missing_values", uid, "warning", row.missing_values, missing.get(uid, []),
                               f"{row.missing_values} period(s) without a value",
                               "fill missing values: zero, forward-fill or interpolate"))
        if row.duplicates:
            out.append(Finding("duplicates", uid, "info", row.duplicates, [],
                               f"{row.duplicates} row(s) shared a period with another row and were combined",
                               "already combined (sum by default; choose mean if rows repeat one value)"))
        if row.negatives:
            out.append(Finding("negatives", uid, "warning", row.negatives, negative.get(uid, []),
                               f"{row.negatives} negative value(s) (returns?)", "check the source; clip outliers"))
        if row.zeros:
            sev = "info" if row.intermittency < INTERMITTENT else "warning"
            out.append(Finding("zeros", uid, sev, row.zeros, zero.get(uid, []),
                               f"{row.zeros} zero value(s) ({row.intermittency:.0%} of periods)",
                               "intermittent demand: try croston/tsb" if row.intermittency >= INTERMITTENT
                               else "zeros may be stock-outs: treat zeros as missing, then fill"))
        if row.outliers:
            others = ", ".join(f"{k}: {getattr(row, f'outliers_{k}')}" for k in OUTLIER_METHODS if k != method)
            explained = [f"{int(n)} on {c} = 1" for c, n in
                         (on_flags.loc[uid].items() if uid in on_flags.index else []) if n]
            out.append(Finding("outliers", uid, "warning", row.outliers, outl.get(uid, []),
                               f"{row.outliers} outlier(s) by the {method} method"
                               + (f" on the {row.outlier_scale} scale" if method == "seasonal" else "")
                               + f" ({others})"
                               + (f"; {', '.join(explained)}" if explained else ""),
                               "clip or interpolate errors; leave effects a covariate explains (promotions, "
                               "holidays) to models that use it" if explained
                               else "clip to the method's bounds or interpolate"))
        if row.length < 2 * max(m, 2):
            out.append(Finding("short", uid, "warning", int(row.length), [],
                               f"only {row.length} period(s): less than two seasons of {m}",
                               "use simple models (naive, drift, moving_average)"))
        observed = row.length - row.missing_values
        if observed > 1 and distinct.get(uid, 0) == 1:
            first = y[df[ID] == uid].dropna().iloc[0]
            out.append(Finding("constant", uid, "info", int(observed), [], f"every value is {first:g}",
                               "a constant series needs no model; naive forecasts it exactly"))
    return out


# ----------------------------------------------------------------------------------------------------
# treatments


@dataclass
class Treatments:
    """The analyst's choices. ``fill`` applies to gaps and missing values: ``none`` (do nothing),
    ``leave`` (insert the missing periods with no value), ``zero``, ``ffill`` or ``interpolate``.
    ``zeros="missing"`` treats zeros as missing (stock-outs) before filling, in series where zeros are rare
    (under 30% of periods); in intermittent series zeros are real demand and are kept."""
    fill: str = "none"
    zeros: str = "leave"                 # leave | missing
    outliers: str = "leave"              # leave | clip | interpolate
    outlier_method: str = "seasonal"     # iqr | zscore | seasonal
    season_length: int | None = None

    def check(self) -> None:
        if self.fill not in FILL_METHODS:
            raise ConfigError(f"unknown fill '{self.fill}'; use one of {', '.join(FILL_METHODS)}")
        if self.outliers not in OUTLIER_TREATMENTS:
            raise ConfigError(f"unknown outlier treatment '{self.outliers}'; use one of {', '.join(OUTLIER_TREATMENTS)}")
        if self.zeros not in ZERO_TREATMENTS:
            raise ConfigError(f"unknown zeros treatment '{self.zeros}'; use one of {', '.join(ZERO_TREATMENTS)}")
        if self.outlier_method not in OUTLIER_METHODS:
            raise ConfigError(f"unknown outlier method '{self.outlier_method}'; use one of {', '.join(OUTLIER_METHODS)}")


def apply_treatments(ds: Dataset, t: Treatments) -> tuple[Dataset, pd.DataFrame]:
    """Apply the treatments; returns the new dataset and the change log (one row per change)."""
    t.check()
    df = ds.df.copy()
    log: list[pd.DataFrame] = []
    covs = [c for c in df.columns if c not in (ID, DS, Y)]
    if t.zeros == "missing":
        zero = df[Y] == 0
        share = zero.groupby(df[ID], sort=False).transform("sum") / \
            df[Y].notna().groupby(df[ID], sort=False).transform("sum").clip(lower=1)
        mask = zero & (share < INTERMITTENT)
        log.append(_log(df[mask], Y, "zero treated as missing (stock-out)", 0.0, np.nan))
        df.loc[mask, Y] = np.nan
    if t.fill != "none":
        gaps = find_gaps(df, ds.freq)
        if len(gaps):
            df = pd.concat([df, gaps.assign(**{Y: np.nan}, _inserted=True)], ignore_index=True)
            df["_inserted"] = df["_inserted"].eq(True)
            df = df.sort_values([ID, DS], kind="stable").reset_index(drop=True)
            ins = df["_inserted"]
            log.append(_log(df[ins], "ds", "inserted missing period", np.nan, np.nan))
            for c in covs:  # covariates of an inserted period: carried from the neighbours
                before = df[c].copy()
                df[c] = df.groupby(ID, sort=False)[c].transform(lambda s: s.ffill().bfill())
                changed = ins & before.isna() & df[c].notna()
                log.append(_log(df[changed], c, "covariate carried into inserted period", np.nan, df.loc[changed, c]))
            df = df.drop(columns="_inserted")
        if t.fill != "leave":
            before = df[Y].copy()
            g = df.groupby(ID, sort=False)[Y]
            if t.fill == "zero":
                df[Y] = df[Y].fillna(0.0)
            elif t.fill == "ffill":
                df[Y] = g.ffill()
            else:
                df[Y] = g.transform(lambda s: s.interpolate(limit_direction="both"))
            changed = before.isna() & df[Y].notna()
            log.append(_log(df[changed], Y, f"missing value filled ({t.fill})", np.nan, df.loc[changed, Y]))
    if t.outliers != "leave":
        m = t.season_length or season_length_for(ds.freq)
        flags = outlier_flags(df, ds.freq, m, covariates=ds.covariates)
        mask = flags[t.outlier_method]
        prefix = {"iqr": "iqr", "zscore": "z", "seasonal": "seasonal"}[t.outlier_method]
        before = df[Y].copy()
        if t.outliers == "clip":
            df[Y] = df[Y].where(~mask, df[Y].clip(flags[f"{prefix}_lo"], flags[f"{prefix}_hi"]))
        else:
            df.loc[mask, Y] = np.nan
            df[Y] = df[Y].where(~mask, df.groupby(ID, sort=False)[Y].transform(
                lambda s: s.interpolate(limit_direction="both")))
        log.append(_log(df[mask], Y, f"outlier ({t.outlier_method}) {'clipped' if t.outliers == 'clip' else 'interpolated'}",
                        before[mask], df.loc[mask, Y]))
    log_df = pd.concat([x for x in log if len(x)], ignore_index=True) if any(len(x) for x in log) else \
        pd.DataFrame(columns=LOG_COLUMNS)
    new = ds.with_df(validate_long(df))
    new.notes = [*ds.notes, f"treatments: zeros={t.zeros}, fill={t.fill}, outliers={t.outliers} ({t.outlier_method}); "
                            f"{len(log_df)} change(s) logged"]
    return new, log_df


def _log(rows: pd.DataFrame, column: str, action: str, old, new) -> pd.DataFrame:
    n = len(rows)
    return pd.DataFrame({"unique_id": rows[ID].to_numpy(), "ds": rows[DS].to_numpy(), "column": column,
                         "action": action,
                         "old": np.asarray(old, dtype=float) if np.ndim(old) else np.full(n, old, dtype=float),
                         "new": np.asarray(new, dtype=float) if np.ndim(new) else np.full(n, new, dtype=float)},
                        columns=LOG_COLUMNS)


def analyst_table(ds: Dataset) -> pd.DataFrame:
    """The long frame in the analyst's words: id columns (or ``series``), the date and target under their
    original names, then the covariates. What the Data page downloads; reading it back gives the same data."""
    out = ds.restore_ids(ds.df) if ds.id_cols else ds.df.drop(columns=ID)   # one series: no id column
    date = ds.date_col if ds.date_col not in out.columns else f"{ds.date_col}_date"
    target = ds.target_col if ds.target_col not in out.columns else f"{ds.target_col}_value"
    return out.rename(columns={DS: date, Y: target})
