"""Refused reads leave a trace: a participant object asked for and not shown (403 or 404) is an
audit row with the object's id, so that trying ids one after another shows in the log; the rows
per user are capped, so that nobody can flood the log with them."""

from __future__ import annotations

from datetime import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from referrals.extensions import db, limiter
from referrals.models import AuditAction, AuditEvent, Role, Trajectory, Weekday
from referrals.services.referrals.offers import accept_offer, offer_referral
from referrals.services.trajectories.groups import create_group
from tests import factories
from tests.helpers import text


@pytest.fixture(autouse=True)
def fresh_counters():
    limiter.reset()
    yield
    limiter.reset()


def refused_rows(db, user) -> list[tuple]:
    rows = db.session.execute(
        sa.select(AuditEvent.object_type, AuditEvent.object_id, AuditEvent.detail)
        .where(AuditEvent.user_id == user.id, AuditEvent.action == AuditAction.REFUSED)
        .order_by(AuditEvent.id)
    )
    return [tuple(row) for row in rows]


def _trajectory(world) -> Trajectory:
    referral = factories.make_referral(programme=world.programme, referrer=world.gp)
    offer = offer_referral(referral, world.therapist, actor=world.coordinator)
    accept_offer(offer, actor=world.therapist_user)
    return db.session.scalars(
        sa.select(Trajectory).where(Trajectory.referral_id == referral.id)
    ).one()


def test_another_therapists_trajectory_is_a_404_with_a_refused_row(client, login_as):
    world = factories.make_world()
    trajectory = _trajectory(world)
    db.session.commit()
    stranger = login_as(user=factories.make_user(role=Role.THERAPIST))
    factories.make_therapist(user=stranger)
    assert client.get(f"/trajectories/{trajectory.id}").status_code == 404
    assert refused_rows(db, stranger) == [
        ("trajectories", str(trajectory.id), "404 trajectories.trajectory")
    ]


def test_an_id_that_does_not_exist_is_recorded_too(client, login_as):
    """Enumeration tries ids that are not there as well as ids of others."""
    user = login_as(Role.REFERRER)
    assert client.get("/referrals/987654").status_code == 404
    assert refused_rows(db, user) == [("referrals", "987654", "404 intake.referral")]


def test_a_wrong_role_is_a_403_with_a_refused_row(client, login_as):
    world = factories.make_world()
    trajectory = _trajectory(world)
    db.session.commit()
    login_as(user=world.gp)
    assert client.get(f"/trajectories/{trajectory.id}").status_code == 403
    assert refused_rows(db, world.gp) == [
        ("trajectories", str(trajectory.id), "403 trajectories.trajectory")
    ]


def test_a_missing_page_without_a_participant_object_writes_nothing(client, login_as):
    user = login_as(Role.REFERRER)
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/admin/programmes/987654/edit").status_code in (403, 404)
    assert refused_rows(db, user) == []


def test_refused_rows_are_capped_per_user_with_one_row_saying_so(app, client, login_as):
    user = login_as(Role.REFERRER)
    cap = int(app.config["REFUSED_ACCESS_LIMIT"].split()[0])
    for n in range(cap + 20):
        assert client.get(f"/referrals/{900000 + n}").status_code == 404
    rows = refused_rows(db, user)
    assert len(rows) == cap + 1
    assert [row[1] for row in rows[:cap]] == [str(900000 + n) for n in range(cap)]
    assert rows[-1] == (None, None, "more refusals in this period not recorded")
    # Another user is counted on their own.
    other = login_as(Role.REFERRER, into=(other_client := app.test_client()))
    assert other_client.get("/referrals/900001").status_code == 404
    assert len(refused_rows(db, other)) == 1


def test_a_refused_post_is_recorded_too(client, db, login_as):
    user = login_as(Role.COORDINATOR)
    assert client.post("/triage/987654/reject", data={"reason": "other"}).status_code == 404
    db.session.expire_all()
    assert refused_rows(db, user) == [("referrals", "987654", "404 triage.reject")]


def test_the_object_asked_for_is_the_last_one_in_the_url(client, login_as):
    """Removing someone else's trajectory from one's own group names that trajectory."""
    world = factories.make_world()
    trajectory = _trajectory(world)
    stranger = factories.make_user(role=Role.THERAPIST)
    own = factories.make_therapist(user=stranger)
    group = create_group(
        own,
        actor=stranger,
        name="Eigen groep",
        weekday=Weekday.THURSDAY,
        starts_at=time(19),
        meeting_place="Park",
        max_size=8,
    )
    db.session.commit()
    login_as(user=stranger)
    url = f"/groups/{group.id}/members/{trajectory.id}/remove"
    assert client.post(url).status_code == 404
    assert refused_rows(db, stranger) == [
        ("trajectories", str(trajectory.id), "404 trajectories.remove_member")
    ]


def test_a_database_that_cannot_take_the_row_still_gives_the_404(client, login_as, monkeypatch):
    login_as(Role.REFERRER)

    def refuse(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(db.session, "commit", refuse)
    response = client.get("/referrals/987654")
    assert response.status_code == 404
    assert "<h1>" in text(response)
