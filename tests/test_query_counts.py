"""Every daily page sends the same number of SQL statements whatever the size of the programme
or of the user's lists: the synthetic data set gives a large and a small programme, and each
page is opened as the same role in both. A page whose count grows with its rows (an N+1) fails
here before it is slow in production."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from referrals.models import (
    Offer,
    OfferState,
    Programme,
    Referral,
    ReferralState,
    Role,
    Therapist,
    TrainingGroup,
    Trajectory,
    User,
    programme_coordinators,
    programme_referrers,
    programme_therapists,
    utcnow,
)
from referrals.synthetic import build


def _account(db, role: Role, programme: Programme) -> User:
    user = User(
        organisation_id=programme.funder_id,
        email=f"{role.value}-{programme.id}@counts.invalid",
        name=f"{role.value} {programme.id}",
        role=role,
        password_hash="!none",  # noqa: S106 - logged in by the test, never by password
        password_changed_at=utcnow(),
    )
    db.session.add(user)
    db.session.flush()
    if role is Role.COORDINATOR:
        db.session.execute(
            programme_coordinators.insert().values(programme_id=programme.id, user_id=user.id)
        )
    return user


def _pages(db, programme: Programme, open_offers: int) -> dict[str, tuple[User, str]]:
    """Each daily page of `programme`: (who opens it, its URL); its busiest therapist gets
    `open_offers` more open offers (from participants in other PC4 areas)."""
    coordinator = _account(db, Role.COORDINATOR, programme)
    officer = _account(db, Role.OFFICER, programme)
    referrer = db.session.scalar(
        sa.select(User)
        .join(programme_referrers, programme_referrers.c.organisation_id == User.organisation_id)
        .where(programme_referrers.c.programme_id == programme.id, User.role == Role.REFERRER)
        .order_by(User.id)
    )
    # The programme's busiest therapist, with a group.
    therapist = db.session.scalar(
        sa.select(Therapist)
        .join(programme_therapists)
        .where(programme_therapists.c.programme_id == programme.id)
        .order_by(Therapist.active_participants.desc(), Therapist.id)
    )
    therapist_user = db.session.get(User, therapist.user_id)
    waiting = db.session.scalars(
        sa.select(Referral)
        .where(Referral.programme_id == programme.id, Referral.state == ReferralState.SUBMITTED)
        .order_by(Referral.id)
        .limit(open_offers)
    ).all()
    for n, referral in enumerate(waiting):
        referral.state = ReferralState.OFFERED
        referral.participant.postcode = f"{2200 + n} AB"
        db.session.add(
            Offer(
                referral_id=referral.id,
                therapist_id=therapist.id,
                offered_at=utcnow(),
                deadline_at=utcnow() + timedelta(days=3),
                state=OfferState.OPEN,
            )
        )
    trajectory = db.session.scalar(
        sa.select(Trajectory)
        .where(Trajectory.therapist_id == therapist.id, Trajectory.closed_at.is_(None))
        .order_by(Trajectory.id)
    )
    group = db.session.scalar(
        sa.select(TrainingGroup).where(TrainingGroup.therapist_id == therapist.id)
    )
    referral = db.session.scalar(
        sa.select(Referral).where(Referral.programme_id == programme.id).order_by(Referral.id)
    )
    return {
        "referral list": (coordinator, "/referrals"),
        "referral list (referrer)": (referrer, "/referrals"),
        "referral detail": (coordinator, f"/referrals/{referral.id}"),
        "triage queue": (coordinator, "/triage"),
        "inbox": (therapist_user, "/offers"),
        "trajectory": (therapist_user, f"/trajectories/{trajectory.id}"),
        "group": (therapist_user, f"/groups/{group.id}"),
        "group session": (therapist_user, f"/groups/{group.id}/sessions/new"),
        "dashboard": (officer, f"/uptake/{programme.id}"),
    }


@pytest.fixture
def two_programmes(db):
    built = build(referrals=700, programmes=3, largest=500, seed=7)
    db.session.flush()
    large = db.session.get(Programme, built.largest_programme_id)
    small = db.session.get(Programme, built.smallest_programme_id)
    pages = {"large": _pages(db, large, 4), "small": _pages(db, small, 1)}
    db.session.commit()
    return pages


def test_each_page_sends_as_many_statements_for_a_large_programme_as_for_a_small_one(
    app, db, login_as, queries, two_programmes
):
    counts: dict[str, dict[str, int]] = {}
    for size, pages in two_programmes.items():
        for name, (user, url) in pages.items():
            client = app.test_client()
            login_as(user=user, into=client)
            assert client.get(url).status_code == 200, (size, name)  # warm: one-time loads
            with queries() as log:
                response = client.get(url)
            assert response.status_code == 200, (size, name)
            counts.setdefault(name, {})[size] = len(log.statements)
    grown = {name: c for name, c in counts.items() if c["large"] != c["small"]}
    assert not grown, grown


def test_no_page_sends_the_same_read_twice(app, db, login_as, two_programmes):
    """The same SELECT with the same values twice in one request is a row loaded twice (such
    as the user and organisation reloaded after the commit)."""
    twice = {}
    for size, pages in two_programmes.items():
        for name, (user, url) in pages.items():
            client = app.test_client()
            login_as(user=user, into=client)
            sent = []

            def listener(conn, cursor, statement, parameters, *args, sent=sent):
                if statement.lstrip().upper().startswith("SELECT"):
                    sent.append((statement, repr(parameters)))

            sa.event.listen(db.engine, "before_cursor_execute", listener)
            try:
                assert client.get(url).status_code == 200
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", listener)
            repeated = [s[:90] for s, n in Counter(sent).items() if n > 1]
            # The session query loads the user with the organisation; reading either again
            # by its key (after the commit expired them) is the same row twice.
            repeated += [
                s[:90]
                for s, values in sent
                if ("WHERE users.id = " in s and str(user.id) in values)
                or ("WHERE organisations.id = " in s and str(user.organisation_id) in values)
            ]
            if repeated:
                twice[(size, name)] = repeated
    assert not twice, twice


def test_no_page_loads_a_programmes_coordinators_to_check_access(app, db, login_as, two_programmes):
    """A coordinator's access to a referral or a programme is decided from the ids of the
    programmes they coordinate (read once per request), not by loading every coordinator of
    the programme as users."""
    loaded = {}
    for size, pages in two_programmes.items():
        coordinator, dashboard = pages["referral detail"][0], pages["dashboard"][1]
        pages = {**pages, "dashboard (coordinator)": (coordinator, dashboard)}
        for name, (user, url) in pages.items():
            client = app.test_client()
            login_as(user=user, into=client)
            sent = []

            def listener(conn, cursor, statement, parameters, *args, sent=sent):
                flat = " ".join(statement.split())
                if "FROM users" in flat and "programme_coordinators" in flat:
                    sent.append(flat[:120])

            sa.event.listen(db.engine, "before_cursor_execute", listener)
            try:
                assert client.get(url).status_code == 200
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", listener)
            if sent:
                loaded[(size, name)] = sent
    assert not loaded, loaded
