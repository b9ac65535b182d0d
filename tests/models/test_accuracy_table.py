"""(model, dataset, maximum allowed MASE) on real data from packages, last periods held out.

Datasets: AirPassengers (embedded, Box & Jenkins), CO2 monthly means and Nile flow from ``statsmodels.datasets``.
Bounds were set about 25% above the errors measured when the models were written, and at most the
seasonal naive's, so a regression in any model shows up here."""
import numpy as np
import pytest

from forecasting.models.fitting import fit_predict
from forecasting.metrics import mase, naive_scale

from .data import load

H = {"air": 12, "co2_monthly": 12, "nile": 10}
TABLE = [
    ("seasonal_naive", "air", 1.8),
    ("sarima", "air", 0.7),
    ("ets", "air", 0.9),
    ("theta", "air", 1.1),
    ("ensemble", "air", 0.85),
    ("sarima", "co2_monthly", 0.25),
    ("ets", "co2_monthly", 0.3),
    ("theta", "co2_monthly", 0.3),
    ("arima", "nile", 1.1),
    ("ets", "nile", 1.1),
    ("theta", "nile", 1.1),
    ("drift", "nile", 1.2),
]


@pytest.mark.slow
@pytest.mark.parametrize("model,dataset,max_mase", TABLE)
def test_accuracy(model, dataset, max_mase):
    y, m = load(dataset)
    h = H[dataset]
    tr, te = y[:-h], y[-h:]
    out = fit_predict(model, tr, h, season_length=m)
    assert out.fallback == "", out.fallback
    score = mase(te, out.forecast["mean"], naive_scale(tr, m)[0])
    assert score <= max_mase, f"{model} on {dataset}: MASE {score:.3f} > {max_mase}"
    # the 95% interval covers most of the holdout (honest intervals)
    inside = np.mean((te >= out.forecast["lo-95"]) & (te <= out.forecast["hi-95"]))
    assert inside >= 0.5
