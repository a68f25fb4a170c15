"""Readiness (/ready) for a load balancer: the database answers with its schema at the newest
migration, and Redis answers when the rate limits are kept there. Liveness (/health) asks
neither. On a database of its own, so that no test transaction holds a lock."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade

from referrals.extensions import db
from tests.conftest import make_app, rebind_limiter


@pytest.fixture
def own_app(app, databases):
    made = []

    def _make(**overrides):
        app = make_app(databases.new("ready"), **overrides)
        with app.app_context():
            upgrade()
            db.session.remove()
        made.append(app)
        return app

    yield _make
    rebind_limiter(app)
    for made_app in made:
        with made_app.app_context():
            db.engine.dispose()
            if "referrals.readiness_engine" in made_app.extensions:
                made_app.extensions["referrals.readiness_engine"].dispose()


def test_ready_when_the_database_is_at_the_newest_migration(own_app):
    response = own_app().test_client().get("/ready")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_not_ready_while_a_migration_is_missing(own_app):
    app = own_app()
    with app.app_context():
        downgrade(revision="-1")
        db.session.remove()
    response = app.test_client().get("/ready")
    assert response.status_code == 503
    assert response.json["database"] == "migrations not at head"
    assert response.headers["Retry-After"] == "5"
    assert app.test_client().get("/health").status_code == 200


def test_redis_counts_when_it_keeps_the_rate_limits(own_app):
    up = own_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/14").test_client().get("/ready")
    assert (up.status_code, up.json["redis"]) == (200, "ok")
    away = own_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0")
    response = away.test_client().get("/ready")
    assert response.status_code == 503
    assert response.json["redis"].startswith("unavailable")
    assert response.json["database"] == "ok"


def test_logging_in_goes_on_while_redis_is_away(own_app):
    """The rate limits fall back to counting in each process; the login locks live in the
    database and hold regardless."""
    app = own_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0", RATELIMIT_ENABLED=True)
    client = app.test_client()
    response = client.post("/login", data={"email": "nobody@example.nl", "password": "wrong"})
    assert response.status_code == 200
    # The login page again, with what was typed kept: the password check ran, no 500.
    assert 'value="nobody@example.nl"' in response.get_data(as_text=True)
