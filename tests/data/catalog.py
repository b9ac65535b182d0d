"""A catalog of messy and broken sales files, each with its expected outcome.

Every case builds its file in memory (bytes + a file name), so the catalog needs no fixtures on disk.
``expect`` holds fields of the ``validate --json`` summary (and ``note``/``warning`` substrings);
``error`` a substring of the one-line error the analyst must see."""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd


@dataclass
class Case:
    name: str
    make: Callable[[], tuple[bytes, str]]
    kwargs: dict = field(default_factory=dict)
    expect: dict = field(default_factory=dict)
    error: str | None = None


def text(s: str, name: str = "f.csv", enc: str = "utf-8") -> Callable[[], tuple[bytes, str]]:
    return lambda: (s.encode(enc), name)


def daily_csv(sep: str = ",", n: int = 10, stores=("A", "B")) -> str:
    lines = [sep.join(["date", "store", "units"])]
    for s in stores:
        for i, d in enumerate(pd.date_range("2024-01-01", periods=n, freq="D")):
            lines.append(sep.join([d.strftime("%Y-%m-%d"), s, str(i + 1)]))
    return "\n".join(lines) + "\n"


def frame_bytes(kind: str, df: pd.DataFrame | dict[str, pd.DataFrame]) -> Callable[[], tuple[bytes, str]]:
    def make():
        buf = io.BytesIO()
        if kind == "parquet":
            df.to_parquet(buf, index=False)
            return buf.getvalue(), "f.parquet"
        with pd.ExcelWriter(buf, engine="openpyxl") as xw:
            for sheet, frame in df.items():
                frame.to_excel(xw, sheet_name=sheet, index=False)
        return buf.getvalue(), "f.xlsx"
    return make


def title_workbook() -> tuple[bytes, str]:
    buf = io.BytesIO()
    df = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=5), "units": [1, 2, 3, 4, 5]})
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        df.to_excel(xw, sheet_name="report", index=False, startrow=3)
        xw.sheets["report"]["A1"] = "Sales report, January"
    return buf.getvalue(), "report.xlsx"


def zip_bytes() -> tuple[bytes, str]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("sales.csv", daily_csv())
    return buf.getvalue(), "sales.zip"


def gzip_bytes() -> tuple[bytes, str]:
    import gzip
    return gzip.compress(daily_csv().encode()), "sales.csv.gz"


MONTHLY = pd.DataFrame({"month": pd.date_range("2020-01-01", periods=24, freq="MS"),
                        "region": ["North", "South"] * 12, "sales": np.arange(24, dtype=float)})
TWO_SHEETS = {"notes": pd.DataFrame({"text": ["read me"]}),
              "data": pd.DataFrame({"date": pd.date_range("2024-01-01", periods=6, freq="D"),
                                    "units": [1, 2, 3, 4, 5, 6]})}
TX = "date,store,units\n" + "".join(f"2024-01-0{d},S1,{u}\n" for d in range(1, 4) for u in (1, 2, 3))
WIDE = "date,Apples,Pears,Plums\n" + "".join(f"2024-01-{d:02d},{d},{2 * d},{3 * d}\n" for d in range(1, 8))

CASES: list[Case] = [
    # ---- readable files --------------------------------------------------------------------------
    Case("comma", text(daily_csv()), expect=dict(n_series=2, n_rows=20, freq="D", total=110.0, id_cols=["store"])),
    Case("semicolon_decimal_comma",
         text("Datum;Filiale;Umsatz\n01.02.2024;Köln;1.234,50\n02.02.2024;Köln;2.000,25\n03.02.2024;Köln;10,25\n"
              "01.02.2024;Bonn;5,5\n02.02.2024;Bonn;6,5\n03.02.2024;Bonn;7\n"),
         expect=dict(n_series=2, total=3264.0, date_col="Datum", target_col="Umsatz", start="2024-02-01T00:00:00",
                     note="decimal comma")),
    Case("tsv", text(daily_csv("\t"), "f.tsv"), expect=dict(n_series=2, n_rows=20)),
    Case("pipe", text(daily_csv("|")), expect=dict(n_series=2, n_rows=20)),
    Case("utf8_bom", lambda: (b"\xef\xbb\xbf" + daily_csv().encode(), "f.csv"), expect=dict(date_col="date", n_rows=20)),
    Case("utf16_bom_tab", lambda: (daily_csv("\t").encode("utf-16"), "f.txt"),
         expect=dict(n_series=2, n_rows=20, note="utf-16")),
    Case("utf16le_no_bom", lambda: (daily_csv().encode("utf-16-le"), "f.csv"), expect=dict(n_series=2, n_rows=20)),
    Case("cp1252_umlauts",
         text("date;store;units\n" + "".join(f"2024-01-0{d};Köln Süd;{d}\n2024-01-0{d};Düsseldorf;{d}\n" for d in range(1, 8)),
              enc="cp1252"),
         expect=dict(n_series=2, total=56.0, note="encoding")),
    Case("cp1252_french_ids", text("date;magasin;ventes\n" + "".join(f"2024-01-0{d};Crème brûlée;{d}\n2024-01-0{d};Café;{d}\n"
                                                                  for d in range(1, 5)), enc="cp1252"),
         expect=dict(series=["Café", "Crème brûlée"])),
    Case("cp1250_polish_ids", text("date;sklep;sprzedaż\n" + "".join(f"2024-01-0{d};Łódź;{d}\n2024-01-0{d};Gdańsk;{d}\n"
                                                                  for d in range(1, 5)), enc="cp1250"),
         expect=dict(series=["Gdańsk", "Łódź"], target_col="sprzedaż")),
    Case("currency_thousands",
         text('date,sku,revenue\n2024-01-01,A,"$1,200.50"\n2024-01-02,A,"$ 800.00"\n2024-01-03,A,"$2,000.00"\n'),
         expect=dict(total=4000.5, note="currency")),
    Case("na_tokens",
         text("date,units\n2024-01-01,1\n2024-01-02,N/A\n2024-01-03,-\n2024-01-04,null\n2024-01-05,5\n"),
         expect=dict(missing_values=3, n_rows=5, total=6.0)),
    Case("day_first", text("date,units\n13/01/2024,1\n14/01/2024,2\n15/01/2024,3\n"),
         expect=dict(start="2024-01-13T00:00:00", freq="D", note="day-first")),
    Case("month_first", text("date,units\n01/13/2024,1\n01/14/2024,2\n01/15/2024,3\n"),
         expect=dict(start="2024-01-13T00:00:00", note="month-first")),
    Case("year_month", text("month,sales\n2023-11,1\n2023-12,2\n2024-01,3\n"), expect=dict(freq="MS", n_rows=3)),
    Case("year_mon_names", text("period,sales\n1998 Jan,1\n1998 Feb,2\n1998 Mar,3\n"),
         expect=dict(freq="MS", start="1998-01-01T00:00:00")),
    Case("quarters", text("quarter,sales\n1998 Q1,1\n1998 Q2,2\n1998 Q3,3\n1998 Q4,4\n1999 Q1,5\n"),
         expect=dict(freq="QS-JAN", start="1998-01-01T00:00:00", end="1999-01-01T00:00:00")),
    Case("yyyymmdd_ints", text("day,units\n20240101,1\n20240102,2\n20240103,3\n"),
         expect=dict(freq="D", start="2024-01-01T00:00:00")),
    Case("excel_serials", text("date,units\n45292,1\n45293,2\n45294,3\n"),
         expect=dict(start="2024-01-01T00:00:00", freq="D")),
    Case("timezones_daily", text("ts,units\n2024-03-30T00:00:00+01:00,1\n2024-03-31T00:00:00+01:00,2\n"
                                 "2024-04-01T00:00:00+02:00,3\n"),
         expect=dict(freq="D", start="2024-03-30T00:00:00", n_rows=3)),
    Case("timezones_hourly_utc", text("ts,units\n2024-03-31T00:00:00+01:00,1\n2024-03-31T01:00:00+01:00,2\n"
                                      "2024-03-31T03:00:00+02:00,3\n2024-03-31T04:00:00+02:00,4\n"),
         expect=dict(freq="h", missing_dates=0, start="2024-03-30T23:00:00", note="UTC")),
    Case("hourly", text("time,units\n" + "".join(f"2024-01-01 {h:02d}:00:00,{h}\n" for h in range(24))),
         expect=dict(freq="h", n_rows=24)),
    Case("business_days", text("date,units\n" + "".join(f"{d.date()},1\n" for d in pd.bdate_range("2024-01-01", periods=15))),
         expect=dict(freq="B", missing_dates=0)),
    Case("weekly_monday", text("week,units\n" + "".join(f"{d.date()},1\n" for d in pd.date_range("2024-01-01", periods=8, freq="W-MON"))),
         expect=dict(freq="W-MON", n_rows=8)),
    Case("yearly", text("year,units\n2001,1\n2002,2\n2003,3\n2005,5\n"), expect=dict(freq="YS-JAN", missing_dates=1)),
    Case("month_end_dates", text("date,sales\n2024-01-31,1\n2024-02-29,2\n2024-03-31,3\n"),
         expect=dict(freq="MS", start="2024-01-01T00:00:00", note="moved")),
    Case("transactions_summed", text(TX), expect=dict(n_rows=3, duplicates=6, total=18.0, note="combined")),
    Case("transactions_mean", text(TX), kwargs=dict(agg="mean"), expect=dict(n_rows=3, total=6.0)),
    Case("one_series_flag", text(daily_csv()), kwargs=dict(id_cols=[]),
         expect=dict(n_series=1, n_rows=10, duplicates=10, total=110.0, id_cols=[])),
    Case("coarser_weekly", text(daily_csv(n=14)), kwargs=dict(freq="W-SUN"),
         expect=dict(freq="W-SUN", n_rows=4, total=210.0)),
    Case("wide", text(WIDE), expect=dict(layout="wide", n_series=3, n_rows=21, total=168.0)),
    Case("wide_with_shared_covariate", text("date,Apples,Pears,promo\n" + "".join(f"2024-01-0{d},{d},{d},{d % 2}\n"
                                                                            for d in range(1, 8))),
         expect=dict(layout="wide", n_series=2, covariates=["promo"], total=56.0)),
    Case("one_date_per_series_with_freq", text("date,store,units\n2024-01-01,A,1\n2024-01-02,B,2\n2024-01-03,C,3\n"),
         kwargs=dict(freq="D", id_cols=["store"]), expect=dict(n_series=3, freq="D")),
    Case("year_and_month_columns", text("Year,Month,region,sales\n" + "".join(f"{y},{m},R{r},{m}\n" for y in (2023, 2024)
                                                                        for m in range(1, 13) for r in (1, 2))),
         expect=dict(freq="MS", n_rows=48, n_series=2, date_col="Year-Month", covariates=[], note="combined into")),
    Case("year_and_month_names", text("jahr;monat;absatz\n2024;Jan;1\n2024;Feb;2\n2024;Mar;3\n"),
         expect=dict(freq="MS", n_rows=3, start="2024-01-01T00:00:00")),
    Case("year_and_quarter_columns", text("year,quarter,units\n2023,1,1\n2023,2,2\n2023,3,3\n2023,4,4\n2024,1,5\n"),
         expect=dict(freq="QS-JAN", n_rows=5)),
    Case("year_and_week_columns", text("year,week,units\n2024,1,1\n2024,2,2\n2024,3,3\n"),
         expect=dict(freq="W-MON", n_rows=3, start="2024-01-01T00:00:00")),
    Case("dates_as_columns", text("store,product,2024-01,2024-02,2024-03,2024-04\nA,x,1,2,3,4\nB,x,5,6,7,8\n"),
         expect=dict(n_series=2, freq="MS", n_rows=8, total=36.0, id_cols=["store", "product"], note="date columns")),
    Case("year_rows_month_columns", text("Jahr;Jan;Feb;Mär;Apr;Mai;Jun;Jul;Aug;Sep;Okt;Nov;Dez\n"
                                         "2023;1;2;3;4;5;6;7;8;9;10;11;12\n2024;13;14;15;16;17;18;19;20;21;22;23;24\n"),
         expect=dict(n_series=1, freq="MS", n_rows=24, total=300.0, start="2023-01-01T00:00:00", note="month columns")),
    Case("gaps_counted", text("date,units\n2024-01-01,1\n2024-01-02,1\n2024-01-05,1\n2024-01-06,1\n"),
         expect=dict(missing_dates=2, n_rows=4)),
    Case("footer_total_row", text("date,units\n" + "".join(f"2024-01-{d:02d},1\n" for d in range(1, 31)) + "Total,30\n"),
         expect=dict(n_rows=30, total=30.0, warning="left out")),
    Case("quoted_newline", text('date,store,units\n2024-01-01,"Main\nStreet",1\n2024-01-02,"Main\nStreet",2\n'),
         expect=dict(n_series=1, total=3.0)),
    Case("title_lines_above_header", text("Sales export 2024\nGenerated by ERP\n\n" + daily_csv()),
         expect=dict(n_rows=20, note="above the header")),
    Case("repeated_and_blank_names", text("date,units,units,\n2024-01-01,1,2,\n2024-01-02,1,2,\n2024-01-03,1,2,\n"),
         expect=dict(covariates=["units_2"], note="repeats")),
    Case("yes_no_flags", text("date,units,promo\n2024-01-01,1,yes\n2024-01-02,2,no\n2024-01-03,3,Yes\n"),
         expect=dict(covariates=["promo"], note="yes/no")),
    Case("ean_codes_are_ids", text("date,ean,units\n" + "".join(f"2024-01-0{d},400638133393{k},1\n" for d in range(1, 5)
                                                                for k in (1, 2))),
         expect=dict(n_series=2, id_cols=["ean"])),
    Case("xlsx_title_rows", title_workbook, expect=dict(n_rows=5, total=15.0, note="above the header")),
    Case("xlsx_sheet_choice", frame_bytes("excel", TWO_SHEETS), kwargs=dict(sheet="data"),
         expect=dict(n_rows=6, total=21.0)),
    Case("parquet", frame_bytes("parquet", MONTHLY), expect=dict(n_series=2, freq="MS", total=276.0, id_cols=["region"])),
    Case("numeric_store_ids", text("date,store_id,units\n" + "".join(f"2024-01-0{d},{s},1\n" for d in range(1, 6) for s in (1, 2, 3))),
         expect=dict(n_series=3, id_cols=["store_id"])),
    # ---- broken files: one clear error -------------------------------------------------------------
    Case("empty", text(""), error="is empty"),
    Case("whitespace_only", text("  \n\n"), error="is empty"),
    Case("header_only", text("date,units\n"), error="no data rows"),
    Case("no_header_line", text("2024-01-01,5\n2024-01-02,6\n2024-01-03,7\n"), error="looks like data"),
    Case("single_row", text("date,units\n2024-01-01,3\n"), error="single data row"),
    Case("binary", lambda: (bytes(range(256)) * 4, "f.csv"), error="binary"),
    Case("zip", zip_bytes, error="zip archive"),
    Case("gzip", gzip_bytes, error="gzip"),
    Case("ragged", text("date,units\n2024-01-01,1\n2024-01-02,2,7\n2024-01-03,3\n"), error="line 3"),
    Case("infinity", text("date,units\n2024-01-01,1\n2024-01-02,inf\n2024-01-03,3\n"), error="infinite"),
    Case("no_date_column", text("store,units\nA,1\nB,2\nC,3\n"), error="no column holds dates"),
    Case("no_numeric_column", text("date,store\n2024-01-01,A\n2024-01-02,B\n"), error="no numeric column"),
    Case("all_missing_target", text("date,units\n2024-01-01,\n2024-01-02,N/A\n2024-01-03,-\n"), error="no values"),
    Case("text_target", text("date,units\n2024-01-01,a\n2024-01-02,b\n2024-01-03,c\n"), kwargs=dict(target_col="units"),
         error="not numeric"),
    Case("unknown_column", text(daily_csv()), kwargs=dict(date_col="when"), error="no column 'when'"),
    Case("many_bad_dates", text("date,units\n2024-01-01,1\nfoo,2\nbar,3\n2024-01-04,4\n"), error="not readable dates"),
    Case("finer_freq", text("month,sales\n2023-11,1\n2023-12,2\n2024-01,3\n"), kwargs=dict(freq="D"),
         error="cannot be made finer"),
    Case("unknown_sheet", frame_bytes("excel", TWO_SHEETS), kwargs=dict(sheet="2025"), error="no sheet '2025'"),
    Case("xlsx_named_but_text", lambda: (daily_csv().encode(), "f.xlsx"), error="not an excel workbook"),
    Case("one_date_per_series", text("date,store,units\n2024-01-01,A,1\n2024-01-02,B,2\n2024-01-03,C,3\n"),
         kwargs=dict(id_cols=["store"]), error="single date"),
    Case("old_xls", lambda: (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "f.xls"), error=".xls"),
]
