"""Logs: JSON lines with a request id and the user's id, one line per request, and never a
participant's data. A whole referral, from the GP's form (also with a mistake in it) through
the coordinator's search and offer to the therapist's accept and the e-mail worker, and a
database error quoting the participant, is searched for every value the GP typed."""

from __future__ import annotations

import io
import json
import logging
import re
import sqlite3

import pytest
import sqlalchemy as sa

from referrals.models import Offer, Role
from referrals.services.referrals import lists
from tests import factories
from tests.helpers import PASSWORD, log_in_through_pages, text
from tests.test_intake import form_data

FIRST, LAST = "Sanne", "Wijnandsdochter"
BSN = "111222333"
PHONE = "06 12345678"
EMAIL = "sanne.wijnands@example.nl"
BIRTH = "1985-06-15"
DESCRIPTION = "Slaapt slecht sinds een reorganisatie op het werk."
TYPED = (FIRST, LAST, BSN, PHONE, PHONE.replace(" ", ""), EMAIL, BIRTH, DESCRIPTION)


@pytest.fixture
def logs():
    """What the product's own handler writes, at INFO, into a buffer instead of stderr."""
    root = logging.getLogger()
    (handler,) = [h for h in root.handlers if getattr(h, "_referrals_handler", False)]
    buffer = io.StringIO()
    previous_stream, previous_level = handler.setStream(buffer), root.level
    root.setLevel(logging.INFO)
    yield buffer
    handler.setStream(previous_stream)
    root.setLevel(previous_level)


def records(buffer: io.StringIO) -> list[dict]:
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is one JSON object


def request_line(buffer: io.StringIO, request_id: str) -> dict:
    (line,) = [
        r
        for r in records(buffer)
        if r["logger"] == "referrals.request" and r["request_id"] == request_id
    ]
    return line


def referral_form(**changes) -> dict:
    """The intake tests' form, with values that can be searched for in the log."""
    typed = dict(first_name=FIRST, last_name=LAST, date_of_birth=BIRTH, bsn=BSN, phone=PHONE)
    return form_data(**{**typed, "email": EMAIL, "description": DESCRIPTION, **changes})


def test_a_whole_referral_leaves_no_participant_data_in_the_logs(
    app, db, login_as, logs, monkeypatch
):
    world = factories.make_world()
    db.session.commit()
    gp_client, coordinator_client, therapist_client = (app.test_client() for _ in range(3))

    # The GP logs in through the pages, makes a mistake in the BSN, then sends the form.
    assert log_in_through_pages(gp_client, world.gp).status_code == 302
    wrong = gp_client.post(f"/referrals/new/{world.programme.id}", data=referral_form(bsn="123"))
    assert wrong.status_code == 200 and 'id="bsn-error"' in text(wrong)
    sent = gp_client.post(f"/referrals/new/{world.programme.id}", data=referral_form())
    assert sent.status_code == 302
    referral_id = int(re.search(r"/referrals/(\d+)", sent.headers["Location"]).group(1))
    assert gp_client.get(f"/referrals/{referral_id}").status_code == 200

    # The coordinator searches by the participant's name, opens the referral and offers it.
    login_as(user=world.coordinator, into=coordinator_client)
    found = coordinator_client.get(f"/referrals?q={LAST}")
    assert LAST in text(found)
    assert coordinator_client.get(f"/referrals/{referral_id}").status_code == 200
    offered = coordinator_client.post(
        f"/triage/{referral_id}/offer", data={"therapist_id": world.therapist.id}
    )
    assert offered.status_code == 302
    offer = db.session.scalars(sa.select(Offer).where(Offer.referral_id == referral_id)).one()

    # The therapist accepts; the e-mail worker sends what the steps queued.
    login_as(user=world.therapist_user, into=therapist_client)
    assert therapist_client.post(f"/offers/{offer.id}/accept").status_code == 302
    worker = app.test_cli_runner().invoke(args=["send-notifications"])
    assert worker.exit_code == 0, worker.output

    # A database error that quotes the participant, as PostgreSQL's messages do.
    def failing_list(*args, **kwargs):
        quoted = f"Key (last_name)=({LAST}) already exists"
        raise sa.exc.IntegrityError("INSERT INTO x VALUES (?)", {"v": LAST}, Exception(quoted))

    monkeypatch.setattr(lists, "referral_list", failing_list)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    failed = coordinator_client.get(f"/referrals?q={BSN}")
    assert failed.status_code == 500

    written = logs.getvalue()
    assert [value for value in TYPED if value in written] == []
    assert world.gp.email not in written and PASSWORD not in written

    # What is there: a line per request, the error with its traceback and type.
    lines = records(logs)
    assert len([r for r in lines if r["logger"] == "referrals.request"]) >= 10
    (error,) = [r for r in lines if r["level"] == "ERROR"]
    assert "sqlalchemy.exc.IntegrityError: [Exception] (message left out)" in error["exc_info"]
    assert "in failing_list" in error["exc_info"]
    # The error page names the request, so that the administrator finds these lines.
    assert error["request_id"] == failed.headers["X-Request-ID"]
    assert f"<code>{error['request_id']}</code>" in text(failed)
    search = request_line(logs, found.headers["X-Request-ID"])
    assert (search["route"], search["endpoint"], search["status"]) == (
        "/referrals",
        "intake.index",
        200,
    )
    assert search["user_id"] == world.coordinator.id and search["method"] == "GET"
    assert search["duration_ms"] > 0
    submitted = request_line(logs, sent.headers["X-Request-ID"])
    assert (submitted["method"], submitted["status"], submitted["user_id"]) == (
        "POST",
        302,
        world.gp.id,
    )


def test_a_proxys_request_id_is_kept_and_an_unsafe_one_replaced(app, client, db, logs, monkeypatch):
    alone = client.get("/health", headers={"X-Request-ID": "client-chosen-0001"})
    assert alone.headers["X-Request-ID"] != "client-chosen-0001"  # no proxy: a client's id
    monkeypatch.setitem(app.config, "PROXY_COUNT", 1)
    kept = client.get("/health", headers={"X-Request-ID": "lb-7f3a9c2e-0001"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a9c2e-0001"
    assert request_line(logs, "lb-7f3a9c2e-0001")["endpoint"] == "main.health"
    for unsafe in ("<script>alert(1)</script>", "short", "a" * 65, "id with spaces"):
        replaced = client.get("/health", headers={"X-Request-ID": unsafe})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"])
    assert "<script>" not in logs.getvalue()


def test_every_record_during_a_request_carries_its_id_and_the_user(client, db, logs, monkeypatch):
    user = factories.make_user(role=Role.REFERRER)
    db.session.commit()
    log_in_through_pages(client, user)
    original = lists.referral_list

    def logging_list(*args, **kwargs):
        logging.getLogger("referrals.somewhere").warning("something happened")
        return original(*args, **kwargs)

    monkeypatch.setattr(lists, "referral_list", logging_list)
    response = client.get("/referrals")
    assert response.status_code == 200
    (warning,) = [r for r in records(logs) if r["message"] == "something happened"]
    assert (warning["request_id"], warning["user_id"], warning["level"]) == (
        response.headers["X-Request-ID"],
        user.id,
        "WARNING",
    )


def test_a_database_error_outside_a_request_is_logged_without_its_values(app, db, logs):
    """A driver's message quoting the value (as PostgreSQL's duplicate-key DETAIL does),
    wrapped by SQLAlchemy with the statement and its parameters, as a worker logs it."""
    logger = logging.getLogger("referrals.worker")
    statement = "INSERT INTO participants (last_name) VALUES (?)"
    try:
        try:
            raise sqlite3.IntegrityError(f"Key (last_name)=({LAST}) already exists")
        except sqlite3.Error as driver_error:
            raise sa.exc.IntegrityError(statement, {"v": LAST}, driver_error) from driver_error
    except sa.exc.DatabaseError:
        logger.exception("a round failed")
    (line,) = [r for r in records(logs) if r["message"] == "a round failed"]
    assert LAST not in logs.getvalue()
    assert line["request_id"] is None and line["user_id"] is None
    assert f"(message left out) [SQL: {statement}]" in line["exc_info"]
    assert "sqlite3.IntegrityError: [None] (message left out)" in line["exc_info"]


def test_development_writes_plain_lines(app):
    from flask import Flask

    from referrals.logs import configure_logging

    text_app = Flask("plain")
    text_app.config.update(LOG_FORMAT="text", LOG_LEVEL="INFO")
    try:
        configure_logging(text_app)
        root = logging.getLogger()
        (handler,) = [h for h in root.handlers if getattr(h, "_referrals_handler", False)]
        buffer = io.StringIO()
        handler.setStream(buffer)
        logging.getLogger("referrals.x").info("plain")
        assert re.search(r" INFO \[None\] referrals\.x: plain$", buffer.getvalue().strip())
    finally:
        configure_logging(app)  # the suite's app: JSON again


def test_no_exception_message_reaches_the_log(app, client, db, login_as, logs, monkeypatch):
    """Any message may quote a value: int() of a typed name, a KeyError's key."""

    def failing_list(*args, **kwargs):
        int(f"{FIRST} {LAST}")

    monkeypatch.setattr(lists, "referral_list", failing_list)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    login_as(Role.COORDINATOR)
    assert client.get("/referrals").status_code == 500
    (error,) = [r for r in records(logs) if r["level"] == "ERROR"]
    assert "builtins.ValueError: (message left out)" in error["exc_info"]
    assert FIRST not in logs.getvalue() and LAST not in logs.getvalue()


def test_gunicorns_own_lines_lose_their_query_string():
    from referrals.logs import WithoutQueryStrings

    record = logging.LogRecord(
        "gunicorn.error",
        logging.ERROR,
        "x",
        1,
        "Error handling request %s %s",
        ("GET", f"/referrals?q={LAST}&page=2"),
        None,
    )
    WithoutQueryStrings().filter(record)
    assert record.getMessage() == "Error handling request GET /referrals?…"


def test_the_request_line_counts_the_pages_statements_and_their_time(
    client, db, login_as, logs, queries
):
    """`queries` is every statement the page sent (the same count as the test's own listener),
    and `db_ms` the part of `duration_ms` spent in them: the bench splits a page's time with it."""
    login_as(Role.COORDINATOR)
    with queries() as log:
        page = client.get("/referrals")
    line = request_line(logs, page.headers["X-Request-ID"])
    assert line["queries"] == len(log.statements) > 0
    assert 0 < line["db_ms"] < line["duration_ms"]
