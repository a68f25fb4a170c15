"""When the database does not answer in time: a Dutch 503 with Retry-After, rolled back, and
rendered without the database. On PostgreSQL every connection carries a connect timeout, a
statement_timeout and a lock_timeout (config DB_*), so a locked table holds a request for at
most the lock timeout instead of as long as the lock lasts."""

from __future__ import annotations

import os
import threading
import time

import pytest
from flask_migrate import upgrade
from sqlalchemy.exc import OperationalError

from referrals.extensions import db as _db
from referrals.models import Role
from referrals.services.referrals import lists
from tests.conftest import make_app
from tests.helpers import text

POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))


def test_a_database_error_is_a_dutch_503_without_touching_the_database(
    client, db, login_as, monkeypatch
):
    login_as(Role.REFERRER)

    def away(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(lists, "referral_list", away)
    client.get("/")  # the session is loaded
    response = client.get("/referrals")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "<h1>De dienst is even niet beschikbaar</h1>" in text(response)
    assert 'class="site-header__user"' not in text(response)


if POSTGRES:

    @pytest.fixture
    def strict_app(databases):
        """An app with the production timeouts (a short lock timeout) on a database of its own,
        so that another connection can lock a table that no test transaction holds."""
        app = make_app(
            databases.new("timeouts"),
            DB_STATEMENT_TIMEOUT_MS=5000,
            DB_LOCK_TIMEOUT_MS=300,
            DB_CONNECT_TIMEOUT=5,
        )
        with app.app_context():
            upgrade()
            yield app
            _db.session.remove()
            _db.engine.dispose()

    def test_postgresql_connections_carry_the_timeouts(strict_app):
        with _db.engine.connect() as connection:
            shown = connection.exec_driver_sql("SHOW statement_timeout").scalar()
            locks = connection.exec_driver_sql("SHOW lock_timeout").scalar()
        assert (shown, locks) == ("5s", "300ms")
        connect_args = strict_app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
        assert connect_args["connect_timeout"] == 5

    @pytest.fixture
    def worker_app(databases):
        app = make_app(
            databases.new("workertimeouts"),
            DB_WORKER_STATEMENT_TIMEOUT_MS=240000,
            DB_WORKER_LOCK_TIMEOUT_MS=20000,
        )
        with app.app_context():
            upgrade()
            _db.session.remove()
        yield app
        with app.app_context():
            _db.engine.dispose()

    @pytest.mark.parametrize(
        "command", ["send-notifications", "render-reports", "expire-offers", "refresh-figures"]
    )
    def test_worker_commands_get_the_longer_worker_timeouts(worker_app, command):
        with worker_app.app_context():
            with _db.engine.connect() as connection:
                before = connection.exec_driver_sql("SHOW statement_timeout").scalar()
            result = worker_app.test_cli_runner().invoke(args=[command])
            assert result.exit_code == 0, result.output
            with _db.engine.connect() as connection:
                shown = connection.exec_driver_sql("SHOW statement_timeout").scalar()
                locks = connection.exec_driver_sql("SHOW lock_timeout").scalar()
            _db.session.remove()
            _db.engine.dispose()
        assert before != "4min"
        assert (shown, locks) == ("4min", "20s")

    def test_a_locked_table_answers_503_within_the_lock_timeout(strict_app):
        client = strict_app.test_client()
        data = {"email": "nobody@example.org", "password": "x" * 12}
        answered = {}

        def log_in():
            started = time.monotonic()
            answered["response"] = client.post("/login", data=data)
            answered["seconds"] = time.monotonic() - started

        with _db.engine.connect() as other:
            other.exec_driver_sql("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            request = threading.Thread(target=log_in)
            request.start()
            request.join(timeout=3)
            answered_while_locked = not request.is_alive()
            other.rollback()  # releases the lock, also when the request still waits on it
        request.join()
        assert answered_while_locked, "the request waited for the lock instead of timing out"
        response, waited = answered["response"], answered["seconds"]
        # Retry-After: ours, or the login's rate limiter's (which sets its own window).
        assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
        assert "<h1>De dienst is even niet beschikbaar</h1>" in text(response)
        assert waited < 2, waited
        # The lock gone, the same app answers again: the failed request was rolled back.
        assert client.post("/login", data=data).status_code == 200
