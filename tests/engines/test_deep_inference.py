"""Global networks train in one process; their per-series inference is spread over the engine's workers."""
import numpy as np
import pytest

from forecasting.pipeline.across_series import predict_global
from forecasting.models.registry import create_model
from tests.models.deep.helpers import TINY, split, weekly_panel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained():
    train, test = split(weekly_panel(n_series=5, periods=90, promo=True), 7)
    m = create_model("lstm", season_length=7, horizon=7, **TINY).fit(train, "D")
    return m, test.drop(columns="y")


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_spread_inference_gives_the_driver_forecasts(trained, engine):
    model, futr = trained
    here = model.predict(7, futr, (80, 95))
    spread = predict_global(model, 7, futr, (80, 95), engine=engine, address=None, n_workers=2, min_series=1)
    assert list(spread.columns) == list(here.columns)
    assert spread["unique_id"].tolist() == here["unique_id"].tolist()
    assert (spread["ds"].to_numpy() == here["ds"].to_numpy()).all()
    cols = ["mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    np.testing.assert_allclose(spread[cols].to_numpy(), here[cols].to_numpy(), rtol=1e-5, atol=1e-6)


def test_few_series_or_serial_predict_in_this_process(trained, monkeypatch):
    import forecasting.pipeline.across_series as runner

    model, futr = trained
    monkeypatch.setattr(runner, "map_partitions", lambda *a, **k: pytest.fail("should not spread"))
    for engine, min_series in (("serial", 1), ("local", 10)):
        out = predict_global(model, 7, futr, (80,), engine=engine, address=None, n_workers=2, min_series=min_series)
        assert out["unique_id"].nunique() == 5


def test_a_subset_of_series_is_predicted_alone(trained):
    model, futr = trained
    full = model.predict(7, futr, (80,))
    part = model.predict(7, futr[futr.unique_id.isin(["s3", "s1"])], (80,), ids=["s3", "s1"])
    assert part["unique_id"].unique().tolist() == ["s3", "s1"]
    ref = full.set_index(["unique_id", "ds"]).loc[part.set_index(["unique_id", "ds"]).index]
    np.testing.assert_allclose(part["mean"].to_numpy(), ref["mean"].to_numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(Exception, match="not trained on series"):
        model.predict(7, futr, (80,), ids=["nope"])
