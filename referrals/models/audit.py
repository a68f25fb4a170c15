"""The NEN 7513 access log: append-only, one row per access to or change of protected data."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.models.accounts import Organisation, User
from referrals.models.base import Base, BigIntegerPK, UTCDateTime, enum_column_type


class AuditAction(enum.StrEnum):
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"
    PRINT = "print"
    SEARCH = "search"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    # A participant object asked for and not shown (403 or 404): id enumeration leaves a trace.
    REFUSED = "refused"


class AuditEvent(Base):
    """Who did what to which object (and which participant), when, from where.

    Rows are never changed or deleted: the application has no code path for it and on
    PostgreSQL and SQLite a trigger refuses UPDATE and DELETE. The participant is kept as
    a plain id, without a foreign key, so that the log outlives an erased participant.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_user_id_occurred_at", "user_id", "occurred_at"),
        # The log page's search by referral finds the rows about its objects.
        sa.Index("ix_audit_events_object_type_object_id", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    user_role: Mapped[str | None] = mapped_column(sa.String(20))
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    action: Mapped[AuditAction] = mapped_column(enum_column_type(AuditAction, "audit_action"))
    object_type: Mapped[str | None] = mapped_column(sa.String(40))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    participant_id: Mapped[int | None] = mapped_column(index=True)
    ip_address: Mapped[str | None] = mapped_column(sa.String(45))
    # A short, non-identifying note (for example which filters a search used); never health data.
    detail: Mapped[str | None] = mapped_column(sa.String(255))

    user: Mapped[User | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship()
