"""The outbox: notifications are written with the change, delivered over real SMTP (aiosmtpd on
127.0.0.1), retried when delivery fails, never sent twice, and carry no health details."""

from __future__ import annotations

import os
import re
import signal
import socket
from dataclasses import dataclass, field
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import url_for

from referrals.models import Notification, NotificationKind, OrganisationKind, Role, utcnow
from referrals.services import notifications
from referrals.services.notifications import _claim, deliver_due, enqueue, retry_delay
from referrals.services.notifications.texts import notification_text
from referrals.services.programmes import ProgrammeDetails, create_programme
from referrals.services.referrals.intake import ParticipantDetails, ReferralDetails, submit_referral
from tests import factories

SENDER = "noreply@runningtherapie.invalid"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        return self.message.get_content().replace("\r\n", "\n")  # SMTP sends CRLF lines


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def inbox(app, db, monkeypatch):
    """A real SMTP server on a free local port; the app sends to it."""
    received = Inbox()
    port = free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "MAIL_USE_TLS", False)
    monkeypatch.setitem(app.config, "MAIL_USERNAME", None)
    monkeypatch.setitem(app.config, "MAIL_DEFAULT_SENDER", SENDER)
    try:
        yield received
    finally:
        controller.stop()


def outbox() -> list[Notification]:
    from referrals.extensions import db

    return list(db.session.scalars(sa.select(Notification).order_by(Notification.id)))


def new_notification(db, recipient=None, subject="New referral to triage", body=None):
    recipient = recipient or factories.make_user(role=Role.COORDINATOR)
    body = body or "Één nieuwe verwijzing wacht op triage.\n\nhttp://localhost/referrals/1"
    notification = enqueue(NotificationKind.NEW_REFERRAL, recipient, subject, body)
    db.session.commit()
    return notification


def test_a_notification_is_delivered_once_over_smtp(db, inbox):
    user = factories.make_user(role=Role.COORDINATOR, email="coordinator@example.org")
    body = "Één nieuwe verwijzing wacht op triage.\n\nLog in: http://localhost/referrals/7"
    notification = new_notification(db, user, subject="New referral to triage", body=body)

    assert deliver_due() == (1, 0)

    [mail] = inbox.messages
    assert mail.mail_from == SENDER
    assert mail.rcpt_tos == ["coordinator@example.org"]
    assert mail.message["From"] == SENDER
    assert mail.message["To"] == "coordinator@example.org"
    assert mail.message["Subject"] == "New referral to triage"
    created = notification.created_at.strftime("%Y%m%d%H%M%S.%f")
    assert mail.message["Message-ID"] == (
        f"<notification-{notification.id}.{created}@runningtherapie.invalid>"
    )
    assert mail.body.strip() == body
    db.session.refresh(notification)
    assert notification.sent_at is not None
    assert notification.attempts == 1
    assert notification.last_error is None
    assert notification.sending_since is None

    assert deliver_due() == (0, 0)
    assert len(inbox.messages) == 1


def test_a_rolled_back_change_leaves_no_notification(db, inbox):
    user = factories.make_user(role=Role.COORDINATOR)
    db.session.commit()

    savepoint = db.session.begin_nested()
    enqueue(NotificationKind.NEW_REFERRAL, user, "New referral to triage", "Look at it.")
    db.session.flush()
    assert len(outbox()) == 1  # written in the change's transaction...
    savepoint.rollback()

    assert outbox() == []  # ...and gone with it
    assert deliver_due() == (0, 0)
    assert inbox.messages == []


def test_a_failed_delivery_is_retried_and_not_lost(app, db, inbox, monkeypatch):
    notification = new_notification(db)
    smtp_port = app.config["MAIL_PORT"]
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there

    before = utcnow()
    assert deliver_due() == (0, 1)

    db.session.refresh(notification)
    assert notification.sent_at is None
    assert notification.attempts == 1
    assert "ConnectionRefusedError" in notification.last_error
    assert notification.next_attempt_at >= before + retry_delay(1)
    assert notification.claimed_until is None
    assert notification.sending_since is None  # a failed attempt is not "maybe sent"
    # Not due yet: nothing is tried again before its time, even with the server back.
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_port)
    assert deliver_due() == (0, 0)
    assert inbox.messages == []

    notification.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert deliver_due() == (1, 0)

    assert len(inbox.messages) == 1
    db.session.refresh(notification)
    assert notification.sent_at is not None
    assert notification.attempts == 2
    assert notification.last_error is None
    assert len(outbox()) == 1


def test_any_error_while_sending_counts_as_a_failure_and_the_worker_goes_on(db):
    first = new_notification(db)
    second = new_notification(db)
    sent_messages = []

    def transport(message):
        if message["Message-ID"].startswith(f"<notification-{first.id}."):
            raise RuntimeError("unexpected")
        sent_messages.append(message)

    assert deliver_due(transport=transport) == (1, 1)

    db.session.refresh(first)
    db.session.refresh(second)
    assert first.sent_at is None
    assert first.attempts == 1
    assert first.last_error == "RuntimeError: unexpected"
    assert first.claimed_until is None  # free for the next round, not stuck for minutes
    assert first.sending_since is None
    assert second.sent_at is not None
    assert len(sent_messages) == 1


def test_the_message_id_is_the_same_on_every_attempt_and_differs_per_notification(app, db):
    first = new_notification(db)
    second = new_notification(db)
    with app.test_request_context():
        ids = [notifications.build_message(first)["Message-ID"] for _ in range(2)]
        other = notifications.build_message(second)["Message-ID"]
        db.session.expire_all()  # read back from the database: the same value again
        reloaded = notifications.build_message(db.session.get(Notification, first.id))

    assert ids[0] == ids[1] == reloaded["Message-ID"]
    assert other != ids[0]
    created = first.created_at
    assert ids[0] == (
        f"<notification-{first.id}.{created:%Y%m%d%H%M%S}.{created.microsecond:06d}"
        "@runningtherapie.invalid>"
    )


def test_the_sending_mark_is_committed_before_the_hand_over_and_cleared_after(db):
    notification = new_notification(db)
    seen = []

    def transport(message):
        open_transaction = db.session().in_transaction()  # a flush alone would leave one open
        row = db.session.get(Notification, notification.id)
        seen.append((open_transaction, row.sending_since, row.sent_at))

    assert deliver_due(transport=transport) == (1, 0)

    [(open_transaction, sending_since, sent_at)] = seen
    assert open_transaction is False  # the mark was committed before the hand-over
    assert sending_since is not None and sent_at is None
    db.session.refresh(notification)
    assert notification.sending_since is None
    assert notification.sent_at >= sending_since


def test_a_message_left_in_flight_by_a_crash_is_sent_again_with_the_same_id_and_a_warning(
    app, db, inbox, caplog
):
    user = factories.make_user(role=Role.COORDINATOR, email="crash@example.org")
    notification = new_notification(db, user, body="Kijk hier: http://x/9")
    with app.test_request_context():
        expected_id = notifications.build_message(notification)["Message-ID"]
    # What a sender killed after the hand-over leaves, once its claim has run out.
    notification.sending_since = utcnow() - timedelta(minutes=6)
    notification.claimed_until = utcnow() - timedelta(minutes=1)
    db.session.commit()

    with caplog.at_level("WARNING", logger=app.logger.name):
        assert deliver_due() == (1, 0)

    [mail] = inbox.messages
    assert mail.message["Message-ID"] == expected_id
    [record] = [r for r in caplog.records if "may have gone out already" in r.getMessage()]
    assert record.levelname == "WARNING"
    assert f"notification {notification.id} " in record.getMessage()
    assert "crash@example.org" not in caplog.text
    assert "Kijk hier" not in caplog.text
    db.session.refresh(notification)
    assert notification.sending_since is None
    assert notification.sent_at is not None
    assert deliver_due() == (0, 0)
    assert len(inbox.messages) == 1


def test_a_normal_delivery_logs_no_repeat_warning(app, db, inbox, caplog):
    new_notification(db)

    with caplog.at_level("WARNING", logger=app.logger.name):
        assert deliver_due() == (1, 0)

    assert "may have gone out already" not in caplog.text


def test_retry_delay_grows_to_an_hour_and_stays_there():
    assert retry_delay(1) == timedelta(minutes=1)
    assert retry_delay(2) == timedelta(minutes=2)
    assert retry_delay(3) == timedelta(minutes=4)
    assert retry_delay(7) == timedelta(hours=1)
    # A message that has failed for days: no OverflowError that would stop the worker.
    assert retry_delay(42) == timedelta(hours=1)
    assert retry_delay(10_000) == timedelta(hours=1)


def test_two_workers_never_claim_the_same_message(db, inbox):
    notification = new_notification(db)

    assert _claim(notification.id) is True  # the first worker takes it
    assert _claim(notification.id) is False  # the second one does not
    assert deliver_due() == (0, 0)  # nor does a round while the claim holds
    assert inbox.messages == []

    # A worker that died leaves its claim; when the claim runs out the message goes out once.
    db.session.refresh(notification)
    notification.claimed_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert deliver_due() == (1, 0)
    assert _claim(notification.id) is False  # sent: nobody can claim it any more
    assert len(inbox.messages) == 1


def test_a_message_another_worker_just_failed_is_not_claimed_before_its_time(db):
    notification = new_notification(db)
    notification.attempts = 1
    notification.next_attempt_at = utcnow() + timedelta(minutes=1)
    db.session.commit()

    assert _claim(notification.id) is False


def test_the_folder_backend_writes_a_readable_eml_file(app, db, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "folder")
    monkeypatch.setitem(app.config, "MAIL_FOLDER", str(tmp_path / "outbox"))
    user = factories.make_user(role=Role.COORDINATOR, email="folder@example.org")
    notification = new_notification(db, user, body="Er is iets te bekijken: http://x/1")

    assert deliver_due() == (1, 0)

    [path] = (tmp_path / "outbox").glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "folder@example.org"
    assert message["Subject"] == "New referral to triage"
    assert message.get_content().strip() == "Er is iets te bekijken: http://x/1"
    db.session.refresh(notification)
    assert notification.sent_at is not None


def test_the_command_delivers_and_prints_the_counts(app, db, inbox, monkeypatch):
    new_notification(db)
    new_notification(db)

    result = app.test_cli_runner().invoke(args=["send-notifications"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "sent 2, failed 0"
    assert len(inbox.messages) == 2

    new_notification(db)
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())
    result = app.test_cli_runner().invoke(args=["send-notifications"])
    assert result.exit_code == 0, result.output  # failed ones are retried, not an error
    assert result.output.strip() == "sent 0, failed 1"


def test_the_command_loops_until_sigterm(app, db, monkeypatch):
    calls = []

    def fake_deliver_due():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database away for a moment")  # logged; the loop goes on
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return 1, 0

    monkeypatch.setattr(notifications, "deliver_due", fake_deliver_due)
    handler_before = signal.getsignal(signal.SIGTERM)

    result = app.test_cli_runner().invoke(args=["send-notifications", "--loop", "--interval", "0"])

    assert result.exit_code == 0, result.output
    assert len(calls) == 3  # the round under way finished, then the loop stopped
    assert result.output.count("sent 1, failed 0") == 2
    assert result.output.strip().endswith("Stopped.")
    assert signal.getsignal(signal.SIGTERM) is handler_before


def make_referral(db):
    funder = factories.make_organisation(kind=OrganisationKind.MUNICIPALITY)
    coordinator = factories.make_user(
        role=Role.COORDINATOR, organisation=funder, email="triage@example.org"
    )
    referrer = factories.make_user(role=Role.REFERRER)
    programme = create_programme(
        ProgrammeDetails(
            name="Hardlopen aan zee",
            funder=funder,
            starts_on=date(2020, 1, 1),
            ends_on=None,
            referrer_organisations=[referrer.organisation],
            coordinators=[coordinator],
            postcode_areas="2201-2204",
            min_age=18,
            funded_places=20,
            trajectory_weeks=12,
            supervised_sessions=12,
            tariff_cents=45000,
            questionnaires=[],
        )
    )
    referral = submit_referral(
        referrer=referrer,
        programme=programme,
        participant=ParticipantDetails(
            first_name="Annelies",
            last_name="Verstappen",
            date_of_birth=date(1984, 3, 17),
            postcode="2202 KL",
            phone="06 12345678",
            email="annelies@example.net",
        ),
        details=ReferralDetails(
            reasons=["burnout"],
            description="Uitgeput na een reorganisatie, slaapt slecht sinds maart",
            preferred_form="group",
            consent_to_refer=True,
        ),
    )
    db.session.commit()
    return referral


def assert_no_health_details(text: str, referral) -> None:
    person = referral.participant
    forbidden = [
        person.first_name,
        person.last_name,
        person.email,
        person.phone,
        person.postcode,
        person.postcode.replace(" ", ""),
        person.date_of_birth.isoformat(),
        person.date_of_birth.strftime("%d-%m-%Y"),
        person.date_of_birth.strftime("%d/%m/%Y"),
        "17 maart 1984",
        "March 17, 1984",
        referral.description,
        "reorganisatie",
        "burnout",
        "Burn-out",
    ]
    for value in forbidden:
        assert value.lower() not in text.lower(), value


def test_notification_texts_point_to_the_referral_and_hold_no_health_details(app, db):
    with app.test_request_context():
        referral = make_referral(db)
        link = url_for("intake.referral", referral_id=referral.id, _external=True)
        inbox_link = url_for("offers.inbox", _external=True)  # therapists answer offers there
        for kind in NotificationKind:
            subject, body = notification_text(kind, referral)
            to_therapist = {NotificationKind.NEW_OFFER, NotificationKind.OFFER_DEADLINE_NEAR}
            assert (inbox_link if kind in to_therapist else link) in body
            assert re.search(r"https?://\S+", body)
            assert_no_health_details(subject + "\n" + body, referral)


def test_a_new_referral_mails_its_coordinator_a_link_and_nothing_more(app, db, inbox):
    with app.test_request_context():
        referral = make_referral(db)
        link = url_for("intake.referral", referral_id=referral.id, _external=True)

    assert deliver_due() == (1, 0)

    [mail] = inbox.messages
    assert mail.rcpt_tos == ["triage@example.org"]
    assert link in mail.body
    assert_no_health_details(mail.message.as_string(), referral)
