"""Outbox: enqueue notifications with a change; a worker delivers them by SMTP or to files.

Delivery is at least once, with the least repetition possible: a worker claims a message (a
conditional UPDATE, so two workers never take the same one), marks it "sending" and commits,
hands it to the mail server, then saves the sent mark. A worker that dies in between leaves the
"sending" mark; the message is sent again once its claim has run out, with the same Message-ID
(derived from the notification, never random), so the repeat can be recognised. At most the one
message in flight is repeated per crash; none is lost.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from datetime import UTC, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from referrals.extensions import db
from referrals.models import Notification, NotificationKind, User, utcnow

# Retry after 1, 2, 4 ... minutes, at most an hour apart; a message is never given up.
MAX_RETRY_DELAY = timedelta(hours=1)
# How long a worker holds a message: far longer than one SMTP delivery may take (30 s per
# step), so a live worker never loses its claim; after a crash the message waits this long.
CLAIM_TIME = timedelta(minutes=5)


def _outbox_row(kind: NotificationKind, recipient: User, subject: str, body: str, now) -> dict:
    return dict(
        created_at=now,
        kind=kind,
        recipient_id=recipient.id,
        recipient_email=recipient.email,
        subject=subject,
        body=body,
        attempts=0,
        next_attempt_at=now,
    )


def enqueue(kind: NotificationKind, recipient: User, subject: str, body: str) -> Notification:
    """Add a notification to the outbox in the caller's transaction (never sent on rollback)."""
    notification = Notification(**_outbox_row(kind, recipient, subject, body, utcnow()))
    db.session.add(notification)
    return notification


def enqueue_many(kind: NotificationKind, messages) -> int:
    """enqueue for many (recipient, subject, body) at once, in one INSERT."""
    now = utcnow()
    rows = [_outbox_row(kind, *message, now) for message in messages]
    if rows:
        db.session.execute(sa.insert(Notification.__table__), rows)
    return len(rows)


def retry_delay(attempts: int) -> timedelta:
    # The exponent is capped: 2 ** 41 minutes no longer fits in a timedelta (OverflowError),
    # which would stop the worker on a message that has failed for a day and a half.
    exponent = min(max(attempts - 1, 0), 16)
    return min(timedelta(minutes=2**exponent), MAX_RETRY_DELAY)


def build_message(notification: Notification) -> EmailMessage:
    cfg = current_app.config
    message = EmailMessage()
    message["From"] = cfg["MAIL_DEFAULT_SENDER"]
    message["To"] = notification.recipient_email
    message["Subject"] = notification.subject
    message["Message-ID"] = message_id(notification)
    message.set_content(notification.body)
    return message


def message_id(notification: Notification) -> str:
    """The same on every attempt, so a message sent again after a crash is recognisable.

    The id with the creation time to the microsecond keeps it unique across installations
    (and across a database rebuilt from scratch) that share a sender domain.
    """
    # The sender's domain, not socket.getfqdn(): no DNS look-up, no internal host name leaked.
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    created = notification.created_at.astimezone(UTC).strftime("%Y%m%d%H%M%S.%f")
    return f"<notification-{notification.id}.{created}@{domain}>"


def send_by_smtp(message: EmailMessage) -> None:
    cfg = current_app.config
    smtp = smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=30)
    try:
        if cfg["MAIL_USE_TLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
        smtp.send_message(message)
    finally:
        # Once the server accepted the message, a failing QUIT must not count as a failed
        # delivery (the message would be sent again); `with SMTP()` raises in that case.
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def write_to_folder(message: EmailMessage) -> None:
    """Development: each message becomes an .eml file a developer can open."""
    folder = Path(current_app.config["MAIL_FOLDER"] or Path(current_app.instance_path) / "outbox")
    folder.mkdir(parents=True, exist_ok=True)
    name = message["Message-ID"].strip("<>").replace("@", "_at_").replace("/", "_")
    (folder / f"{name}.eml").write_bytes(bytes(message))


def default_transport() -> Callable[[EmailMessage], None]:
    return write_to_folder if current_app.config["MAIL_BACKEND"] == "folder" else send_by_smtp


def _claim(notification_id: int) -> bool:
    """Take a due message for this worker; False when another worker has it or it went out."""
    now = utcnow()
    result = db.session.execute(
        sa.update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.sent_at.is_(None),
            # Another worker may have just failed it and set a later attempt: respect that.
            Notification.next_attempt_at <= now,
            sa.or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
        )
        .values(claimed_until=now + CLAIM_TIME)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def deliver_due(transport: Callable[[EmailMessage], None] | None = None, limit: int = 100):
    """Send what is due. Commits per message, so one failure never undoes another's success.

    Per message: claim it (commit), mark it "sending" (commit), hand it to the transport, save
    the sent mark and clear "sending" (commit). Returns (sent, failed) counts. This is a
    worker, not a request: it owns its transactions.
    """
    transport = transport or default_transport()
    due_ids = db.session.scalars(
        sa.select(Notification.id)
        .where(Notification.sent_at.is_(None), Notification.next_attempt_at <= utcnow())
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
    ).all()
    db.session.commit()
    sent = failed = 0
    for notification_id in due_ids:
        if not _claim(notification_id):
            continue
        notification = db.session.get(Notification, notification_id)
        if notification is None:
            continue
        if notification.sending_since is not None:
            # A sender stopped (killed, machine down, database away) between handing it over
            # and saving the sent mark. The id only: no address or text in the log.
            current_app.logger.warning(
                "notification %s was being sent since %s when its sender stopped: it may have "
                "gone out already; sending it again with the same Message-ID",
                notification_id,
                notification.sending_since.isoformat(timespec="seconds"),
            )
        try:
            message = build_message(notification)
            # Committed before the hand-over: a crash from here on repeats only this message.
            # No transaction stays open while the mail server is slow to answer.
            notification.sending_since = utcnow()
            db.session.commit()
            transport(message)
        except Exception as error:
            # Any error, not only network ones: one bad message must not stop the worker
            # (and leave itself claimed); it is retried later like any failed delivery.
            db.session.rollback()
            notification.attempts += 1
            notification.last_error = f"{type(error).__name__}: {error}"[:500]
            notification.next_attempt_at = utcnow() + retry_delay(notification.attempts)
            notification.claimed_until = None
            notification.sending_since = None  # the server refused it or was not reached
            failed += 1
            current_app.logger.warning(
                "notification %s not delivered (attempt %s): %s",
                notification_id,
                notification.attempts,
                type(error).__name__,
                exc_info=not isinstance(error, OSError | smtplib.SMTPException),
            )
        else:
            notification.attempts += 1
            notification.sent_at = utcnow()
            notification.sending_since = None
            notification.last_error = None
            sent += 1
        db.session.commit()
    return sent, failed
