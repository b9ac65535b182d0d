"""User strings (series ids, column, model and file names, messages quoting them) made inert where SalesCast
shows them: in plotly labels, in HTML (the report) and in Markdown (the app). One place for each."""
from __future__ import annotations

import html
import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|:<>~$&=\"'])")


def esc(text: Any) -> str:
    """A user string for a plotly label (titles, legends and hover text accept some HTML tags).

    ``<``, ``>`` and ``&`` are enough to stop tags; plotly shows ``&quot;`` literally, so quotes stay."""
    return html.escape(str(text), quote=False)


def html_escape(text: Any) -> str:
    """A user string for an HTML document, in text or in an attribute."""
    return html.escape(str(text), quote=True)


def md_escape(text: Any) -> str:
    """A user string (a column name, an id, a message quoting them) made inert inside Markdown: no image,
    link, autolink (``http\\://``), emphasis, HTML or directive; line breaks become spaces."""
    flat = " ".join(str(text).splitlines())
    return _MD_SPECIAL.sub(r"\\\1", flat)
