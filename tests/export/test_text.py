"""User strings made inert where they are shown: plotly labels, HTML, Markdown."""
from forecasting.export.text import esc, html_escape, md_escape


def test_plot_labels_stop_tags_and_keep_quotes():
    assert esc('<b>"Köln" & co</b>') == '&lt;b&gt;"Köln" &amp; co&lt;/b&gt;'


def test_html_escapes_quotes_for_attributes():
    assert html_escape("\"x' onload=alert(1)") == "&quot;x&#x27; onload=alert(1)"


def test_markdown_makes_no_image_link_or_emphasis():
    shown = md_escape("![x](http://host/pixel.png)\n**bold** <b>")
    assert "\n" not in shown
    assert "![" not in shown and "](" not in shown and "**" not in shown and "<b>" not in shown
    # every escaped character comes back when the backslashes are removed
    assert shown.replace("\\", "") == "![x](http://host/pixel.png) **bold** <b>"
