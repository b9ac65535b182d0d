"""One shared check of the model protocol and of the declared settings, for every registered model."""
import pytest

from forecasting.models.registry import MODELS
from tests.models.protocol import check_protocol

NETWORKS = {n for n, s in MODELS.items() if s.capabilities.needs_torch}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in NETWORKS else n for n in MODELS])
def test_protocol(name):
    check_protocol(name)


def test_registry_does_not_import_heavy_modules():
    import subprocess
    import sys

    code = ("import sys; from forecasting.models.registry import MODELS, model_names; model_names();"
            "print(any(m in sys.modules for m in ('statsmodels', 'torch')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"
