"""`python -m forecasting models`: the listing, the settings, the README's table, a closed pipe."""
import subprocess
import sys
from pathlib import Path

from forecasting.cli import main
from forecasting.commands.models import markdown_table

ROOT = Path(__file__).resolve().parents[2]


def test_readme_models_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- models table")
    start = readme.index("\n", start) + 1
    end = readme.index("<!-- end of models table -->")
    assert readme[start:end].strip() == markdown_table(), \
        "regenerate it: python -m forecasting models --markdown"


def test_settings_listing_names_each_setting_with_its_doc(capsys):
    assert main(["models", "--settings", "ets"]) == 0
    out = capsys.readouterr().out
    assert "ets.ic=aicc  information criterion that picks the form; one of aicc, aic, bic" in out
    assert main(["models", "--settings", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly():
    r = subprocess.run(f"{sys.executable} -m forecasting models --settings | head -1", shell=True, cwd=ROOT,
                       capture_output=True, text=True)
    assert r.stdout.startswith("naive: no settings") and r.stderr == ""
