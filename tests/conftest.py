import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# two cores: keep BLAS and torch from oversubscribing them while tests run
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# workspaces (the app's and the store tests') go to a throwaway folder, never the user's ~/.salescast
# (each pytest-xdist worker gets its own, even though it inherits the controller's environment)
if "SALESCAST_HOME" not in os.environ or os.environ.get("PYTEST_XDIST_WORKER"):
    import tempfile

    os.environ["SALESCAST_HOME"] = tempfile.mkdtemp(prefix="salescast-test-home-")
os.environ.pop("SALESCAST_WORKSPACE", None)
os.environ.pop("SALESCAST_DATABASE_URL", None)   # the store tests choose their database (SQLite, PostgreSQL)


def pytest_collection_modifyitems(config, items):
    # the browser tests' files run longest (minutes each): start them first, so that with pytest-xdist
    # (whole files per worker) the short files fill the other workers instead of all waiting on one at the end
    items.sort(key=lambda item: 0 if "e2e" in item.nodeid.split("/")[:2] else 1)
    try:
        import torch
        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs CUDA; none on this machine")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture
def root() -> Path:
    return ROOT
