"""Referrals: a referrer sees their organisation's referrals, a coordinator those in the
programmes they coordinate; nobody else sees any."""

from __future__ import annotations

import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import Referral, Role, User, programme_coordinators


def _coordinated_by(user: User) -> sa.Select:
    return sa.select(programme_coordinators.c.programme_id).where(
        programme_coordinators.c.user_id == user.id
    )


def can_view_referral(user: User, referral: Referral) -> bool:
    """The object rule; `referrals_visible_to` is the same rule as a query."""
    if not user.is_authenticated:
        return False
    if user.role is Role.REFERRER:
        return referral.referring_organisation_id == user.organisation_id
    if user.role is Role.COORDINATOR:
        return any(c.id == user.id for c in referral.programme.coordinators)
    return False


def referrals_visible_to(user: User) -> sa.Select:
    """The referrals `user` may see, joined with their participant and programme."""
    query = sa.select(Referral).join(Referral.participant).join(Referral.programme)
    if not user.is_authenticated:
        return query.where(sa.false())
    if user.role is Role.REFERRER:
        return query.where(Referral.referring_organisation_id == user.organisation_id)
    if user.role is Role.COORDINATOR:
        return query.where(Referral.programme_id.in_(_coordinated_by(user)))
    return query.where(sa.false())


def referral_for(user: User, referral_id: int) -> Referral | None:
    """The referral, loaded through the filter: None when it does not exist for `user`."""
    return db.session.scalar(referrals_visible_to(user).where(Referral.id == referral_id))


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
