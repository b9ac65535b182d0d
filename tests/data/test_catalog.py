"""Every file of the messy-file catalog gives its expected summary, or its expected one-line error."""
import pytest

from forecasting.commands.validate import summarize
from forecasting.data.contract import validate_long
from forecasting.data.ingest import load_report
from forecasting.errors import SalesCastError
from tests.data.catalog import CASES, Case


@pytest.mark.parametrize("from_path", [False, True], ids=["bytes", "path"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_catalog(case: Case, from_path: bool, tmp_path):
    data, name = case.make()
    source = data
    if from_path:  # files on disk take pyarrow's direct path when they are plain UTF-8 CSV
        source = tmp_path / name
        source.write_bytes(data)
    if case.error:
        with pytest.raises(SalesCastError) as info:
            load_report(source, filename=name, **case.kwargs)
        msg = str(info.value)
        assert case.error.lower() in msg.lower(), msg
        assert "\n" not in msg and "Traceback" not in msg
        return
    rep = load_report(source, filename=name, **case.kwargs)
    df = rep.dataset.df
    assert validate_long(df).equals(df)                       # the contract holds, already sorted and typed
    if rep.dataset.id_map is not None:
        assert rep.dataset.id_map["unique_id"].tolist() == rep.dataset.series_ids
    out = summarize(rep)
    for key, want in case.expect.items():
        if key == "series":
            assert rep.dataset.series_ids == want
        elif key == "note":
            assert any(want.lower() in n.lower() for n in out["notes"]), (want, out["notes"])
        elif key == "warning":
            assert any(want.lower() in w.lower() for w in out["warnings"]), (want, out["warnings"])
        elif isinstance(want, float):
            assert out[key] == pytest.approx(want), (key, out[key])
        else:
            assert out[key] == want, (key, out[key], out)
