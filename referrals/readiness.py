"""Readiness for a load balancer: the database answers within a second, its schema is at the
newest migration, and Redis answers when rate limits are kept there.

The checks run in a thread of their own and the answer waits at most READY_TIMEOUT for them,
so a database that accepts connections but does not answer (frozen, or a network that drops
packets) gives "not ready" in time instead of a request that hangs. One check per process runs
at a time: while one is still waiting for a frozen database, the next asks answer "not ready"
at once instead of piling up threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import redis
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask, current_app

READY_TIMEOUT = 1.0  # seconds
_running = threading.Lock()


@dataclass
class Readiness:
    ready: bool
    checks: dict[str, str] = field(default_factory=dict)


def migration_heads(app: Flask) -> frozenset[str]:
    """The newest revisions in migrations/ (read once per process)."""
    heads = app.extensions.get("referrals.migration_heads")
    if heads is None:
        directory = app.extensions["migrate"].directory
        heads = frozenset(ScriptDirectory(directory).get_heads())
        app.extensions["referrals.migration_heads"] = heads
    return heads


def _database_check(app: Flask) -> str:
    engine = app.extensions["referrals.readiness_engine"]
    with engine.connect() as connection:
        query = sa.text("SELECT version_num FROM alembic_version")
        versions = set(connection.execute(query).scalars())
    return "ok" if versions == set(migration_heads(app)) else "migrations not at head"


def _redis_check(app: Flask) -> str | None:
    uri = app.config.get("RATELIMIT_STORAGE_URI") or ""
    if not uri.startswith(("redis://", "rediss://")):
        return None
    client = redis.Redis.from_url(uri, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def readiness_engine(app: Flask) -> sa.Engine:
    """A small engine of its own, without a pool: a connection stuck on a frozen database is
    never handed to a request, and the requests' pool never blocks the check. Connections time
    out after the shortest connect timeout the driver allows (2 s for PostgreSQL)."""
    with app.app_context():
        from referrals.extensions import db

        url = db.engine.url
    options: dict = {"poolclass": sa.pool.NullPool}
    if url.get_backend_name() == "postgresql":
        options["connect_args"] = {
            "connect_timeout": 2,
            "options": "-c statement_timeout=1000 -c lock_timeout=500",
        }
    # SQLite: a read, which a write lock held elsewhere does not stop (WAL): waiting for a lock
    # is contention, which the busy timeout handles, not a reason to take the server out.
    return sa.create_engine(url, **options)


def check(app: Flask | None = None) -> Readiness:
    app = app or current_app._get_current_object()
    if "referrals.readiness_engine" not in app.extensions:
        app.extensions["referrals.readiness_engine"] = readiness_engine(app)
    if not _running.acquire(blocking=False):
        return Readiness(False, {"database": "an earlier check is still waiting"})
    results: dict[str, str] = {}

    def run() -> None:
        try:
            results["database"] = _database_check(app)
        except Exception as error:  # noqa: BLE001 - any failure means "not ready"
            results["database"] = f"unavailable ({type(error).__name__})"
        try:
            redis_state = _redis_check(app)
        except Exception as error:  # noqa: BLE001
            redis_state = f"unavailable ({type(error).__name__})"
        if redis_state is not None:
            results["redis"] = redis_state
        _running.release()

    thread = threading.Thread(target=run, name="readiness-check", daemon=True)
    thread.start()
    thread.join(READY_TIMEOUT)
    if thread.is_alive():
        return Readiness(False, {"database": f"no answer within {READY_TIMEOUT:g} s"})
    checks = dict(results)
    return Readiness(all(state == "ok" for state in checks.values()), checks)
