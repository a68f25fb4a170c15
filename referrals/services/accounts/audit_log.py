"""Reading the access log (administrators only): filtered, paged, and itself logged."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from referrals import audit
from referrals.models import LOCAL_ZONE, AuditAction, AuditEvent, User
from referrals.services import page_of


def _local_midnight(day: date) -> datetime:
    """The start of `day` in the Netherlands, as an aware datetime (zoneinfo, not pytz: pytz
    zones passed as tzinfo carry the 1900 local mean time offset of +00:18)."""
    return datetime.combine(day, time.min, tzinfo=LOCAL_ZONE)


@dataclass
class AuditFilter:
    user_id: int | None = None
    participant_id: int | None = None
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def query(self) -> tuple[sa.Select, list[str]]:
        """The filtered query, and the filters in use as `name=value` for the log's own row."""
        query, used = sa.select(AuditEvent), []
        if self.user_id:
            query = query.where(AuditEvent.user_id == self.user_id)
            used.append(f"user={self.user_id}")
        if self.participant_id:
            query = query.where(AuditEvent.participant_id == self.participant_id)
            used.append(f"participant={self.participant_id}")
        if self.action:
            query = query.where(AuditEvent.action == AuditAction(self.action))
            used.append(f"action={self.action}")
        if self.date_from:
            query = query.where(AuditEvent.occurred_at >= _local_midnight(self.date_from))
            used.append(f"from={self.date_from.isoformat()}")
        if self.date_to:
            end = _local_midnight(self.date_to + timedelta(days=1))
            query = query.where(AuditEvent.occurred_at < end)
            used.append(f"to={self.date_to.isoformat()}")
        return query, used


@dataclass
class AuditPage:
    events: list[AuditEvent] = field(default_factory=list)
    has_next: bool = False


def audit_log_page(user: User, filters: AuditFilter, *, page: int, size: int) -> AuditPage:
    """One page of the log, newest first; reading or searching it is logged too."""
    query, used = filters.query()
    ordered = query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    events, has_next = page_of(ordered, page, size)
    audit.record(
        AuditAction.SEARCH if used else AuditAction.READ,
        actor=user,
        object_type="audit_log",
        participant_id=filters.participant_id,
        detail=" ".join([*used, f"page={page}"]),
    )
    return AuditPage(events=events, has_next=has_next)
