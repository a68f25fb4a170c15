"""Offers: a coordinator offers a referral to one therapist, who accepts or declines in time.

Races are settled in the database. Accepting moves the offer (`open` -> `accepted`, only
before its deadline), then takes a place from the therapist (`active_participants + 1` only
while below capacity), then moves the referral (`offered` -> `accepted`): each a conditional
UPDATE. If any of them changes no row, the whole transaction is rolled back by the caller and
the person gets a clear message; so of any number of simultaneous attempts exactly one wins,
on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    LOCAL_ZONE,
    AuditAction,
    DeclineReason,
    NotificationKind,
    Offer,
    OfferState,
    Referral,
    ReferralState,
    Therapist,
    User,
    local_today,
    programme_coordinators,
    utcnow,
)
from referrals.services import ServiceError
from referrals.services.notifications import enqueue, enqueue_many
from referrals.services.notifications.texts import notification_text
from referrals.services.referrals.matching import exclusion_reasons, match_referral
from referrals.services.states import (
    TransitionRefused,
    apply_transition,
    apply_transition_many,
)
from referrals.services.therapists import geo
from referrals.services.trajectories import start_trajectory


class OfferRefused(ServiceError):
    """The offer cannot be answered (any more): taken, expired, or no place left."""


@cache
def _public_holidays(year: int) -> frozenset[date]:
    """The days the Algemene termijnenwet does not count as working days: the Dutch public
    holidays from the `holidays` package, and 5 May every year (the package has it only in
    lustrum years, when it is a day off for everyone)."""
    import holidays

    return frozenset(holidays.country_holidays("NL", years=year)) | {date(year, 5, 5)}


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _public_holidays(day.year)


def add_working_days(start: datetime, days: int) -> datetime:
    """`days` working days after `start` (Monday to Friday, not a public holiday), at the same
    time of day."""
    # Count on the Dutch calendar and clock: a Saturday-night offer is due on a Dutch weekday,
    # and a change to or from summer time keeps the deadline at the same wall-clock time.
    moment, left = start.astimezone(LOCAL_ZONE), days
    while left > 0:
        moment += timedelta(days=1)
        if is_working_day(moment.date()):
            left -= 1
    return moment.astimezone(UTC)


def _notify(kind: NotificationKind, referral: Referral, recipients) -> None:
    subject, body = notification_text(kind, referral)
    for user in recipients:
        if user is not None and user.is_active:
            enqueue(kind, user, subject, body)


def _coordinators(referral: Referral) -> list[User]:
    return list(referral.programme.coordinators)


def offer_referral(referral: Referral, therapist: Therapist, *, actor: User | None) -> Offer:
    """Offer a submitted referral to one therapist of its programme, with a deadline."""
    # The coordinator's own choice replaces an automatic next offer.
    return_overdue_offers(referral=referral, offer_next=False)
    if therapist not in referral.programme.therapists:
        raise ServiceError(_("This therapist does not take part in the programme."))
    now = utcnow()
    distance = geo.distance_km(referral.participant.postcode, therapist.postcode)
    reasons = exclusion_reasons(therapist, referral, local_today(), distance)
    if reasons:
        raise ServiceError(
            _("This therapist cannot get the offer: %(why)s.", why=", ".join(reasons))
        )
    apply_transition(referral, "offer", actor, note=therapist.name)
    offer = Offer(
        referral_id=referral.id,
        therapist=therapist,
        offered_by=actor,
        offered_at=now,
        deadline_at=add_working_days(now, referral.programme.offer_deadline_days),
        state=OfferState.OPEN,
    )
    db.session.add(offer)
    db.session.flush()
    audit.record(AuditAction.CREATE, actor=actor, obj=offer, participant_id=referral.participant_id)
    _notify(NotificationKind.NEW_OFFER, referral, [therapist.user])
    return offer


def offer_to_best_match(referral: Referral, *, actor: User | None) -> Offer | None:
    """For programmes that offer automatically: offer to the best-ranked therapist, if any."""
    best = match_referral(referral, local_today()).best
    if best is None:
        return None
    return offer_referral(referral, best.therapist, actor=actor)


def _close_offer(offer: Offer, to_state: OfferState, **values) -> bool:
    """Move an open offer to `to_state`; False when it was no longer open (or overdue)."""
    now = utcnow()
    query = sa.update(Offer).where(Offer.id == offer.id, Offer.state == OfferState.OPEN)
    if to_state in (OfferState.ACCEPTED, OfferState.DECLINED):
        query = query.where(Offer.deadline_at > now)
    result = db.session.execute(
        query.values(state=to_state, responded_at=now, **values).execution_options(
            synchronize_session=False
        )
    )
    db.session.refresh(offer)
    return result.rowcount == 1


def accept_offer(offer: Offer, *, actor: User) -> Referral:
    """The therapist accepts: referral accepted, one place taken, referrer and coordinator told.

    Only the therapist the offer was made to, only while it is open and before its deadline: a
    declined or expired offer stays closed, also after the referral was offered to someone else.
    """
    if offer.therapist.user_id is None or offer.therapist.user_id != actor.id:
        raise OfferRefused(_("This offer was made to another therapist."))
    referral = db.session.get(Referral, offer.referral_id)
    if not _close_offer(offer, OfferState.ACCEPTED):
        raise OfferRefused(
            _("This offer is no longer open: it was answered or its deadline passed.")
        )
    taken = db.session.execute(
        sa.update(Therapist)
        .where(
            Therapist.id == offer.therapist_id,
            Therapist.active_participants < Therapist.capacity,
        )
        .values(active_participants=Therapist.active_participants + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise OfferRefused(_("You have no free place left. Decline the offer or make room first."))
    db.session.refresh(offer.therapist)
    try:
        apply_transition(referral, "accept", actor, therapist_id=offer.therapist_id)
    except TransitionRefused as refused:
        raise OfferRefused(refused.message) from None
    start_trajectory(referral, offer.therapist, actor=actor)
    audit.record(AuditAction.UPDATE, actor=actor, obj=offer, participant_id=referral.participant_id)
    _notify(
        NotificationKind.OFFER_ACCEPTED, referral, [referral.referrer, *_coordinators(referral)]
    )
    return referral


def decline_offer(offer: Offer, *, actor: User, reason: DeclineReason, note: str = "") -> Referral:
    """The therapist declines with a reason; the referral returns to the coordinator's queue."""
    if reason is DeclineReason.OTHER and not note.strip():
        raise ServiceError(_("Explain the reason when you choose 'Other reason'."), "note")
    referral = db.session.get(Referral, offer.referral_id)
    if not _close_offer(
        offer, OfferState.DECLINED, decline_reason=reason, decline_note=note.strip() or None
    ):
        raise OfferRefused(
            _("This offer is no longer open: it was answered or its deadline passed.")
        )
    # The explanation stays on the offer, for the coordinator; the referral's history (which the
    # referrer reads) records only that the offer was declined.
    apply_transition(referral, "decline", actor, reason=reason.value)
    audit.record(AuditAction.UPDATE, actor=actor, obj=offer, participant_id=referral.participant_id)
    _notify(NotificationKind.OFFER_DECLINED, referral, _coordinators(referral))
    _offer_next_if_automatic(referral)
    return referral


def close_open_offers(referral: Referral, to_state: OfferState) -> list[Offer]:
    """When a referral leaves `offered` another way (withdrawn), its open offer closes too."""
    closed = []
    for offer in referral.offers:
        if offer.state is OfferState.OPEN and _close_offer(offer, to_state):
            closed.append(offer)
    return closed


def return_overdue_offers(
    *, referral: Referral | None = None, now: datetime | None = None, offer_next: bool = True
) -> int:
    """Expire open offers past their deadline and put their referrals back in the queue.

    The worker runs this periodically (settle_deadlines), over all offers in batches of
    EXPIRY_BATCH with a fixed number of statements per batch. Pages never call it: they show
    a passed deadline as passed; offering the referral again settles its passed offer first
    (with `referral`: only its own offers).
    """
    now = now or utcnow()
    if referral is not None:
        return _return_overdue_of(referral, now, offer_next)
    returned = 0
    while True:
        batch, done = _expire_batch(now, offer_next)
        returned += batch
        if done:
            return returned


EXPIRY_BATCH = 1000


def _return_overdue_of(referral: Referral, now: datetime, offer_next: bool) -> int:
    returned = 0
    overdue = sa.select(Offer).where(
        Offer.referral_id == referral.id, Offer.state == OfferState.OPEN, Offer.deadline_at <= now
    )
    for offer in db.session.scalars(overdue.order_by(Offer.id)).all():
        if not _close_offer(offer, OfferState.EXPIRED):
            continue
        if referral.state is not ReferralState.OFFERED:
            continue
        apply_transition(referral, "expire", None, reason="deadline_passed")
        _notify(NotificationKind.OFFER_EXPIRED, referral, _coordinators(referral))
        if offer_next:
            _offer_next_if_automatic(referral)
        returned += 1
    return returned


def _expire_batch(now: datetime, offer_next: bool) -> tuple[int, bool]:
    """Expire up to EXPIRY_BATCH overdue offers: one UPDATE of the offers, one of their
    referrals (apply_transition_many), one INSERT each for the history lines, audit rows and
    the coordinators' e-mails, and two reads (the referrals for the texts, their programmes'
    coordinators). Programmes that offer automatically then match each of their returned
    referrals, which is per referral by nature. Returns (referrals returned, last batch?)."""
    due = (
        sa.select(Offer.id)
        .where(Offer.state == OfferState.OPEN, Offer.deadline_at <= now)
        .order_by(Offer.id)
        .limit(EXPIRY_BATCH)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)  # two workers take different offers
    expired = (
        db.session.execute(
            sa.update(Offer)
            .where(Offer.id.in_(due.scalar_subquery()), Offer.state == OfferState.OPEN)
            .values(state=OfferState.EXPIRED, responded_at=now)
            .returning(Offer.referral_id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    moved = apply_transition_many(sorted(set(expired)), "expire", None, reason="deadline_passed")
    if moved:
        referrals = db.session.scalars(
            sa.select(Referral)
            .where(Referral.id.in_([referral_id for referral_id, _ in moved]))
            .options(selectinload(Referral.programme))
            .order_by(Referral.id)
            .execution_options(populate_existing=True)
        ).all()
        coordinators: dict[int, list[User]] = {}
        for programme_id, user in db.session.execute(
            sa.select(programme_coordinators.c.programme_id, User)
            .join(User, User.id == programme_coordinators.c.user_id)
            .where(programme_coordinators.c.programme_id.in_({r.programme_id for r in referrals}))
            .options(joinedload(User.organisation))  # is_active asks it
            .order_by(User.id)
        ).all():
            coordinators.setdefault(programme_id, []).append(user)
        messages = []
        for returned in referrals:
            subject, body = notification_text(NotificationKind.OFFER_EXPIRED, returned)
            messages.extend(
                (user, subject, body)
                for user in coordinators.get(returned.programme_id, [])
                if user.is_active
            )
        enqueue_many(NotificationKind.OFFER_EXPIRED, messages)
        if offer_next:
            for returned in referrals:
                if returned.programme.auto_offer:
                    _offer_next_if_automatic(returned)
    # Expired rows stay in the session with their old state unless refreshed.
    db.session.expire_all()
    return len(moved), len(expired) < EXPIRY_BATCH


def settle_deadlines(*, now: datetime | None = None) -> tuple[int, int]:
    """The worker's step: expire overdue offers (their referrals back to the queue, or on to
    the next match where the programme offers automatically) and remind therapists of offers
    that end within a day. Returns (returned, reminded); the caller commits."""
    now = now or utcnow()
    return return_overdue_offers(now=now), remind_offers_near_deadline(now=now)


REMIND_BEFORE = timedelta(hours=24)


def remind_offers_near_deadline(*, now: datetime | None = None) -> int:
    """Remind each therapist once when an open offer to them ends within REMIND_BEFORE.

    The reminders are claimed by one conditional UPDATE of `reminded_at` (RETURNING what it
    claimed), so two workers never send the same one twice; then the texts' referrals and
    the therapists' accounts are read in one query each and the e-mails written in one
    INSERT, however many offers end soon."""
    now = now or utcnow()
    claimed = db.session.execute(
        sa.update(Offer)
        .where(
            Offer.state == OfferState.OPEN,
            Offer.reminded_at.is_(None),
            Offer.deadline_at > now,
            Offer.deadline_at <= now + REMIND_BEFORE,
        )
        .values(reminded_at=now)
        .returning(Offer.referral_id, Offer.therapist_id)
        .execution_options(synchronize_session=False)
    ).all()
    if not claimed:
        return 0
    referrals = {
        r.id: r
        for r in db.session.scalars(
            sa.select(Referral).where(Referral.id.in_({referral_id for referral_id, _ in claimed}))
        )
    }
    users = dict(
        db.session.execute(
            sa.select(Therapist.id, User)
            .join(User, User.id == Therapist.user_id)
            .where(Therapist.id.in_({therapist_id for _, therapist_id in claimed}))
            .options(joinedload(User.organisation))  # is_active asks it
        ).all()
    )
    messages = []
    for referral_id, therapist_id in sorted(claimed):
        user = users.get(therapist_id)
        if user is not None and user.is_active:
            subject, body = notification_text(
                NotificationKind.OFFER_DEADLINE_NEAR, referrals[referral_id]
            )
            messages.append((user, subject, body))
    enqueue_many(NotificationKind.OFFER_DEADLINE_NEAR, messages)
    db.session.expire_all()  # the claimed offers' reminded_at
    return len(claimed)


def _offer_next_if_automatic(referral: Referral) -> None:
    if referral.programme.auto_offer and referral.state is ReferralState.SUBMITTED:
        offer_to_best_match(referral, actor=None)
