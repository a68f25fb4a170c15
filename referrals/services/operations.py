"""What an operator watches, counted when /metrics is scraped: the e-mail outbox, the report
jobs and the offers whose deadline passed. Counts and ages only, never a row's contents."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import Notification, Offer, OfferState, ReportJob, ReportJobState, utcnow

# A scrape must not wait on a slow database longer than this (PostgreSQL; SQLite has its
# busy timeout).
SCRAPE_STATEMENT_TIMEOUT_MS = 1000


@dataclass
class Operations:
    outbox_depth: int = 0  # notifications not yet delivered
    outbox_oldest_seconds: float = 0.0  # how long the oldest of those has waited
    outbox_failing: int = 0  # undelivered after at least one failed attempt
    outbox_in_flight: int = 0  # handed to the mail server, sent mark not yet saved
    report_jobs: dict[str, int] = field(default_factory=dict)
    offers_overdue: int = 0  # open past their deadline: the expiry worker has yet to run
    offers_expired: int = 0  # expired (returned to the queue) in all


def current_operations() -> Operations:
    """One read-only transaction; rolled back, as nothing is written."""
    session = db.session
    try:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text(f"SET LOCAL statement_timeout = {SCRAPE_STATEMENT_TIMEOUT_MS}"))
        now = utcnow()
        undelivered = sa.select(Notification).where(Notification.sent_at.is_(None)).subquery()
        depth, oldest, failing, in_flight = session.execute(
            sa.select(
                sa.func.count(),
                sa.func.min(undelivered.c.created_at),
                sa.func.count().filter(undelivered.c.attempts > 0),
                sa.func.count().filter(undelivered.c.sending_since.is_not(None)),
            ).select_from(undelivered)
        ).one()
        jobs = dict.fromkeys((state.value for state in ReportJobState), 0)
        for state, count in session.execute(
            sa.select(ReportJob.state, sa.func.count()).group_by(ReportJob.state)
        ):
            jobs[ReportJobState(state).value] = count
        overdue, expired = session.execute(
            sa.select(
                sa.func.count().filter(Offer.state == OfferState.OPEN, Offer.deadline_at <= now),
                sa.func.count().filter(Offer.state == OfferState.EXPIRED),
            )
        ).one()
    finally:
        session.rollback()
    return Operations(
        outbox_depth=depth,
        outbox_oldest_seconds=(now - oldest).total_seconds() if oldest else 0.0,
        outbox_failing=failing,
        outbox_in_flight=in_flight,
        report_jobs=jobs,
        offers_overdue=overdue,
        offers_expired=expired,
    )
