"""The Data page chart marks exactly the report's gaps, missing values and outliers of the chosen series."""
from forecasting.data.quality import Treatments, apply_treatments, quality_report
from forecasting.export.charts_data import quality_figure
from tests.data.test_quality import planted


def test_quality_figure_marks_gaps_and_outliers():
    ds = planted()
    rep = quality_report(ds)
    fig = quality_figure(ds, rep, "A")
    names = {t.name.split(" (")[0]: t for t in fig.data}
    assert set(names) == {"observed", "gap / missing", "outlier"}
    holes = sorted(str(x)[:10] for x in names["gap / missing"].x)
    assert holes == ["2024-01-10", "2024-01-11", "2024-03-01"]
    assert len(names["outlier"].x) == len(rep.outliers[rep.outliers.unique_id == "A"]) >= 1
    assert "2024-02-14" in {str(x)[:10] for x in names["outlier"].x}
    assert len(names["observed"].x) == 140                     # drawn on the full grid: gaps show as breaks


def test_quality_figure_adds_treated_line_and_escapes_names():
    ds = planted()
    rep = quality_report(ds)
    new, _ = apply_treatments(ds, Treatments(fill="zero"))
    fig = quality_figure(ds, rep, "B", treated=new)
    assert [t.name for t in fig.data][:2] == ["observed", "after treatments"]
    ds.df["unique_id"] = ds.df["unique_id"].replace({"B": "<b>x</b>"})
    fig = quality_figure(ds, quality_report(ds), "<b>x</b>")
    assert "<b>" not in fig.layout.title.text
