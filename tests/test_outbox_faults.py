"""The outbox under faults, with real processes: `flask send-notifications` in subprocesses, a
real SMTP server (aiosmtpd) in the test, on a database of this run's kind that they share.

Every test counts the Message-IDs the server received against the notifications in the
database: delivered (distinct ids), doubled (ids received more than once) and lost (due
notifications whose id never arrived).

- The mail server is down: attempts fail and are retried with the retry delay; once it is back
  every message arrives exactly once.
- A sender is killed (SIGKILL) after the server received a message's data and before it
  answered: that one message arrives again, with the same Message-ID; no other is repeated or
  lost, and the "sending" mark shows it was in flight.
- Two senders run at once over 100 messages: each arrives exactly once.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask_migrate import upgrade

from referrals.extensions import db
from referrals.models import Notification, NotificationKind, Role, User, utcnow
from referrals.services.notifications import enqueue, message_id, retry_delay
from tests import factories
from tests.conftest import make_app

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).with_name("flask")
SENDER = "noreply@runningtherapie.invalid"
RECIPIENT = "faults-coordinator@example.org"
TIMEOUT = 30  # seconds: any wait in this module fails after this instead of hanging


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.05)


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps the Message-ID of every message whose data it received."""

    received: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.received.append(message["Message-ID"])
            return message["Message-ID"]

    def ids(self) -> list[str]:
        with self.lock:
            return list(self.received)

    async def handle_DATA(self, server, session, envelope):
        self.record(envelope)
        return "250 Message accepted for delivery"


@dataclass
class HoldingInbox(Inbox):
    """Receives the data of message number `hold_at`, then does not answer until released."""

    hold_at: int = 1
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    held_id: str | None = None

    async def handle_DATA(self, server, session, envelope):
        message_id = self.record(envelope)
        if len(self.ids()) == self.hold_at:
            self.held_id = message_id
            self.holding.set()
            deadline = time.monotonic() + TIMEOUT
            while not self.release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        return "250 Message accepted for delivery"


@dataclass
class GateInbox(Inbox):
    """Holds every message until two deliveries are inside DATA at the same moment: with
    single-threaded senders that proves two senders are at work at once."""

    gate: threading.Event = field(default_factory=threading.Event)
    in_data: int = 0

    async def handle_DATA(self, server, session, envelope):
        self.record(envelope)
        if not self.gate.is_set():
            self.in_data += 1  # only the server's event loop thread touches it
            if self.in_data >= 2:
                self.gate.set()
            deadline = time.monotonic() + TIMEOUT
            while not self.gate.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            self.in_data -= 1
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(handler, port: int):
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def outbox_app(databases):
    app = make_app(databases.new("outbox"))
    with app.app_context():
        upgrade()
        factories.make_user(role=Role.COORDINATOR, email=RECIPIENT)
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def outbox(outbox_app):
    """An empty outbox in the module's database (committed: the senders are other processes)."""
    with outbox_app.app_context():
        db.session.execute(sa.delete(Notification))
        db.session.commit()
        db.session.remove()
    return Outbox(outbox_app)


@dataclass
class Row:
    id: int
    message_id: str
    attempts: int
    next_attempt_at: object
    claimed_until: object
    sending_since: object
    sent_at: object
    last_error: str | None


class Outbox:
    def __init__(self, app):
        self.app = app
        with app.app_context():
            self.url = db.engine.url.render_as_string(hide_password=False)

    def enqueue(self, count: int) -> None:
        with self.app.app_context(), self.app.test_request_context():
            recipient = db.session.scalars(sa.select(User).filter_by(email=RECIPIENT)).one()
            for n in range(count):
                enqueue(NotificationKind.NEW_REFERRAL, recipient, f"Referral {n}", "See the app.")
            db.session.commit()
            db.session.remove()

    def rows(self) -> list[Row]:
        """What the database holds now, read in a transaction of its own."""
        with self.app.app_context(), self.app.test_request_context():
            notifications = db.session.scalars(sa.select(Notification).order_by(Notification.id))
            rows = [
                Row(
                    n.id,
                    message_id(n),
                    n.attempts,
                    n.next_attempt_at,
                    n.claimed_until,
                    n.sending_since,
                    n.sent_at,
                    n.last_error,
                )
                for n in notifications
            ]
            db.session.commit()
            db.session.remove()
        return rows

    def rows_if(self, condition) -> list[Row] | None:
        """The rows when every one meets `condition`, else None."""
        rows = self.rows()
        return rows if rows and all(condition(row) for row in rows) else None

    def update(self, **values) -> None:
        """Move the clock for the outbox: what a wait of minutes would have done."""
        with self.app.app_context():
            db.session.execute(sa.update(Notification).values(**values))
            db.session.commit()
            db.session.remove()


def sender_env(outbox: Outbox, smtp_port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MAIL_", "FLASK_", "DATABASE_URL"))
    }
    env.update(
        REFERRALS_CONFIG="testing",
        FLASK_APP="referrals",
        DATABASE_URL=outbox.url,
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp_port),
        MAIL_DEFAULT_SENDER=SENDER,
        PYTHONUNBUFFERED="1",
    )
    return env


def run_sender(outbox: Outbox, smtp_port: int) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(FLASK), "send-notifications"],
        cwd=ROOT,
        env=sender_env(outbox, smtp_port),
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def start_sender(outbox: Outbox, smtp_port: int, log: Path, *args: str) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [str(FLASK), "send-notifications", *args],
            cwd=ROOT,
            env=sender_env(outbox, smtp_port),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextmanager
def killed_at_exit(process: subprocess.Popen):
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=TIMEOUT)


def figures(received: list[str], rows: list[Row]) -> dict[str, int]:
    counts = Counter(received)
    expected = {row.message_id for row in rows}
    return {
        "due": len(rows),
        "delivered": len(expected & counts.keys()),
        "doubled": sum(1 for n in counts.values() if n > 1),
        "lost": len(expected - counts.keys()),
        "unknown": len(counts.keys() - expected),
    }


def test_mail_server_down_then_back_every_message_arrives_once(outbox, tmp_path):
    count = 30
    inbox = Inbox()
    port = free_port()
    with smtp_server(inbox, port):
        pass  # the mail server was there, and is stopped now
    outbox.enqueue(count)
    started = utcnow()

    log = tmp_path / "sender.log"
    with killed_at_exit(start_sender(outbox, port, log, "--loop", "--interval", "0.2")) as sender:
        # Every attempt fails; each message waits the retry delay (1 minute) for the next.
        rows = wait_until(
            lambda: outbox.rows_if(lambda r: r.attempts == 1 and r.claimed_until is None),
            "every message was tried once",
        )
        assert all("ConnectionRefusedError" in r.last_error for r in rows)
        assert all(r.sent_at is None and r.sending_since is None for r in rows)
        assert all(r.next_attempt_at >= started + retry_delay(1) for r in rows)
        assert all(r.next_attempt_at <= utcnow() + retry_delay(1) for r in rows)

        # A minute later, still down: the second attempt fails too and waits 2 minutes.
        second_try = utcnow()
        outbox.update(next_attempt_at=second_try - timedelta(seconds=1))
        rows = wait_until(
            lambda: outbox.rows_if(lambda r: r.attempts == 2 and r.claimed_until is None),
            "every message was tried twice",
        )
        assert all(r.next_attempt_at >= second_try + retry_delay(2) for r in rows)
        assert inbox.ids() == []

        # The server comes back; when the messages are due again, they go out.
        with smtp_server(inbox, port):
            outbox.update(next_attempt_at=utcnow() - timedelta(seconds=1))
            rows = wait_until(
                lambda: outbox.rows_if(lambda r: r.sent_at is not None), "every message was sent"
            )
            os.killpg(sender.pid, signal.SIGTERM)
            assert sender.wait(timeout=TIMEOUT) == 0
        output = log.read_text()

    assert output.count(f"sent 0, failed {count}") == 2
    assert f"sent {count}, failed 0" in output
    assert output.strip().endswith("Stopped.")
    assert all(r.attempts == 3 and r.sending_since is None and r.last_error is None for r in rows)
    assert figures(inbox.ids(), rows) == {
        "due": count,
        "delivered": count,
        "doubled": 0,
        "lost": 0,
        "unknown": 0,
    }
    assert len(inbox.ids()) == count


def test_a_sender_killed_mid_send_repeats_only_that_message_with_the_same_id(outbox, tmp_path):
    count, hold_at = 10, 5
    inbox = HoldingInbox(hold_at=hold_at)
    port = free_port()
    outbox.enqueue(count)

    with smtp_server(inbox, port):
        log = tmp_path / "killed.log"
        with killed_at_exit(start_sender(outbox, port, log)) as sender:
            # The server has the data of message 5 and has not answered: the sender waits.
            assert inbox.holding.wait(timeout=TIMEOUT), log.read_text()
            in_flight = wait_until(
                lambda: [r for r in outbox.rows() if r.sending_since is not None],
                "a message is marked as sending",
            )
            os.killpg(sender.pid, signal.SIGKILL)
            assert sender.wait(timeout=TIMEOUT) == -signal.SIGKILL
        inbox.release.set()

        [held] = in_flight
        assert held.message_id == inbox.held_id
        rows = outbox.rows()
        assert [r.id for r in rows if r.sent_at] == [r.id for r in rows][: hold_at - 1]
        [crashed] = [r for r in rows if r.id == held.id]
        # Killed between the hand-over and the sent mark: the mark says "maybe sent".
        assert crashed.sending_since is not None and crashed.sent_at is None
        assert crashed.claimed_until > utcnow()

        # Straight after the crash: the others go out; the one in flight is still claimed
        # (its sender might only be slow), so it is not sent twice meanwhile.
        result = run_sender(outbox, port)
        assert result.stdout.strip() == f"sent {count - hold_at}, failed 0"
        assert "may have gone out already" not in result.stderr

        # Its claim runs out (CLAIM_TIME later): it is sent again, with the same Message-ID.
        outbox.update(claimed_until=utcnow() - timedelta(seconds=1))
        result = run_sender(outbox, port)
        assert result.stdout.strip() == "sent 1, failed 0"

    assert f"notification {held.id} was being sent since" in result.stderr
    assert "may have gone out already" in result.stderr
    assert RECIPIENT not in result.stderr + log.read_text()
    rows = outbox.rows()
    assert all(r.sent_at and r.sending_since is None for r in rows)
    received = inbox.ids()
    # The repeat carries the id the server got the first time: recognisable as the same mail.
    assert received[-1] == inbox.held_id
    assert Counter(received)[inbox.held_id] == 2
    assert len(set(received)) == count
    assert figures(received, rows) == {
        "due": count,
        "delivered": count,
        "doubled": 1,
        "lost": 0,
        "unknown": 0,
    }
    assert len(received) == count + 1


def test_two_senders_at_once_send_each_message_once(outbox, tmp_path):
    count = 100
    inbox = GateInbox()
    port = free_port()
    outbox.enqueue(count)

    with smtp_server(inbox, port):
        logs = [tmp_path / "first.log", tmp_path / "second.log"]
        senders = [start_sender(outbox, port, log) for log in logs]
        with killed_at_exit(senders[0]), killed_at_exit(senders[1]):
            for sender in senders:
                assert sender.wait(timeout=TIMEOUT * 2) == 0
        outputs = [log.read_text().strip() for log in logs]

    assert inbox.gate.is_set()  # two deliveries were in DATA at the same moment
    counts = [re.findall(r"^sent (\d+), failed (\d+)$", output, re.MULTILINE) for output in outputs]
    assert [failed for [(_, failed)] in counts] == ["0", "0"], outputs
    sent = [int(sent) for [(sent, _)] in counts]
    assert sum(sent) == count
    assert min(sent) >= 1, outputs  # both did part of the work
    rows = outbox.rows()
    assert all(r.sent_at and r.attempts == 1 and r.sending_since is None for r in rows)
    assert figures(inbox.ids(), rows) == {
        "due": count,
        "delivered": count,
        "doubled": 0,
        "lost": 0,
        "unknown": 0,
    }
    assert len(inbox.ids()) == count
