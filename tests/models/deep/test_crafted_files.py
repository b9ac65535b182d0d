"""Saved model files crafted by someone else: each is refused with one clear DataError / ConfigError before
any network is allocated (no raw JSONDecodeError, RuntimeError or AttributeError, no 640 GB network)."""
import json

import pytest
import torch

from forecasting.errors import ConfigError, DataError
from forecasting.models.registry import create_model, get_model_class

from .helpers import TINY, split, weekly_panel


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    train, _ = split(weekly_panel(n_series=2, periods=70), 7)
    path = tmp_path_factory.mktemp("m") / "lstm.pt"
    create_model("lstm", season_length=7, horizon=7, **TINY).fit(train, "D").save(path)
    return torch.load(path, weights_only=True)


def _write(tmp_path, blob):
    p = tmp_path / "crafted.pt"
    torch.save(blob, p)
    return p


def _config(blob, **changes):
    cfg = json.loads(blob["config"])
    cfg.update(changes)
    return {**blob, "config": json.dumps(cfg)}


CRAFTED = {
    "config_not_json": (lambda b: {**b, "config": "{not json"}, DataError, "settings are not JSON"),
    "config_a_list": (lambda b: {**b, "config": "[1, 2]"}, DataError, "not a mapping"),
    "hidden_200000": (lambda b: _config(b, hidden_size=200_000), ConfigError, "hidden_size must be at most 4,096"),
    "layers_1000": (lambda b: _config(b, num_layers=1000), ConfigError, "num_layers must be at most 16"),
    "negative_hidden": (lambda b: _config(b, hidden_size=-3), ConfigError, "hidden_size must be positive"),
    "missing_state_dict": (lambda b: {k: v for k, v in b.items() if k != "state_dict"}, DataError,
                           "missing entry 'state_dict'"),
    "huge_lookback": (lambda b: {**b, "lookback": 10**9}, DataError, "lookback = 1000000000 is out of range"),
    "lookback_not_int": (lambda b: {**b, "lookback": "12"}, DataError, "lookback = '12' is out of range"),
    "weights_of_another_size": (lambda b: _config(b, hidden_size=16), DataError, "do not match its settings"),
    "unknown_model": (lambda b: {**b, "model": "nonet"}, DataError, "holds a nonet model"),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_model_file_is_refused_in_one_line(saved, tmp_path, case):
    change, exc, text = CRAFTED[case]
    path = _write(tmp_path, change(dict(saved)))
    with pytest.raises(exc) as info:
        get_model_class("lstm").load(path)
    assert text in str(info.value) and "\n" not in str(info.value)


def test_the_genuine_file_still_loads(saved, tmp_path):
    back = get_model_class("lstm").load(_write(tmp_path, dict(saved)))
    assert back.net_ is not None


def test_time_budget_stops_training_with_a_note():
    train, _ = split(weekly_panel(n_series=2, periods=70), 7)
    m = create_model("lstm", season_length=7, horizon=7, **{**TINY, "max_epochs": 500, "patience": 10**6,
                                                             "time_budget": 0.001}).fit(train, "D")
    fs = m.fitted_settings()
    assert fs["epochs_run"] == 1, fs["epochs_run"]
    with pytest.raises(ConfigError, match="time_budget must be a positive"):
        create_model("lstm", season_length=7, time_budget=-1)
