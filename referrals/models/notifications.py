"""The outbox: notifications written in the same transaction as the change they announce."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from referrals.models.base import Base, UTCDateTime, enum_column_type


class NotificationKind(enum.StrEnum):
    NEW_REFERRAL = "new_referral"
    REFERRAL_REJECTED = "referral_rejected"
    REFERRAL_WITHDRAWN = "referral_withdrawn"
    NEW_OFFER = "new_offer"
    OFFER_ACCEPTED = "offer_accepted"
    OFFER_DECLINED = "offer_declined"
    OFFER_EXPIRED = "offer_expired"
    TRAJECTORY_CLOSED = "trajectory_closed"
    OFFER_DEADLINE_NEAR = "offer_deadline_near"


class Notification(Base):
    """An e-mail waiting to go out, or gone out. Never holds health details: only a pointer.

    The worker claims a row before sending (claimed_until), so two workers never send the
    same message; a failed attempt is retried later with a growing delay and never dropped.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_sent_at_next_attempt_at", "sent_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[NotificationKind] = mapped_column(
        enum_column_type(NotificationKind, "notification_kind")
    )
    recipient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    recipient_email: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set (and committed) just before the message is handed to the mail server, cleared when
    # the sent mark is saved: still set after a crash means "may have gone out already".
    sending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
