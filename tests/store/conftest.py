import sys

import pytest

from tests.store.pg import Cluster


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = Cluster().start()
    if cluster.url is None:
        print(f"\nPostgreSQL store tests skipped: {cluster.reason}", file=sys.stderr)
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, monkeypatch):
    """Run a store test on SQLite (the default) and on a real PostgreSQL server."""
    from forecasting.store import db

    if request.param == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        if cluster.url is None:
            pytest.skip(f"PostgreSQL not available: {cluster.reason}")
        monkeypatch.setenv("SALESCAST_DATABASE_URL", cluster.url)
    else:
        monkeypatch.delenv("SALESCAST_DATABASE_URL", raising=False)
    yield request.param
    db.dispose_all()


@pytest.fixture(scope="session")
def store_sales():
    from forecasting.data.ingest import load
    from tests.conftest import ROOT

    path = ROOT / "sample_data" / "store_sales_daily.csv"
    return path, load(str(path))
