"""A trained network kept as a folder of safetensors + JSON (how a workspace keeps a forecast run's network):
it loads back to the same forecasts, forecasts new history of its series without training, and a crafted
folder is refused with one clear DataError / ConfigError."""
import json

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError, DataError
from forecasting.models.deep.persist import load_folder, save_folder, with_history
from forecasting.models.registry import create_model

from .helpers import TINY, split, weekly_panel


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    train, _ = split(weekly_panel(n_series=3, periods=80), 7)
    model = create_model("lstm", season_length=7, horizon=7, **TINY).fit(train, "D")
    folder = tmp_path_factory.mktemp("m") / "lstm"
    save_folder(model, folder)
    return model, folder, train


def test_the_folder_holds_no_pickle_and_loads_to_the_same_forecasts(trained):
    model, folder, _ = trained
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.safetensors"]
    assert not (folder / "model.safetensors").read_bytes().startswith(b"\x80")      # not a pickle stream
    back = load_folder(folder)
    pd.testing.assert_frame_equal(back.predict(7), model.predict(7))


def test_new_history_moves_the_forecast_without_training(trained):
    model, folder, train = trained
    back = load_folder(folder)
    before = [p.detach().clone() for p in back.net_.parameters()]
    same = with_history(back, train, "D").predict(7)
    pd.testing.assert_frame_equal(same, model.predict(7))           # the same history: the same forecast
    # two weeks more of one series, its level doubled: only that series moves, two weeks later
    last = train[train["unique_id"] == "s1"].tail(14).copy()
    last["ds"] = last["ds"] + pd.Timedelta(days=14)
    longer = pd.concat([train[train["unique_id"] == "s1"], last.assign(y=last["y"] * 2)], ignore_index=True)
    fc = with_history(back, longer, "D").predict(7)
    assert fc["unique_id"].unique().tolist() == ["s1"]
    assert fc["ds"].min() == train["ds"].max() + pd.Timedelta(days=15)
    old = model.predict(7).query("unique_id == 's1'")
    assert fc["mean"].mean() > 1.3 * old["mean"].mean()
    assert all((a == b).all() for a, b in zip(before, back.net_.parameters()))   # no weight changed
    with pytest.raises(DataError, match="not trained on series"):
        with_history(back, train.assign(unique_id="zz"), "D")
    with pytest.raises(DataError, match="trained on 'D' data"):
        with_history(back, train, "W-SUN")


def _crafted(folder, tmp_path, **changes):
    dst = tmp_path / "crafted"
    dst.mkdir()
    (dst / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    meta = json.loads((folder / "model.json").read_text())
    meta.update(changes)
    (dst / "model.json").write_text(json.dumps(meta))
    return dst


@pytest.mark.parametrize("changes, exc, text", [
    ({"lookback": 10**9}, DataError, "lookback = 1000000000 is out of range"),
    ({"format": "other"}, DataError, "is not a saved SalesCast network"),
    ({"config": "{not json"}, DataError, "settings are not JSON"),
    ({"n_feats": 5}, DataError, "do not match its settings"),
])
def test_a_crafted_folder_is_refused_in_one_line(trained, tmp_path, changes, exc, text):
    with pytest.raises(exc) as info:
        load_folder(_crafted(trained[1], tmp_path, **changes))
    assert text in str(info.value) and "\n" not in str(info.value)


def test_weights_that_are_not_safetensors_are_refused(trained, tmp_path):
    dst = _crafted(trained[1], tmp_path)
    (dst / "model.safetensors").write_bytes(b"\x80\x04garbage" * 10)
    with pytest.raises(DataError, match="cannot read the weights"):
        load_folder(dst)
    cfg = json.loads(json.loads((trained[1] / "model.json").read_text())["config"])
    cfg["hidden_size"] = 200_000
    (tmp_path / "x").mkdir()
    with pytest.raises(ConfigError, match="at most 4,096"):
        load_folder(_crafted(trained[1], tmp_path / "x", config=json.dumps(cfg)))
