"""Programme figures: an officer sees the programmes their organisation funds, a coordinator
the programmes they coordinate; nobody else sees any."""

from __future__ import annotations

import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import Programme, Role, User, programme_coordinators
from referrals.permissions.referrals import coordinated_programme_ids


def can_view_figures(user: User, programme: Programme) -> bool:
    """The object rule; `programmes_visible_to` is the same rule as a query."""
    if not user.is_authenticated:
        return False
    if user.role is Role.OFFICER:
        return programme.funder_id == user.organisation_id
    if user.role is Role.COORDINATOR:
        return programme.id in coordinated_programme_ids(user)
    return False


def programmes_visible_to(user: User) -> sa.Select:
    """The programmes whose uptake figures, exports and reports `user` may see, by name."""
    query = sa.select(Programme).order_by(Programme.name, Programme.id)
    if not user.is_authenticated:
        return query.where(sa.false())
    if user.role is Role.OFFICER:
        return query.where(Programme.funder_id == user.organisation_id)
    if user.role is Role.COORDINATOR:
        mine = sa.select(programme_coordinators.c.programme_id).where(
            programme_coordinators.c.user_id == user.id
        )
        return query.where(Programme.id.in_(mine))
    return query.where(sa.false())


def programme_for(user: User, programme_id: int) -> Programme | None:
    """The programme, loaded through the filter: None when its figures are not for `user`."""
    return db.session.scalar(programmes_visible_to(user).where(Programme.id == programme_id))
