"""The store's database: SQLAlchemy Core tables, one code path for SQLite and PostgreSQL.

SQLite (the default) lives in the workspace folder (``salescast.db``, WAL mode so the app's pages read
while a run writes); ``SALESCAST_DATABASE_URL`` (e.g. ``postgresql+psycopg://user:pw@host/db``) points
every workspace at one PostgreSQL database instead. The schema is created on first use and migrated
by :func:`migrate` (``schema_version`` holds the version); times are Unix seconds (float), documents
are JSON text, so both databases hold exactly the same values.
"""
from __future__ import annotations

import os
import threading
import time

import sqlalchemy as sa

SCHEMA_VERSION = 2      # 2: the overrides audit trail (overrides, override_cells)
metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied", sa.Float, nullable=False),
)

workspaces = sa.Table(
    "workspaces", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(200)),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("state", sa.Text),                 # JSON: the app's current dataset and settings
)

datasets = sa.Table(
    "datasets", metadata,
    sa.Column("workspace_id", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),   # hash of raw file + mapping + treatments
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("raw_hash", sa.String(64), nullable=False),
    sa.Column("raw_bytes", sa.BigInteger, nullable=False),
    sa.Column("mapping", sa.Text, nullable=False),
    sa.Column("treatments", sa.Text, nullable=False),
    sa.Column("n_rows", sa.BigInteger, nullable=False),
    sa.Column("n_series", sa.Integer, nullable=False),
    sa.Column("freq", sa.String(32)),
    sa.Column("created", sa.Float, nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("workspace_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),          # backtest | forecast
    sa.Column("name", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),        # queued running finished stopped interrupted failed
    sa.Column("dataset_id", sa.String(64), nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("models", sa.Text, nullable=False),
    sa.Column("n_series", sa.Integer, nullable=False),
    sa.Column("series_done", sa.Integer, nullable=False, default=0),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    sa.Column("heartbeat", sa.Float),
    sa.Column("host", sa.String(200)),
    sa.Column("pid", sa.Integer),
    sa.Column("pid_started", sa.Float),
    sa.Column("device", sa.Text),
    sa.Column("versions", sa.Text),
    sa.Column("timings", sa.Text),
    sa.Column("info", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("stop_requested", sa.Boolean, nullable=False, default=False),
)

run_parts = sa.Table(
    "run_parts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), nullable=False, index=True),
    sa.Column("what", sa.String(64), nullable=False),          # "local" or a global model's name
    sa.Column("series", sa.Text, nullable=False),               # JSON list of series ids
    sa.Column("n_series", sa.Integer, nullable=False),
    sa.Column("folder", sa.Text, nullable=False),               # relative to the workspace folder
    sa.Column("created", sa.Float, nullable=False),
)

run_fallbacks = sa.Table(
    "run_fallbacks", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), nullable=False, index=True),
    sa.Column("unique_id", sa.Text, nullable=False),
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
)

# The HTTP API's jobs (POST /v1/jobs), kept so that GET /v1/jobs/{id} still answers after the service restarts.
api_jobs = sa.Table(
    "api_jobs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("workspace_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),          # forecast | backtest
    sa.Column("status", sa.String(16), nullable=False),        # queued running done failed cancelled
    sa.Column("created", sa.String(40), nullable=False),       # ISO 8601, as the API shows it
    sa.Column("finished", sa.String(40)),
    sa.Column("progress", sa.Text),                             # JSON
    sa.Column("result", sa.Text),                               # JSON: the response body of a done job
    sa.Column("error", sa.Text),                                # JSON
    sa.Column("host", sa.String(200)),                          # the service that ran it
    sa.Column("pid", sa.Integer),
    sa.Column("pid_started", sa.Float),
    sa.Column("updated", sa.Float, nullable=False),
)

# The forecast cycle's judgmental overrides: one row per change (who, when, what, why) and the cells it set
# (old and new value). Append-only: the store has no function that updates or deletes them, and the
# database refuses both (triggers below) while the run they belong to exists.
overrides = sa.Table(
    "overrides", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(32), nullable=False, index=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("username", sa.String(200), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),          # cell | range | series | aggregate
    sa.Column("target", sa.Text, nullable=False),                # a series id, or "store=North", or "total"
    sa.Column("selector", sa.Text, nullable=False),              # JSON {id column: value} of an aggregate
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("date_from", sa.String(40), nullable=False),
    sa.Column("date_to", sa.String(40), nullable=False),
    sa.Column("mode", sa.String(8), nullable=False),             # value | percent
    sa.Column("amount", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("n_cells", sa.Integer, nullable=False),
    sa.Column("old_total", sa.Float, nullable=False),
    sa.Column("new_total", sa.Float, nullable=False),
)

override_cells = sa.Table(
    "override_cells", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("override_id", sa.Integer, nullable=False, index=True),
    sa.Column("run_id", sa.String(32), nullable=False, index=True),
    sa.Column("unique_id", sa.Text, nullable=False),
    sa.Column("ds", sa.String(40), nullable=False),              # ISO date-time
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("old", sa.Float, nullable=False),
    sa.Column("new", sa.Float, nullable=False),
)

_APPEND_ONLY_SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t}
       BEGIN SELECT RAISE(ABORT, 'the override audit trail is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t}
       WHEN EXISTS (SELECT 1 FROM runs WHERE runs.id = OLD.run_id)
       BEGIN SELECT RAISE(ABORT, 'the override audit trail is append-only'); END""",
]
_APPEND_ONLY_PG = [
    """CREATE OR REPLACE FUNCTION salescast_append_only() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'UPDATE' OR EXISTS (SELECT 1 FROM runs WHERE runs.id = OLD.run_id) THEN
           RAISE EXCEPTION 'the override audit trail is append-only';
         END IF;
         RETURN OLD;
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
       FOR EACH ROW EXECUTE FUNCTION salescast_append_only()""",
]
for _t in (overrides, override_cells):
    for _stmt in _APPEND_ONLY_SQLITE:
        sa.event.listen(_t, "after_create", sa.DDL(_stmt.format(t=_t.name)).execute_if(dialect="sqlite"))
    for _stmt in _APPEND_ONLY_PG:
        sa.event.listen(_t, "after_create", sa.DDL(_stmt.format(t=_t.name)).execute_if(dialect="postgresql"))

# version -> DDL statements bringing the schema from version-1 to version. New tables need none:
# create_all (in migrate) adds every missing table, with its triggers, to an older database.
MIGRATIONS: dict[int, list[str]] = {2: []}

_engines: dict[str, sa.engine.Engine] = {}
_lock = threading.Lock()


def database_url(folder: str | os.PathLike | None) -> str:
    url = os.environ.get("SALESCAST_DATABASE_URL", "").strip()
    if url:
        return url
    if folder is None:
        raise ValueError("a folder is needed for the SQLite database")
    return f"sqlite:///{os.path.join(os.fspath(folder), 'salescast.db')}"


def engine_for(url: str) -> sa.engine.Engine:
    """One engine (connection pool) per database URL and process; schema created/migrated on first use."""
    with _lock:
        eng = _engines.get(url)
        if eng is not None:
            return eng
        if url.startswith("sqlite"):
            eng = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

            @sa.event.listens_for(eng, "connect")
            def _pragmas(dbapi_conn, _record):  # noqa: ANN001
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()
        else:
            if url.startswith("postgresql://"):
                url_ = "postgresql+psycopg://" + url[len("postgresql://"):]
            else:
                url_ = url
            eng = sa.create_engine(url_, pool_pre_ping=True)
        migrate(eng)
        _engines[url] = eng
        return eng


def dispose_all() -> None:
    """Close every pooled connection (tests, and a worker process after it starts)."""
    with _lock:
        for eng in _engines.values():
            eng.dispose()
        _engines.clear()


def migrate(eng: sa.engine.Engine) -> int:
    """Create the tables if missing and apply the migrations after the stored version. Returns the version."""
    for attempt in range(3):      # two processes creating the schema at once: the loser retries
        try:
            metadata.create_all(eng, checkfirst=True)
            break
        except sa.exc.DBAPIError:
            if attempt == 2:
                raise
            time.sleep(0.2)
    with eng.begin() as conn:
        current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
        if current is None:
            try:
                conn.execute(schema_version.insert().values(version=SCHEMA_VERSION, applied=time.time()))
            except sa.exc.IntegrityError:
                pass
            return SCHEMA_VERSION
        if current > SCHEMA_VERSION:
            from forecasting.errors import SalesCastError

            raise SalesCastError(f"the workspace database has schema version {current}, newer than this "
                                 f"SalesCast ({SCHEMA_VERSION}); upgrade SalesCast")
        for v in range(current + 1, SCHEMA_VERSION + 1):
            for stmt in MIGRATIONS.get(v, []):
                conn.execute(sa.text(stmt))
            conn.execute(schema_version.insert().values(version=v, applied=time.time()))
    return SCHEMA_VERSION
