"""Referrals: a referrer sees their organisation's referrals, a coordinator those in the
programmes they coordinate; nobody else sees any."""

from __future__ import annotations

import sqlalchemy as sa
from flask import g, has_request_context

from referrals.extensions import db
from referrals.models import Referral, Role, User, programme_coordinators


def coordinated_programme_ids(user: User) -> tuple[int, ...]:
    """The ids of the programmes `user` coordinates, read once per request. The object rules
    ask it (no load of each programme's coordinators), and the list filters put it in as
    values (not a subquery), so PostgreSQL reads a list page from the (programme, submitted)
    index instead of sorting the whole programme to keep 50."""
    cache = g.setdefault("coordinated_programmes", {}) if has_request_context() else {}
    if user.id not in cache:
        cache[user.id] = tuple(
            db.session.scalars(
                sa.select(programme_coordinators.c.programme_id)
                .where(programme_coordinators.c.user_id == user.id)
                .order_by(programme_coordinators.c.programme_id)
            )
        )
    return cache[user.id]


def can_view_referral(user: User, referral: Referral) -> bool:
    """The object rule; `referrals_visible_to` is the same rule as a query."""
    if not user.is_authenticated:
        return False
    if user.role is Role.REFERRER:
        return referral.referring_organisation_id == user.organisation_id
    if user.role is Role.COORDINATOR:
        return referral.programme_id in coordinated_programme_ids(user)
    return False


def visible_condition(user: User) -> sa.ColumnElement[bool]:
    """`referrals_visible_to`'s rule as a condition on the referrals table alone, for queries
    that need no participant or programme (counts, the programmes a user's referrals are in)."""
    if not user.is_authenticated:
        return sa.false()
    if user.role is Role.REFERRER:
        return Referral.referring_organisation_id == user.organisation_id
    if user.role is Role.COORDINATOR:
        return Referral.programme_id.in_(coordinated_programme_ids(user))
    return sa.false()


def referrals_visible_to(user: User) -> sa.Select:
    """The referrals `user` may see, joined with their participant and programme."""
    query = sa.select(Referral).join(Referral.participant).join(Referral.programme)
    return query.where(visible_condition(user))


def referral_for(user: User, referral_id: int, *options) -> Referral | None:
    """The referral, loaded through the filter: None when it does not exist for `user`.
    `options`: loader options for what the caller shows of it (the filter's joins are the
    referral's participant and programme, for contains_eager)."""
    query = referrals_visible_to(user).where(Referral.id == referral_id)
    return db.session.scalar(query.options(*options) if options else query)


def can_withdraw(user: User, referral: Referral) -> bool:
    return can_follow(user, referral)


def can_reject(user: User, referral: Referral) -> bool:
    return can_triage(user, referral)


def can_follow(user: User, referral: Referral) -> bool:
    """A referrer of the referring organisation: follows it, sees progress with consent."""
    return can_view_referral(user, referral) and user.role is Role.REFERRER


def can_triage(user: User, referral: Referral) -> bool:
    """A coordinator of its programme: matches, offers, rejects, reads the offer notes."""
    return can_view_referral(user, referral) and user.role is Role.COORDINATOR
