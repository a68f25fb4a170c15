"""A therapist's own work: the offers made to them (while open, and after they accepted), and
their trajectories, groups and logged sessions. Nobody else sees any of these here."""

from __future__ import annotations

import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import (
    Offer,
    OfferState,
    Role,
    Therapist,
    TrainingGroup,
    TrainingSession,
    Trajectory,
    User,
)

SHOWN_OFFER_STATES = (OfferState.OPEN, OfferState.ACCEPTED)


def _is_therapist(user: User) -> bool:
    return user.is_authenticated and user.role is Role.THERAPIST


def _own(user: User, therapist: Therapist | None) -> bool:
    return _is_therapist(user) and therapist is not None and therapist.user_id == user.id


def _own_therapist_ids(user: User) -> sa.Select:
    return sa.select(Therapist.id).where(Therapist.user_id == user.id)


def _only_own(query: sa.Select, column, user: User) -> sa.Select:
    if not _is_therapist(user):
        return query.where(sa.false())
    return query.where(column.in_(_own_therapist_ids(user)))


def can_view_offer(user: User, offer: Offer) -> bool:
    return _own(user, offer.therapist) and offer.state in SHOWN_OFFER_STATES


def offers_visible_to(user: User) -> sa.Select:
    query = sa.select(Offer).where(Offer.state.in_(SHOWN_OFFER_STATES))
    return _only_own(query, Offer.therapist_id, user)


def offer_for(user: User, offer_id: int) -> Offer | None:
    return db.session.scalar(offers_visible_to(user).where(Offer.id == offer_id))


def closed_offer_state(user: User, offer_id: int) -> OfferState | None:
    """The state of the user's own offer that is no longer shown (withdrawn, expired,
    declined): what happened to it may be said, nothing about the person it was about."""
    query = _only_own(sa.select(Offer.state), Offer.therapist_id, user).where(Offer.id == offer_id)
    state = db.session.scalar(query)
    return None if state in SHOWN_OFFER_STATES else state


def can_view_trajectory(user: User, trajectory: Trajectory) -> bool:
    return _own(user, trajectory.therapist)


def trajectories_visible_to(user: User) -> sa.Select:
    return _only_own(sa.select(Trajectory), Trajectory.therapist_id, user)


def trajectory_for(user: User, trajectory_id: int, *options) -> Trajectory | None:
    """The trajectory through the filter; `options`: loader options for what the caller shows
    of it."""
    query = trajectories_visible_to(user).where(Trajectory.id == trajectory_id)
    return db.session.scalar(query.options(*options) if options else query)


def can_view_group(user: User, group: TrainingGroup) -> bool:
    return _own(user, group.therapist)


def groups_visible_to(user: User) -> sa.Select:
    return _only_own(sa.select(TrainingGroup), TrainingGroup.therapist_id, user)


def group_for(user: User, group_id: int) -> TrainingGroup | None:
    return db.session.scalar(groups_visible_to(user).where(TrainingGroup.id == group_id))


def can_view_session(user: User, session: TrainingSession) -> bool:
    return _own(user, session.therapist)


def sessions_visible_to(user: User) -> sa.Select:
    return _only_own(sa.select(TrainingSession), TrainingSession.therapist_id, user)


def session_for(user: User, session_id: int) -> TrainingSession | None:
    return db.session.scalar(sessions_visible_to(user).where(TrainingSession.id == session_id))
