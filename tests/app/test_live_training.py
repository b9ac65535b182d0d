"""The progress panel draws a network's loss curve live, epoch by epoch, while a backtest trains it."""
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow


def _train_with_panel():
    """A page fragment: a backtest of a tiny GRU reporting to a ProgressPanel. The panel is left open
    (a page closes it when the run ends), so the test sees what the analyst saw during training."""
    import numpy as np
    import pandas as pd
    import streamlit as st
    import torch

    from ui import run_panel
    from forecasting.data.contract import Dataset, validate_long
    from forecasting.pipeline import BacktestConfig, run_backtest

    torch.set_num_threads(1)
    rows = [pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2019-01-01", periods=48, freq="MS"),
                          "y": 100 + 10 * i + 20 * np.sin(2 * np.pi * np.arange(48) / 12)}) for i in range(2)]
    ds = Dataset(validate_long(pd.concat(rows)), "MS")
    panel = run_panel.ProgressPanel("Backtest", "backtest")
    panel.redraw_every = 0.0          # draw every epoch (the page throttles: epochs can be short)
    params = {"max_epochs": 3, "patience": 10, "hidden_size": 8, "progress": panel.hook()}
    cfg = BacktestConfig(horizon=6, models=["gru"], windows=1, season_length=12, engine="serial",
                         model_params={"gru": params})
    res = run_backtest(ds, cfg, progress=panel)
    st.session_state["events"] = panel.events
    st.session_state["metrics"] = res.metrics


def chart_frame(element) -> pd.DataFrame:
    """The data a st.line_chart element carries (Arrow IPC inside the Vega-Lite proto)."""
    frames = [pa.ipc.open_stream(d.data.data).read_pandas() for d in element.proto.datasets]
    return pd.concat(frames, ignore_index=True)


def test_loss_curve_is_drawn_while_the_network_trains(tmp_path):
    import inspect
    import textwrap

    pytest.importorskip("torch")
    script = tmp_path / "live_training.py"     # a named page file (after app.py ran, a hashed name fails)
    script.write_text(textwrap.dedent(inspect.getsource(_train_with_panel)) + "\n_train_with_panel()\n")
    at = AppTest.from_file(str(script), default_timeout=120).run()
    assert not at.exception, at.exception
    events = at.session_state["events"]
    assert [e["epoch"] for e in events] == [1, 2, 3] and {e["model"] for e in events} == {"gru"}
    charts = at.get("arrow_vega_lite_chart")
    assert len(charts) == 1
    drawn = chart_frame(charts[0])
    # long form (epoch, series, value) or wide (epoch, train, validation): the three epochs, both losses
    assert sorted(drawn["epoch"].unique()) == [1, 2, 3]
    values = drawn.drop(columns="epoch").select_dtypes("number").to_numpy().ravel()
    losses = [e["train_loss"] for e in events] + [e["val_loss"] for e in events]
    assert sorted(round(float(v), 6) for v in values) == sorted(round(float(v), 6) for v in losses)
    assert any("gru: loss by epoch" in c.value for c in at.caption)
    bar = at.get("progress")[0]                     # the bar followed the epochs: the last one, with its ETA
    assert bar.proto.value == 100 and "gru epoch 3/3" in bar.proto.text and "s left" in bar.proto.text
    assert at.session_state["metrics"]["mase"].notna().all()
