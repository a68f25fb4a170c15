"""The database cut away and back, under gunicorn with several workers.

PostgreSQL: the app servers reach the database through a small TCP proxy (tests/tcp_proxy.py)
that can drop every connection and refuse new ones, or freeze (accept, forward nothing).
SQLite: another process holds the database's write lock, which is how a SQLite database is
"away" for the app (a backup tool or a stuck process), so requests wait for the busy timeout.

Each test counts what a user would notice: every answer is a Dutch page in time (503 with
Retry-After while the database is away), nothing is saved half, and the same server answers
normally again once the database is back, without a restart.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import time

import pytest
import requests
import sqlalchemy as sa
from flask_migrate import upgrade

from referrals.extensions import db
from referrals.models import Participant, Referral
from referrals.services.therapists.geo import load_pc4_areas
from tests import factories
from tests.conftest import make_app
from tests.live_server import LiveServer, session_for
from tests.tcp_proxy import TcpProxy
from tests.test_live_races import referral_form

POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))
# The pages a logged-in GP opens, and the public ones.
PAGES = ["/", "/referrals", "/account/password", "/no-such-page"]
ANSWER_WITHIN = 2.0  # seconds, while the database is away
DUTCH_503 = "<h1>De dienst is even niet beschikbaar</h1>"
# SQLite waits this long for a lock before it gives up (DB_BUSY_TIMEOUT_MS in the test).
SQLITE_BUSY_MS = 500


@pytest.fixture(scope="module")
def fault_app(databases):
    app = make_app(databases.new("faults"))
    with app.app_context():
        upgrade()
        load_pc4_areas()
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def world(fault_app):
    with fault_app.test_request_context():
        made = factories.make_world(name=secrets.token_hex(3), therapist=False)
        db.session.commit()
        return made.gp.id, made.programme.id


def gp_session(app, server, gp_id):
    from referrals.models import User

    with app.test_request_context():
        return session_for(server, app, db.session.get(User, gp_id))


def timed_get(http, url):
    started = time.monotonic()
    response = http.get(url, allow_redirects=False, timeout=30)
    return response, time.monotonic() - started


def count_referrals(app, programme_id, last_name) -> int:
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Referral)
            .join(Participant)
            .where(Referral.programme_id == programme_id, Participant.last_name == last_name)
        )
        db.session.remove()
        return count


def assert_normal(http, server):
    for page in PAGES:
        response, _ = timed_get(http, server.url + page)
        assert response.status_code in (200, 404), (page, response.status_code)
        assert response.status_code != 404 or page == "/no-such-page"


def assert_away(http, server, within: float, ready: int = 503):
    """Every page a Dutch 503 with Retry-After (the 404 too: the user cannot be loaded), in
    time; the liveness check still 200, the readiness check `ready`."""
    for page in PAGES:
        response, took = timed_get(http, server.url + page)
        assert response.status_code == 503, (page, response.status_code, response.text[:200])
        assert response.headers.get("Retry-After") == "30", page
        assert DUTCH_503 in response.text, page
        assert took < within, (page, took)
    anonymous = requests.Session()
    live, took = timed_get(anonymous, server.url + "/health")
    assert (live.status_code, took < within) == (200, True)
    readiness, took = timed_get(anonymous, server.url + "/ready")
    assert readiness.status_code == ready
    assert took < within, took


def submit(http, server, programme_id, last_name):
    form = referral_form(last_name=last_name, submission_key=secrets.token_urlsafe(24))
    return http.post(
        f"{server.url}/referrals/new/{programme_id}", data=form, allow_redirects=False, timeout=30
    )


def back_to_normal(http, server, tries: int = 20) -> int:
    """Requests until every page answers normally; returns how many answers were 503 first
    (a pooled connection the cut left behind is noticed by its first use)."""
    failures = 0
    for _ in range(tries):
        statuses = [timed_get(http, server.url + page)[0].status_code for page in PAGES]
        if 503 not in statuses:
            return failures
        failures += statuses.count(503)
    raise AssertionError(f"still unavailable after {tries} rounds")


if POSTGRES:

    @pytest.fixture(scope="module")
    def proxied(fault_app, tmp_path_factory):
        with fault_app.app_context():
            url = db.engine.url
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        log = tmp_path_factory.mktemp("gunicorn") / "server.log"
        server = LiveServer(through, workers=3, threads=2, log_path=log)
        yield proxy, server
        server.stop()
        proxy.close()

    def test_a_cut_database_gives_dutch_503s_in_time_and_recovers(fault_app, world, proxied):
        proxy, server = proxied
        gp_id, programme_id = world
        http = gp_session(fault_app, server, gp_id)
        assert_normal(http, server)
        ready = requests.get(server.url + "/ready", timeout=5)
        assert (ready.status_code, ready.json()["database"]) == (200, "ok")

        proxy.cut()
        try:
            assert_away(http, server, ANSWER_WITHIN)
            last_name = f"Tijdensstoring{secrets.token_hex(3)}"
            during = submit(http, server, programme_id, last_name)
            assert during.status_code == 503
        finally:
            proxy.restore()

        back_to_normal(http, server)
        # What was refused during the cut is not there, half or whole; saving works again.
        assert count_referrals(fault_app, programme_id, last_name) == 0
        after = submit(http, server, programme_id, last_name)
        assert after.status_code == 302, after.text[:300]
        assert count_referrals(fault_app, programme_id, last_name) == 1

    def test_a_frozen_database_makes_readiness_say_no_within_two_seconds(fault_app, world, proxied):
        proxy, server = proxied
        anonymous = requests.Session()
        proxy.freeze()
        try:
            answers = []
            for _ in range(3):
                ready, took = timed_get(anonymous, server.url + "/ready")
                answers.append((ready.status_code, took < ANSWER_WITHIN))
            live, took = timed_get(anonymous, server.url + "/health")
        finally:
            proxy.restore()
        assert answers == [(503, True)] * 3
        assert (live.status_code, took < ANSWER_WITHIN) == (200, True)
        # Back: ready again without a restart (the checks stuck on the freeze have ended).
        deadline = time.monotonic() + 15
        while requests.get(server.url + "/ready", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "not ready again after the freeze"
            time.sleep(0.2)

else:

    @pytest.fixture(scope="module")
    def sqlite_server(fault_app, tmp_path_factory):
        with fault_app.app_context():
            url = db.engine.url.render_as_string(hide_password=False)
            path = db.engine.url.database
        log = tmp_path_factory.mktemp("gunicorn") / "server.log"
        server = LiveServer(
            url, workers=3, threads=2, log_path=log, env={"DB_BUSY_TIMEOUT_MS": str(SQLITE_BUSY_MS)}
        )
        yield path, server
        server.stop()

    def test_a_locked_sqlite_database_gives_dutch_503s_and_recovers(
        fault_app, world, sqlite_server
    ):
        path, server = sqlite_server
        gp_id, programme_id = world
        http = gp_session(fault_app, server, gp_id)
        assert_normal(http, server)

        holder = sqlite3.connect(path, timeout=5, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            # A waiting request gives up after the busy timeout, then answers at once.
            # Readiness reads, which the lock does not stop (WAL): contention, not an outage.
            assert_away(http, server, SQLITE_BUSY_MS / 1000 + ANSWER_WITHIN, ready=200)
            last_name = f"Tijdensslot{secrets.token_hex(3)}"
            during = submit(http, server, programme_id, last_name)
            assert during.status_code == 503
        finally:
            holder.rollback()
            holder.close()

        assert back_to_normal(http, server) == 0
        assert count_referrals(fault_app, programme_id, last_name) == 0
        after = submit(http, server, programme_id, last_name)
        assert after.status_code == 302, after.text[:300]
        assert count_referrals(fault_app, programme_id, last_name) == 1
        assert re.fullmatch(r"/referrals/\d+", after.headers["Location"])
