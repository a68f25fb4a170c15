"""Fixtures: a test database per run (SQLite file or a fresh PostgreSQL database), each test
inside one outer transaction that is rolled back, and `login_as(role)`.

TEST_DATABASE_URL chooses PostgreSQL: a new database is created next to the one in the URL
and dropped afterwards. Unset or empty: a SQLite file in a temporary folder.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_migrate import upgrade

from referrals import create_app
from referrals.extensions import db as _db
from referrals.extensions import limiter
from referrals.models import Organisation, OrganisationKind, Role, User
from referrals.services.therapists.geo import load_pc4_areas
from tests import factories

ROOT = Path(__file__).resolve().parent.parent


def pytest_report_header(config):
    return f"database: {'PostgreSQL' if os.environ.get('TEST_DATABASE_URL') else 'SQLite'}"


def pytest_sessionfinish(session, exitstatus):
    """In CI (FAIL_ON_SKIP=1) a skipped test fails the run: nothing may silently not run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("FAIL_ON_SKIP") and skipped:
        reporter.write_line(f"FAIL_ON_SKIP: {skipped} test(s) were skipped", red=True)
        session.exitstatus = 1


class DatabaseFactory:
    """Creates throw-away databases of the kind this run tests, and drops them at the end."""

    def __init__(self, tmp_dir: Path):
        self.server_url = os.environ.get("TEST_DATABASE_URL") or None
        self.tmp_dir = tmp_dir
        self.created: list[str] = []

    @property
    def is_postgres(self) -> bool:
        return self.server_url is not None

    def new(self, label: str) -> str:
        if not self.is_postgres:
            return f"sqlite:///{self.tmp_dir / f'{label}-{uuid.uuid4().hex[:8]}.sqlite'}"
        name = f"referrals_test_{label}_{uuid.uuid4().hex[:10]}"
        with self._admin_engine().connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return sa.make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def _admin_engine(self) -> sa.Engine:
        url = sa.make_url(self.server_url).set(drivername="postgresql+psycopg")
        return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def drop_all(self) -> None:
        if not self.created:
            return
        with self._admin_engine().connect() as conn:
            for name in self.created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"))
    yield factory
    factory.drop_all()


class IsolatedClient(FlaskClient):
    """Each request gets its own app context (its own `g` and database session), as in
    production, even while the test itself holds an app context for its factories."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_app(database_url: str, **overrides):
    app = create_app("testing", overrides={"SQLALCHEMY_DATABASE_URI": database_url, **overrides})
    app.test_client_class = IsolatedClient
    return app


def rebind_limiter(app) -> None:
    """The limiter is one object, and binding it to an app sets its storage: after a test
    made an app that counts in Redis (or in a Redis that is away), bind it to `app`'s
    in-memory storage again, so that later tests count, and reset, as before. Binding does not
    clear the mark a Redis that went away left (counting then goes to the fallback store until
    a request finds Redis back), so that is cleared here too."""
    limiter.init_app(app)
    limiter._storage_dead = False


@pytest.fixture(scope="session")
def app(databases):
    """One app for the run, its database brought to the newest migration."""
    app = make_app(databases.new("main"))
    with app.app_context():
        upgrade()
        load_pc4_areas()  # about a second per run; matching and tests/test_geo.py need them
        _db.session.commit()
        _db.session.remove()
        _db.engine.dispose()
    yield app
    with app.app_context():
        _db.engine.dispose()


@contextmanager
def session_on(connection: sa.Connection) -> Iterator[None]:
    """Bind the app's scoped session to `connection`: the session's commits only release
    savepoints inside whatever transaction the connection holds."""
    factory = _db.session.session_factory
    factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    _db.session.remove()
    try:
        yield
    finally:
        _db.session.remove()
        factory.configure(bind=None, join_transaction_mode="conditional_savepoint")


@pytest.fixture(scope="module")
def module_connection(app):
    """One connection and transaction for a whole test module, rolled back at its end.

    A module that sets `SHARED_DATABASE = True` builds its data once (a module-scoped fixture
    inside `session_on(module_connection)`), and each of its tests runs in a savepoint of that
    transaction, rolled back after the test: see `db`.
    """
    with app.app_context():
        connection = _db.engine.connect()
        outer = connection.begin()
        try:
            yield connection
        finally:
            if outer.is_active:
                outer.rollback()
            connection.close()


@pytest.fixture
def reporting_today(monkeypatch):
    """The product's clock for the fixed reporting periods (services.uptake.periods) frozen
    at 7 December 2026: the last complete month is November 2026, whenever the test runs."""
    from referrals.models import base

    day = date(2026, 12, 7)
    monkeypatch.setattr(base, "local_today", lambda: day)
    return day


@pytest.fixture
def db(app, request):
    """The database, with everything this test writes rolled back afterwards.

    Views commit as they would in production; those commits only release savepoints
    inside the outer transaction opened here (or, in a SHARED_DATABASE module, inside a
    savepoint of the module's transaction).
    """
    shared = getattr(request.module, "SHARED_DATABASE", False)
    with app.app_context():
        if shared:
            connection = request.getfixturevalue("module_connection")
            outer = connection.begin_nested()
        else:
            connection = _db.engine.connect()
            outer = connection.begin()
        try:
            limiter.reset()
            with session_on(connection):
                yield _db
        finally:
            if outer.is_active:
                outer.rollback()
            if not shared:
                connection.close()


@dataclass
class StatementLog:
    """The SQL statements sent while it was listening."""

    statements: list[str] = field(default_factory=list)

    @property
    def selects(self) -> list[str]:
        """Reads only: audit rows and other writes are INSERTs and UPDATEs."""
        return [s for s in self.statements if s.lstrip().upper().startswith("SELECT")]


@pytest.fixture
def queries(db):
    """`with queries() as log:` records every statement sent inside the block."""

    @contextmanager
    def _listen() -> Iterator[StatementLog]:
        log = StatementLog()

        def listener(conn, cursor, statement, *args):
            log.statements.append(statement)

        sa.event.listen(_db.engine, "before_cursor_execute", listener)
        try:
            yield log
        finally:
            sa.event.remove(_db.engine, "before_cursor_execute", listener)

    return _listen


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def login_as(app, db, client):
    """Log a client in as a new user of `role` (or as `user=`), skipping the login pages.

    Uses the test's `client` unless another is passed as `into=`.
    """

    def _login(role: Role | str | None = None, *, user: User | None = None, into=None) -> User:
        from flask_login import login_user

        from referrals.services.accounts import login_sessions

        if user is None:
            user = factories.make_user(role=Role(role))
        with app.test_request_context():
            login_sessions.start_session(user)
            _db.session.commit()
            token = user.session_token
            login_user(user)
        with (into or client).session_transaction() as flask_session:
            flask_session["_user_id"] = token
            flask_session["_fresh"] = True
        return user

    return _login


@pytest.fixture
def organisation(db) -> Organisation:
    return factories.make_organisation(kind=OrganisationKind.MUNICIPALITY)
