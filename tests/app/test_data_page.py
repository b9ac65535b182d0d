"""AppTest drives the Data page: the sample on first open, an upload, a bad file, mapping and treatments.

AppTest cannot drive ``st.file_uploader``; the page keeps the upload as (bytes, name) under
``data_upload`` in session state, so the tests put a file there, exactly what the uploader does."""
import io

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

UPLOAD = "data_upload"
MESSY = ("Datum;Filiale;Umsatz;Preis\n" + "".join(
    f"{d:02d}.03.2024;{s};{'1.2' if d == 5 else ''}{d}0,5;2,5\n" for d in range(1, 29) if d not in (10, 11)
    for s in ("Köln", "Bonn")) + "10.03.2024;Köln;N/A;2,5\n").encode("cp1252")   # gaps: Köln 1, Bonn 2


def app() -> AppTest:
    at = AppTest.from_file("app.py", default_timeout=120)
    at.run()
    return at


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_opens_on_the_sample_with_report_and_dataset():
    at = app()
    assert not at.exception and not at.error
    m = metrics(at)
    assert (m["Series"], m["Rows"], m["Frequency"]) == ("12", "13,152", "D")
    ds = at.session_state["dataset"]
    assert ds.n_series == 12 and ds.target_col == "units" and ds.id_cols == ["store", "product"]
    assert any("Quality report" in s.value for s in at.subheader)


def test_upload_messy_file_then_treat_gaps():
    at = app()
    at.session_state[UPLOAD] = (MESSY, "filialen.csv")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    m = metrics(at)
    assert (m["Series"], m["Frequency"]) == ("2", "D")
    assert m["missing dates"] == "3" and m["missing values"] == "1"
    ds = at.session_state["dataset"]
    assert ds.date_col == "Datum" and ds.target_col == "Umsatz" and ds.covariates == ["Preis"]
    koeln = ds.series("Köln").set_index("ds")["y"]
    assert koeln.loc["2024-03-05"] == pytest.approx(1250.5)      # "1.250,5": thousands dot, decimal comma
    at.selectbox(key="data_fill").set_value("zero").run()
    assert not at.exception
    treated = at.session_state["dataset"]
    assert len(treated.df) == len(ds.df) + 3 and treated.series("Bonn").set_index("ds").loc["2024-03-10", "y"] == 0
    assert treated.series("Köln").set_index("ds").loc["2024-03-10", "y"] == 0
    assert any("Change log: 10 change(s)" in c.value for c in at.caption)  # 3 inserted + 3 prices + 4 filled


def test_mapping_form_overrides_the_guess():
    at = app()
    at.session_state[UPLOAD] = (MESSY, "filialen.csv")
    at.run()
    key = next(w.key for w in at.multiselect if w.key.startswith("ids_"))
    at.multiselect(key=key).set_value([])
    fkey = next(w.key for w in at.selectbox if w.key.startswith("freq_"))
    at.selectbox(key=fkey).set_value("W-SUN")
    next(b for b in at.button if b.label == "Apply").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    ds = at.session_state["dataset"]
    assert ds.n_series == 1 and ds.freq == "W-SUN" and ds.id_cols == []


@pytest.mark.parametrize("content, name, needle", [
    (b"\x00\x01\x02\x03 not a table", "sales.csv", "binary"),
    (b"date,units\n", "sales.csv", "no data rows"),
    (b"store,units\nA,1\nB,2\n", "sales.csv", "does not hold dates"),
])
def test_bad_file_shows_a_readable_error(content, name, needle):
    at = app()
    at.session_state[UPLOAD] = (content, name)
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and needle in at.error[0].value and "Traceback" not in at.error[0].value


def test_excel_upload_with_sheet_choice():
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        pd.DataFrame({"note": ["read me", "then", "the data sheet"]}).to_excel(xw, sheet_name="about", index=False)
        pd.DataFrame({"month": pd.date_range("2020-01-01", periods=24, freq="MS"),
                      "sales": range(24)}).to_excel(xw, sheet_name="data", index=False)
    at = app()
    at.session_state[UPLOAD] = (buf.getvalue(), "book.xlsx")
    at.run()
    assert len(at.error) == 1 and "about" in at.error[0].value   # first sheet has no dates: says which sheet
    skey = next(w.key for w in at.selectbox if w.key.startswith("sheet_"))
    at.selectbox(key=skey).set_value("data").run()
    assert not at.exception and not at.error
    assert metrics(at)["Frequency"] == "MS" and at.session_state["dataset"].n_series == 1


def test_sample_stock_outs_treated_as_missing_and_interpolated():
    at = app()
    at.selectbox(key="data_zeros").set_value("missing")
    at.selectbox(key="data_fill").set_value("interpolate").run()
    assert not at.exception and not at.error
    ds = at.session_state["dataset"]
    assert not (ds.df["y"] == 0).any() and not ds.df["y"].isna().any() and len(ds.df) == 13_152
    assert any("Change log: 366 change(s)" in c.value for c in at.caption)   # 183 zeros removed, 183 filled


def test_back_to_the_sample_after_an_upload():
    at = app()
    at.session_state[UPLOAD] = (MESSY, "filialen.csv")
    at.run()
    assert metrics(at)["Series"] == "2"
    next(b for b in at.button if b.label == "Back to the sample data").click().run()
    assert not at.exception and metrics(at)["Series"] == "12"
    assert at.session_state["dataset"].source == "store_sales_daily.csv"


def test_column_names_are_inert_markdown_in_what_ingest_did():
    """A column named like a Markdown image or a javascript: link is shown as text, never rendered."""
    pixel, link = "![x](http://host/pixel.png)", "[click](javascript:alert(1))"
    rows = "".join(f"2024-01-{d:02d},{d},note {d},other {d}\n" for d in range(1, 29))
    at = app()
    at.session_state[UPLOAD] = (f"date,units,{pixel},{link}\n{rows}".encode(), "hostile.csv")
    at.run()
    assert not at.exception and not at.error
    shown = "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)
    assert "pixel" in shown and "javascript" in shown            # the names are shown …
    assert pixel not in shown and link not in shown              # … but never as Markdown syntax
    assert "http://" not in shown and "](javascript" not in shown


@pytest.mark.slow
@pytest.mark.parametrize("case", ["xlsx_member_expands_to_600MB", "parquet_struct_column", "date_year_9999"])
def test_hostile_upload_gets_one_clean_error(case, tmp_path):
    """The worst files of the hostile catalog, uploaded to the app: one readable error, no exception page."""
    from tests.hostile import catalog

    c = next(c for c in catalog() if c.name == case)
    path = c.make(tmp_path)
    at = app()
    at.session_state[UPLOAD] = (path.read_bytes(), path.name)
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    for want in c.stderr:
        assert want.lower().replace("'", "") in errors[0].lower().replace("\\", "").replace("'", ""), errors[0]
    assert "unexpected problem" not in errors[0]
