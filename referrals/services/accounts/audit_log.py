"""Reading the access log (administrators only): filtered, paged, searchable by referral and by
participant name, and itself logged.

A referral's rows are those about the referral and the objects that belong to it alone (its
offers, trajectory, questionnaire responses and closing letters, by object type and id), and the
rows about shared objects (groups, sessions) or none that name its participant. Every referral
has a participant row of its own, so a participant's rows are that referral's rows.

Names are stored as plain text (referrals/models/intake.py), so a name search is a bounded
query on the participants table: every typed word must occur in the first or the last name,
and at most MAX_NAME_MATCHES participants may match. The log's own row for a name search keeps
which participants matched, by id, never the name typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    LOCAL_ZONE,
    AuditAction,
    AuditEvent,
    Offer,
    Participant,
    QuestionnaireResponse,
    Referral,
    Report,
    Trajectory,
    User,
)
from referrals.services import Cursor, keyset_page
from referrals.services.accounts.audit_names import AuditNames, audit_names

MAX_NAME_MATCHES = 10
# Object types whose rows belong to one referral alone: matched by id, not by participant.
OWNED_TYPES = ("referrals", "offers", "trajectories", "questionnaire_responses", "reports")


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
    reference: str | None = None  # a referral's reference, upper case (RT-2026-000123)
    name: str | None = None  # words of a participant's name; never stored

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


@dataclass(frozen=True)
class NameMatch:
    participant_id: int
    reference: str | None


@dataclass
class AuditPage:
    events: list[AuditEvent] = field(default_factory=list)
    newer: Cursor | None = None  # keyset cursors of the pages before and after this one
    older: Cursor | None = None
    names: AuditNames = field(default_factory=AuditNames)
    # Messages for the search fields ({field name: message}), shown next to them.
    errors: dict[str, str] = field(default_factory=dict)
    # The participants a name search found, for the line above the table.
    name_matches: list[NameMatch] = field(default_factory=list)


def _as_text(column):
    return sa.cast(column, sa.String)


def about_referrals(referral_ids, participant_ids: list[int]):
    """The rows about these referrals (ids, or a query of ids): their own objects (OWNED_TYPES)
    by id, and rows about anything else (a group, a session, the log itself, or no object) that
    name one of their participants."""
    trajectories = sa.select(Trajectory.id).where(Trajectory.referral_id.in_(referral_ids))
    owned = {
        "referrals": sa.select(_as_text(Referral.id)).where(Referral.id.in_(referral_ids)),
        "offers": sa.select(_as_text(Offer.id)).where(Offer.referral_id.in_(referral_ids)),
        "trajectories": sa.select(_as_text(Trajectory.id)).where(
            Trajectory.referral_id.in_(referral_ids)
        ),
        "questionnaire_responses": sa.select(_as_text(QuestionnaireResponse.id)).where(
            QuestionnaireResponse.trajectory_id.in_(trajectories)
        ),
        "reports": sa.select(_as_text(Report.id)).where(Report.trajectory_id.in_(trajectories)),
    }
    return sa.or_(
        *(
            sa.and_(AuditEvent.object_type == kind, AuditEvent.object_id.in_(ids))
            for kind, ids in owned.items()
        ),
        sa.and_(
            AuditEvent.participant_id.in_(participant_ids),
            sa.or_(AuditEvent.object_type.is_(None), AuditEvent.object_type.not_in(OWNED_TYPES)),
        ),
    )


def _name_condition(words: list[str]):
    return sa.and_(
        *(
            sa.or_(
                sa.func.lower(Participant.first_name).contains(word, autoescape=True),
                sa.func.lower(Participant.last_name).contains(word, autoescape=True),
            )
            for word in words
        )
    )


def participants_named(name: str) -> list[NameMatch]:
    """Up to MAX_NAME_MATCHES + 1 participants whose first or last name holds every typed word
    (case aside), with their reference; one query."""
    words = name.lower().split()
    rows = db.session.execute(
        sa.select(Participant.id, sa.func.min(Referral.reference))
        .outerjoin(Referral, Referral.participant_id == Participant.id)
        .where(_name_condition(words))
        .group_by(Participant.id)
        .order_by(Participant.id)
        .limit(MAX_NAME_MATCHES + 1)
    )
    return [NameMatch(participant_id, reference) for participant_id, reference in rows]


@dataclass
class _Search:
    """What the reference and name fields found: the condition, the log row's words, errors."""

    condition: object = None
    used: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    participant_ids: set[int] | None = None
    matches: list[NameMatch] = field(default_factory=list)

    def narrow(self, participant_ids: set[int]) -> None:
        if self.participant_ids is None:
            self.participant_ids = set(participant_ids)
        else:
            self.participant_ids &= participant_ids


def _search(filters: AuditFilter) -> _Search:
    search = _Search()
    conditions = []
    if filters.reference:
        search.used.append(f"reference={filters.reference}")
        referral = db.session.execute(
            sa.select(Referral.id, Referral.participant_id).where(
                Referral.reference == filters.reference
            )
        ).first()
        if referral is None:
            search.errors["reference"] = _(
                "No referral has the reference %(reference)s.", reference=filters.reference
            )
        else:
            conditions.append(about_referrals([referral.id], [referral.participant_id]))
            search.narrow({referral.participant_id})
    if filters.name:
        matches = participants_named(filters.name)
        if not matches:
            search.used.append("name-matches=none")
            search.errors["name"] = _("No participant has a name like this.")
        elif len(matches) > MAX_NAME_MATCHES:
            search.used.append("name-matches=many")
            search.errors["name"] = _(
                "More than %(max)d participants have a name like this. Type more of the name,"
                " or search by reference.",
                max=MAX_NAME_MATCHES,
            )
        else:
            search.matches = matches
            ids = [m.participant_id for m in matches]
            search.used.append("name-matches=" + ",".join(str(i) for i in ids))
            referral_ids = sa.select(Referral.id).where(Referral.participant_id.in_(ids))
            conditions.append(about_referrals(referral_ids, ids))
            search.narrow(set(ids))
    if conditions and not search.errors:
        search.condition = sa.and_(*conditions)
    return search


def audit_log_page(
    user: User,
    filters: AuditFilter,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    size: int,
) -> AuditPage:
    """One page of the log, newest first, after or before a cursor (keyset paging: the log
    only grows, and a page deep in it is read as fast as the first), with the names its rows
    mention.

    Reading or searching it is logged in one row (with the participant when the search found
    one). The page names participants by reference, so, as on every page that shows
    participants, each other participant it names gets a read row of its own (`shown`).
    """
    query, used = filters.query()
    search = _search(filters) if filters.reference or filters.name else _Search()
    shown = AuditPage(errors=search.errors, name_matches=search.matches)
    if not search.errors:
        if search.condition is not None:
            query = query.where(search.condition)
        listed = keyset_page(
            query.options(joinedload(AuditEvent.user)),
            AuditEvent.occurred_at,
            AuditEvent.id,
            size=size,
            after=after,
            before=None if after else before,
        )
        shown.events, shown.newer, shown.older = listed.rows, listed.previous, listed.following
    # Where in the log this page is, for the reader's own row.
    page = (
        "1"
        if not (after or before)
        else f"{'after' if after else 'before'}:{(after or before).token}"
    )
    shown.names = audit_names(shown.events)
    participant_id = filters.participant_id
    if participant_id is None and search.participant_ids and len(search.participant_ids) == 1:
        participant_id = next(iter(search.participant_ids))
    named = (
        {e.participant_id for e in shown.events if e.participant_id}
        | shown.names.participants_shown()
        | {m.participant_id for m in search.matches}
    )
    for other in sorted(named - {participant_id}):
        audit.record(
            AuditAction.READ,
            actor=user,
            object_type="audit_log",
            participant_id=other,
            detail=f"shown page={page}",
        )
    used = [*used, *search.used]
    audit.record(
        AuditAction.SEARCH if used else AuditAction.READ,
        actor=user,
        object_type="audit_log",
        participant_id=participant_id,
        detail=" ".join([*used, f"page={page}"]),
    )
    return shown
