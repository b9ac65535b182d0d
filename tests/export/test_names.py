"""Download file names never carry paths, control characters or reserved names."""
import re

import pytest

from forecasting.export.names import download_name, safe_filename

SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.[a-z0-9]+$")


@pytest.mark.parametrize("text, expected", [
    ("../../etc/passwd", "etc_passwd.csv"),
    ("CON", "salescast_CON.csv"),
    ("", "salescast.csv"),
    ("my sales.csv", "my_sales.csv"),
    ('a"b\r\nContent-Type: x', "a_b_Content-Type_x.csv"),
])
def test_safe_filename(text, expected):
    assert safe_filename(text, "csv") == expected


@pytest.mark.parametrize("text", ["..", "/", "\\\\server\\share", "x" * 500, "\x00\x1f", ".bashrc", "été <script>"])
def test_always_safe(text):
    name = safe_filename(text, "html")
    assert SAFE.match(name), name
    assert len(name) <= 130 and ".." not in name


def test_download_name_from_source():
    assert download_name("C:\\data\\Q3 sales.xlsx", "forecast", "csv") == "Q3_sales_forecast.csv"
    assert download_name("", "report", "pdf") == "report.pdf"
    assert download_name("../x/<b>.csv", "chart: total", "png") == "b_chart_total.png"
