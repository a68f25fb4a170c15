"""Referrers' and coordinators' pages about referrals, as read services: the referral list,
one referral, the triage queue and the match page. Each loads what its page shows through the
tenant filter (referrals.permissions), in a fixed number of queries, writes one access-log row
per participant shown, and returns a plain object for the template."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    AuditAction,
    Offer,
    OfferState,
    Organisation,
    Participant,
    Programme,
    Referral,
    ReferralEvent,
    ReferralState,
    Role,
    Therapist,
    User,
    local_today,
    programme_referrers,
    utcnow,
)
from referrals.models.intake import ACCEPTED_STATES
from referrals.permissions import can_follow, referral_for, referrals_visible_to
from referrals.permissions.referrals import visible_condition
from referrals.services import Cursor, KeysetPage, keyset_page
from referrals.services.closing import ReferrerView, referrer_view
from referrals.services.referrals.matching import MatchResult, match_referral
from referrals.services.therapists import expiry_warning


def audit_listed(user: User, referrals: list[Referral], action: AuditAction, what: str) -> None:
    """One access-log row per participant shown, so each person's log is complete."""
    audit.record_many(action, [(r, r.participant_id) for r in referrals], actor=user, detail=what)


def referable_programmes(user: User) -> list[Programme]:
    """The open programmes `user` may refer to now: intake.can_refer_to as one query (the
    join is its organisation condition, is_open_on its date condition)."""
    if user.role is not Role.REFERRER:
        return []
    today = local_today()
    programmes = db.session.scalars(
        sa.select(Programme)
        .join(programme_referrers, programme_referrers.c.programme_id == Programme.id)
        .where(programme_referrers.c.organisation_id == user.organisation_id, Programme.active)
        .order_by(Programme.name, Programme.id)
    )
    return [p for p in programmes if p.is_open_on(today)]


def listed_programmes(user: User) -> list[Programme]:
    """The programmes that the user's visible referrals belong to, for the list's filter,
    read from the referrals' indexes alone (no participant is joined)."""
    holds_one = (
        sa.select(Referral.id)
        .where(visible_condition(user), Referral.programme_id == Programme.id)
        .exists()
    )
    return list(
        db.session.scalars(
            sa.select(Programme).where(holds_one).order_by(Programme.name, Programme.id)
        )
    )


@dataclass
class ReferralList:
    """One page of ListedReferral rows, with the cursors to the pages either side."""

    referrals: list
    newer: Cursor | None = None  # the page before, toward the newest
    older: Cursor | None = None


@dataclass
class ListedReferral:
    """A row of the referral list: the columns it shows, no model objects."""

    id: int
    reference: str
    first_name: str
    last_name: str
    programme_name: str
    submitted_at: datetime
    state: ReferralState
    waiting_days: int


def referral_list(
    user: User,
    *,
    state: str | None = None,
    programme_id: int | None = None,
    search: str | None = None,
    after: Cursor | None = None,
    before: Cursor | None = None,
    size: int = 50,
) -> ReferralList:
    """One page of the referrals `user` may see, newest first, after or before a cursor
    (keyset paging: any page is read from the index as the first is); a search is logged as
    one. Only the columns the list shows are read, and the time of the acceptance (where the
    waiting days end) by a subquery per row shown, not the referral's whole history."""
    accepted_at = (
        sa.select(ReferralEvent.occurred_at)
        .where(
            ReferralEvent.referral_id == Referral.id,
            ReferralEvent.to_state == ReferralState.ACCEPTED,
        )
        .order_by(ReferralEvent.id)
        .limit(1)
        .correlate(Referral)
        .scalar_subquery()
    )
    query = referrals_visible_to(user).with_only_columns(
        Referral.id,
        Referral.submitted_at,
        Referral.reference,
        Referral.participant_id,
        Participant.first_name,
        Participant.last_name,
        Programme.name.label("programme_name"),
        Referral.state,
        Referral.closed_at,
        accepted_at.label("accepted_at"),
    )
    if state:
        query = query.where(Referral.state == ReferralState(state))
    if programme_id:
        query = query.where(Referral.programme_id == programme_id)
    term = (search or "").strip().lower()
    if term:
        full_name = sa.func.lower(Participant.first_name + " " + Participant.last_name)
        like = f"%{term}%"
        query = query.where(
            sa.or_(full_name.like(like), sa.func.lower(Referral.reference).like(like))
        )
    page = keyset_page(
        query,
        Referral.submitted_at,
        Referral.id,
        size=size,
        after=after,
        before=before,
        columns=True,
    )
    rows = page.rows
    if term:
        audit.record(
            AuditAction.SEARCH,
            actor=user,
            object_type="referrals",
            detail=f"{len(rows)} found",
        )
    audit.record_many(
        AuditAction.SEARCH if term else AuditAction.READ,
        [(("referrals", row.id), row.participant_id) for row in rows],
        actor=user,
        detail="list",
    )
    now = utcnow()
    referrals = [
        ListedReferral(
            id=row.id,
            reference=row.reference,
            first_name=row.first_name,
            last_name=row.last_name,
            programme_name=row.programme_name,
            submitted_at=row.submitted_at,
            state=row.state,
            waiting_days=_waiting_days(row, now),
        )
        for row in rows
    ]
    return ReferralList(referrals=referrals, newer=page.previous, older=page.following)


def _waiting_days(row, now: datetime) -> int:
    """Referral.waiting_days from the row's columns (accepted_at: the first acceptance)."""
    accepted = row.accepted_at if row.state in ACCEPTED_STATES else None
    end = accepted or row.closed_at or now
    return max((end - row.submitted_at).days, 0)


@dataclass
class ReferralPage:
    referral: Referral
    # Of the trajectory a referrer sees progress and the outcome only with consent.
    therapy: ReferrerView | None


def referral_page(user: User, referral_id: int, *, detail: str | None = None):
    """One referral `user` may see, read and logged; None when it does not exist for them.
    What the page shows of it comes with it (the history in one more query), not one
    query per relation."""
    referral = referral_for(
        user,
        referral_id,
        contains_eager(Referral.participant),
        contains_eager(Referral.programme),
        joinedload(Referral.referrer),
        joinedload(Referral.referring_organisation),
        joinedload(Referral.therapist),
        selectinload(Referral.events).joinedload(ReferralEvent.actor),
    )
    if referral is None:
        return None
    therapy = referrer_view(referral) if can_follow(user, referral) else None
    audit.record(
        AuditAction.READ,
        actor=user,
        obj=referral,
        participant_id=referral.participant_id,
        detail=detail,
    )
    return ReferralPage(referral=referral, therapy=therapy)


@dataclass
class TriageQueue:
    """The two lists as pages of plain rows (WaitingRow, OfferedRow), not model objects."""

    waiting: KeysetPage = field(default_factory=KeysetPage)
    offered: KeysetPage = field(default_factory=KeysetPage)
    waiting_count: int = 0
    offered_count: int = 0


@dataclass
class WaitingRow:
    id: int
    reference: str
    submitted_at: datetime
    programme_name: str
    organisation_name: str
    waiting_days: int
    back: object | None  # the last declined or expired offer (state, decline_reason), if any


@dataclass
class OfferedRow:
    id: int
    reference: str
    submitted_at: datetime
    open_offer: object | None  # the last open offer (therapist_name, deadline_at), if any
    overdue: bool  # Offer.is_overdue_at: its deadline passed, the worker has yet to expire it


def triage_queue(
    user: User,
    *,
    waiting: tuple[Cursor | None, Cursor | None] = (None, None),
    offered: tuple[Cursor | None, Cursor | None] = (None, None),
    size: int = 50,
) -> TriageQueue:
    """Referrals in the coordinator's programmes that wait for triage, and those offered and
    waiting for an answer: each list oldest first, one keyset page of it (`(after, before)`
    cursors), with the number in each list. Only the columns shown: one query per list, and
    one for the offers of both pages."""
    shown = (  # what the queue shows of each referral, through the tenant filter
        Referral.id,
        Referral.submitted_at,
        Referral.reference,
        Referral.participant_id,
        Referral.closed_at,
        Programme.name.label("programme_name"),
        Organisation.name.label("organisation_name"),
    )

    def page_in(state: ReferralState, cursors) -> KeysetPage:
        after, before = cursors
        return keyset_page(
            referrals_visible_to(user)
            .with_only_columns(*shown)
            .join(Organisation, Organisation.id == Referral.referring_organisation_id)
            .where(Referral.state == state),
            Referral.submitted_at,
            Referral.id,
            size=size,
            after=after,
            before=None if after else before,
            newest_first=False,
            columns=True,
        )

    counts = dict(
        db.session.execute(
            sa.select(Referral.state, sa.func.count())
            .where(
                visible_condition(user),
                Referral.state.in_([ReferralState.SUBMITTED, ReferralState.OFFERED]),
            )
            .group_by(Referral.state)
        ).all()
    )
    waiting_page = page_in(ReferralState.SUBMITTED, waiting)
    offered_page = page_in(ReferralState.OFFERED, offered)
    # Per referral the last offer that came back (waiting) or is open (offered), by id.
    back, open_offer = {}, {}
    for offer in db.session.execute(
        sa.select(
            Offer.referral_id,
            Offer.state,
            Offer.decline_reason,
            Offer.deadline_at,
            Therapist.name.label("therapist_name"),
        )
        .join(Therapist, Therapist.id == Offer.therapist_id)
        .where(
            Offer.referral_id.in_([r.id for r in (*waiting_page.rows, *offered_page.rows)]),
            Offer.state.in_([OfferState.DECLINED, OfferState.EXPIRED, OfferState.OPEN]),
        )
        .order_by(Offer.id)
    ):
        (open_offer if offer.state is OfferState.OPEN else back)[offer.referral_id] = offer
    now = utcnow()
    listed = [*waiting_page.rows, *offered_page.rows]
    waiting_page.rows = [
        WaitingRow(
            id=row.id,
            reference=row.reference,
            submitted_at=row.submitted_at,
            programme_name=row.programme_name,
            organisation_name=row.organisation_name,
            # Referral.waiting_days of a referral still waiting: no acceptance to look up.
            waiting_days=max(((row.closed_at or now) - row.submitted_at).days, 0),
            back=back.get(row.id),
        )
        for row in waiting_page.rows
    ]
    offered_page.rows = [
        OfferedRow(
            id=row.id,
            reference=row.reference,
            submitted_at=row.submitted_at,
            open_offer=open_offer.get(row.id),
            overdue=row.id in open_offer and now >= open_offer[row.id].deadline_at,
        )
        for row in offered_page.rows
    ]
    audit.record_many(
        AuditAction.READ,
        [(("referrals", row.id), row.participant_id) for row in listed],
        actor=user,
        detail="triage queue",
    )
    return TriageQueue(
        waiting=waiting_page,
        offered=offered_page,
        waiting_count=counts.get(ReferralState.SUBMITTED, 0),
        offered_count=counts.get(ReferralState.OFFERED, 0),
    )


@dataclass
class MatchPage:
    referral: Referral
    result: MatchResult
    warnings: dict[int, str | None]
    returned: Offer | None  # the last declined or expired offer: why it came back
    overdue: list[Offer]  # open offers whose deadline passed, not yet expired by the worker

    @property
    def can_offer(self) -> bool:
        """Waiting in the queue, or offered with a deadline that passed: offering again
        settles the passed offer first (offers.offer_referral), also before the worker ran."""
        if self.referral.state is ReferralState.SUBMITTED:
            return True
        return self.referral.state is ReferralState.OFFERED and bool(self.overdue)


def match_page(user: User, referral_id: int) -> MatchPage | None:
    """The programme's therapists for this referral, ranked, each with why; and who is out."""
    referral = referral_for(user, referral_id)
    if referral is None or user.role is not Role.COORDINATOR:
        return None
    today, now = local_today(), utcnow()
    result = match_referral(referral, today)
    closed = [o for o in referral.offers if o.state in (OfferState.DECLINED, OfferState.EXPIRED)]
    audit.record(
        AuditAction.READ,
        actor=user,
        obj=referral,
        participant_id=referral.participant_id,
        detail="matching",
    )
    return MatchPage(
        referral=referral,
        result=result,
        warnings={c.therapist.id: expiry_warning(c.therapist, today) for c in result.candidates},
        returned=closed[-1] if closed else None,
        overdue=[o for o in referral.offers if o.is_overdue_at(now)],
    )
