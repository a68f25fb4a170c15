"""While the database cannot be reached, every page answers in time with a Dutch page of its
own, never the server's bare "Internal Server Error": 503 with Retry-After where the page
needs the database, and the error pages (400, 404, 413, 429, 500) rendered without it.

The app here points at a database that is not there, on both kinds: a SQLite file in a folder
that does not exist, and a PostgreSQL port where nothing listens (connection refused). Both
tests run in every run; neither needs the suite's own database.
"""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy.exc import OperationalError

from referrals import security
from referrals.extensions import db as _db
from referrals.models import Referral, Role
from tests.conftest import make_app
from tests.helpers import text

UNREACHABLE = {
    "sqlite": "sqlite:////nonexistent-folder-for-tests/referrals.sqlite",
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:9/referrals",
}
LIMIT_SECONDS = 2.0
HEADINGS = {
    400: "Ongeldig verzoek",
    404: "Pagina niet gevonden",
    413: "Wat je stuurde is te groot",
    429: "Te veel pogingen",
    500: "Er ging iets mis",
    503: "De dienst is even niet beschikbaar",
}


def heading(response) -> str:
    found = re.search(r"<h1>(.*?)</h1>", text(response), re.S)
    return found.group(1).strip() if found else ""


@pytest.fixture(params=sorted(UNREACHABLE))
def away(request):
    """`away(**overrides)`: an app whose database cannot be reached, of the kind in the id."""
    made = []

    def _make(**overrides):
        app = make_app(UNREACHABLE[request.param], **overrides)

        def boom():
            raise RuntimeError("a bug in a view")

        app.add_url_rule("/test-only/boom", "test_boom", boom)
        made.append(app)
        return app

    yield _make
    for app in made:
        with app.app_context():
            _db.engine.dispose()


@pytest.fixture
def away_app(away):
    return away()


@pytest.fixture
def logged_in_cookie(away_app):
    """The cookie a logged-in user's browser holds: a token the server must look up."""
    serializer = away_app.session_interface.get_signing_serializer(away_app)
    return serializer.dumps({"_user_id": "a-session-token-of-someone", "_fresh": True})


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_logged_in_user_gets_the_dutch_503_on_every_page(away_app, logged_in_cookie):
    client = away_app.test_client()
    client.set_cookie(away_app.config["SESSION_COOKIE_NAME"], logged_in_cookie)
    pages = ["/", "/referrals", "/triage", "/offers", "/uptake", "/admin/users", "/no-such-page"]
    for page in pages:
        response, took = timed(lambda page=page: client.get(page))
        assert response.status_code == 503, (page, response.status_code)
        assert response.headers["Retry-After"] == "30"
        assert heading(response) == HEADINGS[503], page
        assert '<html lang="nl">' in text(response)
        assert took < LIMIT_SECONDS, (page, took)
        # No user name or menu: nothing was loaded to show them.
        assert 'class="site-header__user"' not in text(response)
        assert response.headers["Cache-Control"] == "no-store"


def test_error_pages_render_without_the_database(away, monkeypatch):
    monkeypatch.setattr(security, "PUBLIC_ENDPOINTS", security.PUBLIC_ENDPOINTS | {"test_boom"})
    # As in production: an exception in a view is answered by the 500 page, not re-raised.
    client = away(PROPAGATE_EXCEPTIONS=False).test_client()
    checked = away(WTF_CSRF_ENABLED=True).test_client()
    limited = away(LOGIN_RATE_LIMIT="1 per minute", RATELIMIT_ENABLED=True).test_client()
    limited.post("/login", data={"email": "a@example.nl", "password": "x"})

    answers = {
        404: client.get("/no-such-page"),
        500: client.get("/test-only/boom"),
        400: checked.post("/login", data={"email": "a@example.nl", "password": "x"}),
        413: client.post("/login", data={"email": "a" * 400_000}),
        429: limited.post("/login", data={"email": "a@example.nl", "password": "x"}),
    }
    for code, response in answers.items():
        assert response.status_code == code, (code, response.status_code)
        assert heading(response) == HEADINGS[code], code
        assert '<html lang="nl">' in text(response)


def test_liveness_answers_and_readiness_says_not_ready(away_app):
    client = away_app.test_client()
    live, took = timed(lambda: client.get("/health"))
    assert (live.status_code, live.json["status"], took < LIMIT_SECONDS) == (200, "ok", True)
    ready, took = timed(lambda: client.get("/ready"))
    assert ready.status_code == 503
    assert ready.json["status"] == "unavailable"
    assert ready.json["database"].startswith("unavailable")
    assert took < LIMIT_SECONDS


def test_a_commit_that_fails_answers_503_and_keeps_nothing(app, client, db, login_as, monkeypatch):
    """The view did its work, then the commit point found the database gone: the answer is
    the 503 page, not the success redirect, and the change is not there."""
    from tests import factories
    from tests.test_intake import form_data

    world = factories.make_world(therapist=False)
    login_as(user=world.gp)
    before = db.session.query(Referral).count()

    def gone():
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production
    monkeypatch.setattr(_db.session, "commit", gone)
    response = client.post(f"/referrals/new/{world.programme.id}", data=form_data())
    monkeypatch.undo()

    assert response.status_code == 503
    assert heading(response) == HEADINGS[503]
    assert db.session.query(Referral).count() == before


def test_a_logged_in_users_error_pages_render_without_a_query(
    app, client, db, login_as, monkeypatch
):
    """With the database up: rendering a 403 or 404 for a logged-in user sends no SQL (after
    the refused-access row), so the same page renders when the database is what failed."""
    import sqlalchemy as sa

    from referrals import errors

    login_as(Role.REFERRER)
    client.get("/")
    during_render: list[str] = []
    rendering = []
    original = errors.render_template

    def render_and_watch(*args, **kwargs):
        rendering.append(True)
        try:
            return original(*args, **kwargs)
        finally:
            rendering.pop()

    def listener(conn, cursor, statement, *args):
        if rendering:
            during_render.append(statement)

    monkeypatch.setattr(errors, "render_template", render_and_watch)
    sa.event.listen(_db.engine, "before_cursor_execute", listener)
    try:
        forbidden = client.get("/admin/users")
        missing = client.get("/referrals/999999")
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", listener)
    assert (forbidden.status_code, missing.status_code) == (403, 404)
    assert during_render == []
