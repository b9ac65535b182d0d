"""The quality report finds what was planted, and treatments change exactly what they log."""
import numpy as np
import pandas as pd
import pytest

from forecasting.data.contract import Dataset, validate_long
from forecasting.data.ingest import load
from forecasting.data.quality import Treatments, analyst_table, apply_treatments, find_gaps, quality_report
from forecasting.errors import ConfigError


def planted() -> Dataset:
    """Two daily series with weekly seasonality; A has 2 gaps, 1 missing value, a spike, zeros, a negative."""
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=140, freq="D")
    weekly = np.array([10, 10, 10, 12, 15, 30, 5.0])
    frames = []
    for uid in ("A", "B"):
        y = weekly[days.dayofweek] + rng.normal(0, 0.5, len(days))
        frames.append(pd.DataFrame({"unique_id": uid, "ds": days, "y": y, "price": 2.0}))
    df = pd.concat(frames, ignore_index=True)
    a = df["unique_id"] == "A"
    df.loc[a & (df.ds == "2024-02-14"), "y"] = 200.0          # a spike
    df.loc[a & (df.ds == "2024-03-01"), "y"] = np.nan         # a missing value
    df.loc[a & df.ds.isin(pd.to_datetime(["2024-03-10", "2024-03-11"])), "y"] = 0.0
    df.loc[a & (df.ds == "2024-03-20"), "y"] = -3.0
    df = df[~(a & df.ds.isin(pd.to_datetime(["2024-01-10", "2024-01-11"])))]   # two missing days
    return Dataset(validate_long(df), "D", "date", "units", ["store"],
                   pd.DataFrame({"unique_id": ["A", "B"], "store": ["A", "B"]}), ["price"])


def test_report_finds_planted_problems():
    rep = quality_report(planted(), combined=pd.Series({"A": 0, "B": 4}))
    s = rep.summary.set_index("unique_id")
    assert s.loc["A", "missing_dates"] == 2 and s.loc["B", "missing_dates"] == 0
    assert s.loc["A", "missing_values"] == 1 and s.loc["A", "zeros"] == 2 and s.loc["A", "negatives"] == 1
    assert s.loc["B", "duplicates"] == 4 and s.loc["A", "length"] == 138
    assert list(rep.gaps["ds"].dt.strftime("%m-%d")) == ["01-10", "01-11"]
    spike = rep.outliers[(rep.outliers.unique_id == "A") & (rep.outliers.ds == "2024-02-14")]
    assert len(spike) == 1 and spike[["iqr", "zscore", "seasonal"]].all(axis=None)
    checks = {(f.check, f.unique_id) for f in rep.findings}
    assert {("gaps", "A"), ("missing_values", "A"), ("negatives", "A"), ("outliers", "A"), ("duplicates", "B")} <= checks
    assert rep.totals()["missing_dates"] == 2


def test_outliers_on_flag_covariate_days_are_called_out():
    ds = planted()
    ds.df["promo"] = 0.0
    ds.df.loc[(ds.df.unique_id == "A") & (ds.df.ds == "2024-02-14"), "promo"] = 1.0
    f = next(f for f in quality_report(ds).findings if f.check == "outliers" and f.unique_id == "A")
    assert "1 on promo = 1" in f.message and "covariate" in f.fix


def test_seasonal_method_spares_regular_weekly_peaks():
    rep = quality_report(planted())
    b = rep.outliers[rep.outliers.unique_id == "B"]
    saturday_peaks = b[b.ds.dt.dayofweek == 5]
    # IQR/z-score flag no Saturday or all of them; the seasonal residual never flags a regular peak
    assert not saturday_peaks["seasonal"].any()
    assert rep.summary.set_index("unique_id").loc["B", "outliers_seasonal"] <= 2


@pytest.mark.parametrize("fill, expect", [("zero", [0.0, 0.0]), ("ffill", None), ("interpolate", None)])
def test_fill_gaps_inserts_and_logs(fill, expect):
    ds = planted()
    new, log = apply_treatments(ds, Treatments(fill=fill))
    a = new.series("A").set_index("ds")["y"]
    assert len(new.df) == len(ds.df) + 2 and not find_gaps(new.df, "D").size
    filled = a.loc["2024-01-10":"2024-01-11"].tolist()
    if expect:
        assert filled == expect
    elif fill == "ffill":
        assert filled == [a.loc["2024-01-09"]] * 2
    else:
        lo, hi = a.loc["2024-01-09"], a.loc["2024-01-12"]
        assert filled == pytest.approx([lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3])
    assert not np.isnan(a.loc["2024-03-01"])                   # the missing value is filled too
    assert (log.action == "inserted missing period").sum() == 2
    assert (log.action.str.startswith("missing value filled")).sum() == 3
    assert set(log[log.column == "price"].new) == {2.0}        # covariates carried into inserted periods
    assert new.series("B")["y"].equals(ds.series("B")["y"].reset_index(drop=True)) or \
        np.allclose(new.series("B")["y"], ds.series("B")["y"])


def test_leave_inserts_empty_periods_and_none_changes_nothing():
    ds = planted()
    new, log = apply_treatments(ds, Treatments(fill="leave"))
    assert len(new.df) == len(ds.df) + 2 and new.df["y"].isna().sum() == 3 and len(log[log.column == "ds"]) == 2
    same, log0 = apply_treatments(ds, Treatments())
    assert same.df.equals(ds.df) and log0.empty


def test_zeros_as_missing_then_interpolate_fills_stock_outs():
    ds = planted()
    new, log = apply_treatments(ds, Treatments(zeros="missing", fill="interpolate"))
    a = new.series("A").set_index("ds")["y"]
    assert (a.loc["2024-03-10":"2024-03-11"] > 0).all() and not (new.df["y"] == 0).any()
    z = log[log.action.str.startswith("zero treated")]
    assert len(z) == 2 and set(z.old) == {0.0} and z.new.isna().all()
    intermittent = ds.with_df(ds.df.assign(y=np.where(ds.df.unique_id == "B", 0.0, ds.df.y)))
    kept, _ = apply_treatments(intermittent, Treatments(zeros="missing"))
    assert (kept.series("B")["y"] == 0).all()                  # zeros of an intermittent series are demand


@pytest.mark.parametrize("how", ["clip", "interpolate"])
def test_outlier_treatments_change_only_flagged_values(how):
    ds = planted()
    new, log = apply_treatments(ds, Treatments(outliers=how, outlier_method="seasonal"))
    changed = log[log.column == "y"]
    spike = changed[(changed.unique_id == "A") & (changed.ds == "2024-02-14")]
    assert len(spike) == 1 and spike.old.iloc[0] == 200.0 and spike.new.iloc[0] < 60
    merged = ds.df.merge(new.df, on=["unique_id", "ds"], suffixes=("", "_new"))
    diff = merged[~np.isclose(merged.y, merged.y_new, equal_nan=True)]
    assert len(diff) == len(changed)                            # every change is in the log, nothing else
    assert len(new.df) == len(ds.df)                            # nothing dropped


def test_bad_treatment_names():
    with pytest.raises(ConfigError, match="unknown fill"):
        apply_treatments(planted(), Treatments(fill="mean"))
    with pytest.raises(ConfigError, match="unknown outlier method"):
        quality_report(planted(), method="lof")


@pytest.mark.parametrize("sample", ["store_sales_daily.csv", "monthly_sales.csv", "wide_sales.csv"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_download_reads_back_to_the_same_dataset(root, tmp_path, sample, fmt):
    ds = load(root / "sample_data" / sample)
    cleaned, _ = apply_treatments(ds, Treatments(fill="zero"))
    table = analyst_table(cleaned)
    assert list(table.columns[:len(cleaned.id_cols)]) == cleaned.id_cols
    path = tmp_path / f"clean.{fmt}"
    table.to_csv(path, index=False) if fmt == "csv" else table.to_parquet(path, index=False)
    again = load(path)
    assert again.freq == cleaned.freq and again.id_cols == cleaned.id_cols
    pd.testing.assert_frame_equal(again.df, cleaned.df, check_dtype=False)
