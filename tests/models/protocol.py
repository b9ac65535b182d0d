"""The shared protocol check, run on every registered model (tests/models/test_protocol.py) and on a toy
model registered by a test (tests/models/test_new_model.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError
from forecasting.models.base import GlobalModel, PerSeriesModel
from forecasting.models.registry import MODELS, check_settings, get_model_class, settings_of
from forecasting.models.settings import declared


def tiny(n=36, m=12, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 50 + 0.5 * t + 8 * np.sin(2 * np.pi * t / m) + rng.normal(0, 1, n)


def check_settings_declared(name: str) -> None:
    """Every setting has a doc line and a default the model accepts; unknown names and bad values are
    refused when the model is created, naming the model."""
    cls = get_model_class(name)
    for s in declared(cls):
        assert s.doc.strip(), f"{name}.{s.name} has no doc line"
    rows = settings_of(name)
    assert [r["name"] for r in rows] == [s.name for s in declared(cls)]
    check_settings(name, {r["name"]: r["default"] for r in rows if r["name"] != "progress"})
    with pytest.raises(ConfigError, match=f"^{name} has no setting 'no_such_setting'"):
        check_settings(name, {"no_such_setting": 1})
    typed = [s for s in declared(cls) if s.kind in ("int", "float", "bool") or s.choices]
    for s in typed[:3]:
        with pytest.raises(ConfigError, match=f"^{name}: setting {s.name} must be"):
            check_settings(name, {s.name: "not a valid value"})


def check_local(name: str) -> None:
    cls = get_model_class(name)
    assert issubclass(cls, PerSeriesModel)
    assert cls.name == name, "class name attribute matches the registry name"
    assert cls.capabilities == MODELS[name].capabilities, "capabilities come from the registry"
    model = cls(season_length=12, **cls.test_params())
    y = tiny()
    X = np.random.default_rng(1).integers(0, 2, (y.size, 1)).astype(float) if cls.capabilities.covariates else None
    Xf = np.ones((5, 1)) if X is not None else None
    assert model.fit(y, X) is model, "fit returns self"
    out = model.predict(5, Xf, (80, 95))
    assert set(out) >= {"mean", "lo-80", "hi-80", "lo-95", "hi-95"}
    for k, v in out.items():
        assert np.asarray(v).shape == (5,), k
        assert np.isfinite(v).all(), k
    assert (out["lo-95"] <= out["lo-80"] + 1e-9).all() and (out["lo-80"] <= out["mean"] + 1e-9).all()
    assert (out["mean"] <= out["hi-80"] + 1e-9).all() and (out["hi-80"] <= out["hi-95"] + 1e-9).all()
    # the forecast is in the range of the data, not garbage
    assert out["mean"].min() > 0 and out["mean"].max() < 200
    assert isinstance(model.fitted_settings(), dict)
    # other levels on request
    out2 = model.predict(3, None if Xf is None else Xf[:3], (50,))
    assert set(out2) >= {"mean", "lo-50", "hi-50"}
    # __init__ only stores settings: a fresh instance fits another series independently
    other = cls(season_length=12, **cls.test_params()).fit(y * 10, None if X is None else X)
    assert other.predict(5, Xf, (80,))["mean"].mean() > out["mean"].mean() * 3


def check_global(name: str) -> None:
    cls = get_model_class(name)
    assert issubclass(cls, GlobalModel)
    assert cls.name == name
    assert cls.capabilities == MODELS[name].capabilities
    ds = pd.date_range("2020-01-01", periods=36, freq="MS")
    df = pd.concat([pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": tiny(seed=i) * (1 + i)}) for i in range(3)],
                   ignore_index=True)
    futr = pd.concat([pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2023-01-01", periods=5, freq="MS")})
                      for i in range(3)], ignore_index=True)
    model = cls(season_length=12, **cls.test_params())
    assert model.fit(df, "MS") is model, "fit returns self"
    out = model.predict(5, futr, (80, 95))
    assert {"unique_id", "ds", "mean", "lo-80", "hi-80", "lo-95", "hi-95"} <= set(out.columns)
    assert sorted(out["unique_id"].unique()) == ["s0", "s1", "s2"]
    assert (out.groupby("unique_id").size() == 5).all()
    vals = out[["mean", "lo-80", "hi-80", "lo-95", "hi-95"]].to_numpy(dtype=float)
    assert np.isfinite(vals).all()
    assert (out["lo-95"] <= out["lo-80"] + 1e-6).all() and (out["hi-80"] <= out["hi-95"] + 1e-6).all()
    # each series is forecast at its own level: the largest series has the largest forecasts
    level = out.groupby("unique_id")["mean"].mean()
    assert level["s2"] > level["s0"]
    assert isinstance(model.fitted_settings(), dict)


def check_protocol(name: str) -> None:
    check_settings_declared(name)
    if MODELS[name].capabilities.global_model:
        check_global(name)
    else:
        check_local(name)
