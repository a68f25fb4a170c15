"""Each object rule and its query filter are one rule: for every user of every role, in two
tenants (two municipalities with their programmes, GP practices, social teams, coordinators,
officers and therapists), the objects the filter returns are exactly those the predicate allows.
A list page and a detail page can therefore never disagree."""

from __future__ import annotations

from datetime import time

import pytest
import sqlalchemy as sa
from flask_login import AnonymousUserMixin

from referrals import permissions
from referrals.extensions import db
from referrals.models import (
    Offer,
    Programme,
    Referral,
    Role,
    TrainingGroup,
    TrainingSession,
    Trajectory,
    User,
    Weekday,
    local_today,
)
from referrals.services.referrals import offers
from tests import factories
from tests.training_setup import make_practice

RULES = {
    "referral": (Referral, permissions.can_view_referral, permissions.referrals_visible_to),
    "programme": (Programme, permissions.can_view_figures, permissions.programmes_visible_to),
    "offer": (Offer, permissions.can_view_offer, permissions.offers_visible_to),
    "trajectory": (
        Trajectory,
        permissions.can_view_trajectory,
        permissions.trajectories_visible_to,
    ),
    "group": (TrainingGroup, permissions.can_view_group, permissions.groups_visible_to),
    "session": (TrainingSession, permissions.can_view_session, permissions.sessions_visible_to),
}
LOADERS = {
    "referral": permissions.referral_for,
    "programme": permissions.programme_for,
    "offer": permissions.offer_for,
    "trajectory": permissions.trajectory_for,
    "group": permissions.group_for,
    "session": permissions.session_for,
}


def _tenant(db):
    """A practice (world, therapist with two participants in a group and a logged session), an
    officer, a social-team referral, an open and a declined offer."""
    practice = make_practice(participants=2)
    world_programme = practice.programme
    factories.make_user(role=Role.OFFICER, organisation=world_programme.funder)
    social_team = factories.make_user(role=Role.REFERRER, organisation=world_programme.funder)
    world_programme.referrer_organisations.append(world_programme.funder)
    factories.make_referral(programme=world_programme, referrer=social_team, first_name="Team")
    group = practice.group(*practice.trajectories)
    db.session.add(
        TrainingSession(
            therapist=practice.therapist,
            group=group,
            held_on=local_today(),
            logged_by=practice.user,
        )
    )
    waiting = factories.make_referral(
        programme=world_programme, referrer=practice.referrer, first_name="Open"
    )
    offers.offer_referral(waiting, practice.therapist, actor=practice.coordinator)
    declined = factories.make_referral(
        programme=world_programme, referrer=practice.referrer, first_name="Nee"
    )
    offers.decline_offer(
        offers.offer_referral(declined, practice.therapist, actor=practice.coordinator),
        actor=practice.user,
        reason=offers.DeclineReason.SCHEDULE,
    )
    db.session.commit()
    return practice


@pytest.fixture
def tenants(db):
    return _tenant(db), _tenant(db)


def _users() -> list:
    everyone = list(db.session.scalars(sa.select(User).order_by(User.id)))
    everyone.append(factories.make_user(role=Role.ADMIN))
    return [*everyone, AnonymousUserMixin()]


@pytest.mark.parametrize("kind", sorted(RULES))
def test_the_filter_returns_exactly_what_the_predicate_allows(db, tenants, kind):
    model, can_view, visible_to = RULES[kind]
    every = list(db.session.scalars(sa.select(model)))
    seen_by_someone = set()
    for user in _users():
        via_filter = set(db.session.scalars(visible_to(user)))
        via_predicate = {obj for obj in every if can_view(user, obj)}
        assert via_filter == via_predicate, (kind, getattr(user, "role", "anonymous"))
        seen_by_someone |= via_filter
    assert seen_by_someone, f"nobody sees any {kind}: the test would prove nothing"


@pytest.mark.parametrize("kind", sorted(RULES))
def test_the_loader_gives_none_for_the_other_tenants_objects(db, tenants, kind):
    model, can_view, _ = RULES[kind]
    load = LOADERS[kind]
    every = list(db.session.scalars(sa.select(model)))
    for user in _users():
        for obj in every:
            loaded = load(user, obj.id)
            assert (loaded is obj) is can_view(user, obj), (kind, obj.id)


def test_a_group_of_another_therapist_is_not_one_of_mine(db, tenants):
    first, second = tenants
    theirs = TrainingGroup(
        therapist=second.therapist,
        name="Donderdaggroep",
        weekday=Weekday.THURSDAY,
        starts_at=time(18, 0),
        meeting_place="Sportpark",
    )
    db.session.add(theirs)
    db.session.flush()
    assert permissions.group_for(first.user, theirs.id) is None
    assert permissions.group_for(second.user, theirs.id) is theirs


def test_the_referral_predicates_answer_no_for_an_anonymous_visitor(db, tenants):
    referral = db.session.scalars(sa.select(Referral)).first()
    anonymous = AnonymousUserMixin()
    for predicate in (
        permissions.can_follow,
        permissions.can_triage,
        permissions.can_withdraw,
        permissions.can_reject,
    ):
        assert predicate(anonymous, referral) is False


def test_no_user_of_one_tenant_sees_anything_of_the_other(db, tenants):
    """Agreement alone would let a leak in both predicate and filter pass: this checks the
    filters against the tenants themselves."""
    first, second = tenants
    for mine, theirs in ((first, second), (second, first)):
        users = [mine.user, mine.coordinator, mine.referrer]
        their_referrals = set(
            db.session.scalars(
                sa.select(Referral).where(Referral.programme_id == theirs.programme.id)
            )
        )
        their_trajectories = set(
            db.session.scalars(
                sa.select(Trajectory).where(Trajectory.therapist_id == theirs.therapist.id)
            )
        )
        for user in users:
            assert not set(db.session.scalars(permissions.referrals_visible_to(user))) & (
                their_referrals
            )
            assert not set(db.session.scalars(permissions.trajectories_visible_to(user))) & (
                their_trajectories
            )
            assert theirs.programme not in set(
                db.session.scalars(permissions.programmes_visible_to(user))
            )
