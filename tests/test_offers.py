"""Offers: from the coordinator's choice to the therapist's answer, deadlines and access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from referrals.models import (
    DeclineReason,
    Notification,
    NotificationKind,
    Offer,
    OfferState,
    ReferralState,
    Role,
    Trajectory,
    local_today,
    utcnow,
)
from referrals.services.referrals import offers
from tests import factories
from tests.helpers import text


@pytest.fixture
def world(db):
    """The common world, its therapist Eva (2 places), a second therapist Ruud, a referral."""
    world = factories.make_world(therapist_name="Eva", capacity=2)
    ruud_user = factories.make_user(role=Role.THERAPIST)
    ruud = factories.make_therapist(user=ruud_user, name="Ruud", programmes=[world.programme])
    referral = factories.make_referral(programme=world.programme, referrer=world.gp)
    return {
        "programme": world.programme,
        "coordinator": world.coordinator,
        "gp": world.gp,
        "referral": referral,
        "eva": world.therapist,
        "eva_user": world.therapist_user,
        "ruud": ruud,
        "ruud_user": ruud_user,
    }


def kinds(db) -> list[NotificationKind]:
    return list(db.session.scalars(sa.select(Notification.kind).order_by(Notification.id)))


def test_working_day_deadlines():
    friday = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert offers.add_working_days(friday, 5) == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert offers.add_working_days(friday, 1) == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offered", "days", "due"),
    [
        # Wednesday 23 December 2026 + 2: Thursday 24, then Christmas (Friday 25) and the
        # weekend skipped: due Monday 28.
        (datetime(2026, 12, 23, 9, 0, tzinfo=UTC), 2, datetime(2026, 12, 28, 9, 0, tzinfo=UTC)),
        # Thursday 25 March 2027 + 1: Good Friday, the weekend and Easter Monday skipped; due
        # Tuesday 30 at the same Dutch time (10:00, now summer time: 08:00 UTC).
        (datetime(2027, 3, 25, 9, 0, tzinfo=UTC), 1, datetime(2027, 3, 30, 8, 0, tzinfo=UTC)),
        # Monday 4 May 2026 + 1: Liberation Day (Tuesday 5 May, every year here) skipped.
        (datetime(2026, 5, 4, 9, 0, tzinfo=UTC), 1, datetime(2026, 5, 6, 9, 0, tzinfo=UTC)),
        # Wednesday 13 May 2026 + 1: Ascension Day skipped, due Friday 15.
        (datetime(2026, 5, 13, 9, 0, tzinfo=UTC), 1, datetime(2026, 5, 15, 9, 0, tzinfo=UTC)),
    ],
)
def test_public_holidays_are_not_working_days(offered, days, due):
    assert offers.add_working_days(offered, days) == due


def test_coordinator_sees_the_match_and_offers(app, client, db, login_as, world):
    login_as(user=world["coordinator"])
    referral = world["referral"]
    page = text(client.get(f"/triage/{referral.id}/match"))
    assert "Eva" in page and "Ruud" in page and "plekken vrij" in page
    response = client.post(f"/triage/{referral.id}/offer", data={"therapist_id": world["eva"].id})
    assert response.headers["Location"] == "/triage"
    db.session.refresh(referral)
    assert referral.state is ReferralState.OFFERED
    offer = db.session.scalars(sa.select(Offer)).one()
    assert offer.therapist == world["eva"] and offer.state is OfferState.OPEN
    assert offer.deadline_at - offer.offered_at >= timedelta(days=5)
    assert NotificationKind.NEW_OFFER in kinds(db)
    assert "Eva" in text(client.get("/triage"))


def test_offering_twice_or_to_an_outsider_is_refused(client, db, login_as, world):
    login_as(user=world["coordinator"])
    referral = world["referral"]
    outsider = factories.make_therapist(user=factories.make_user(role=Role.THERAPIST))
    client.post(f"/triage/{referral.id}/offer", data={"therapist_id": outsider.id})
    db.session.refresh(referral)
    assert referral.state is ReferralState.SUBMITTED
    client.post(f"/triage/{referral.id}/offer", data={"therapist_id": world["eva"].id})
    again = client.post(
        f"/triage/{referral.id}/offer",
        data={"therapist_id": world["ruud"].id},
        follow_redirects=True,
    )
    assert "alert--error" in text(again)
    assert db.session.scalar(sa.select(sa.func.count(Offer.id))) == 1


def test_an_expired_therapist_gets_no_offer(db, world):
    world["eva"].registered_until = local_today() - timedelta(days=1)
    with pytest.raises(offers.ServiceError, match="registration expired|registratie verlopen"):
        offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])


def test_inbox_shows_only_what_is_needed_to_decide(app, client, db, login_as, world):
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    db.session.commit()
    login_as(user=world["eva_user"])
    inbox = text(client.get("/offers"))
    participant = world["referral"].participant
    assert participant.first_name in inbox
    assert participant.last_name not in inbox and participant.phone not in inbox
    assert "uur" in inbox or "hours" in inbox
    page = text(client.get(f"/offers/{offer.id}"))
    assert participant.last_name not in page and world["referral"].description not in page
    assert str(participant.date_of_birth.year) not in page


def test_accepting_shows_full_details_takes_a_place_and_tells_people(client, db, login_as, world):
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    db.session.commit()
    login_as(user=world["eva_user"])
    response = client.post(f"/offers/{offer.id}/accept")
    assert response.headers["Location"] == f"/offers/{offer.id}"
    referral = world["referral"]
    db.session.refresh(referral)
    db.session.refresh(world["eva"])
    assert referral.state is ReferralState.ACCEPTED and referral.therapist == world["eva"]
    assert world["eva"].active_participants == 1 and world["eva"].free_places == 1
    page = text(client.get(f"/offers/{offer.id}"))
    assert referral.participant.last_name in page and referral.description in page
    accepted = [
        n
        for n in db.session.scalars(sa.select(Notification))
        if n.kind is NotificationKind.OFFER_ACCEPTED
    ]
    assert {n.recipient_id for n in accepted} == {world["gp"].id, world["coordinator"].id}


def test_declining_returns_the_referral_with_the_reason(app, client, db, login_as, world):
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    db.session.commit()
    login_as(user=world["eva_user"])
    missing = client.post(f"/offers/{offer.id}/decline", data={"reason": "other", "note": ""})
    assert 'id="note-error"' in text(missing)
    client.post(
        f"/offers/{offer.id}/decline", data={"reason": "schedule", "note": "Alleen ochtenden"}
    )
    referral = world["referral"]
    db.session.refresh(referral)
    assert referral.state is ReferralState.SUBMITTED
    # The details are gone after declining: the page sends back to the inbox, saying why.
    assert client.get(f"/offers/{offer.id}").headers["Location"] == "/offers"
    assert "Je hebt dit aanbod eerder afgewezen" in text(client.get("/offers"))

    coordinator_client = app.test_client()
    login_as(user=world["coordinator"], into=coordinator_client)
    queue = text(coordinator_client.get("/triage"))
    assert referral.reference in queue and (
        "dagen of tijden" in queue.lower() or "days or times" in queue.lower()
    )
    match = text(coordinator_client.get(f"/triage/{referral.id}/match"))
    assert "Alleen ochtenden" in match
    assert NotificationKind.OFFER_DECLINED in kinds(db)


def test_a_passed_deadline_returns_the_referral_before_the_worker_runs(client, db, login_as, world):
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    offer.deadline_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    login_as(user=world["eva_user"])
    refused = client.post(f"/offers/{offer.id}/accept", follow_redirects=True)
    assert "alert--error" in text(refused)
    referral = world["referral"]
    db.session.refresh(referral)
    assert referral.state is not ReferralState.ACCEPTED
    db.session.refresh(world["eva"])
    assert world["eva"].active_participants == 0


def test_the_worker_expires_overdue_offers(app, db, world):
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    offer.deadline_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["expire-offers"])
    assert result.exit_code == 0 and "1" in result.output
    db.session.refresh(offer)
    db.session.refresh(world["referral"])
    assert offer.state is OfferState.EXPIRED
    assert world["referral"].state is ReferralState.SUBMITTED
    assert NotificationKind.OFFER_EXPIRED in kinds(db)


def test_the_worker_reminds_the_therapist_once_when_the_deadline_is_near(app, db, world):
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    far = offers.offer_referral(
        factories.make_referral(
            programme=world["programme"], referrer=world["gp"], first_name="Jan"
        ),
        world["eva"],
        actor=world["coordinator"],
    )
    offer.deadline_at = utcnow() + timedelta(hours=5)
    far.deadline_at = utcnow() + timedelta(days=3)
    db.session.commit()
    before = len(kinds(db))
    for _ in range(2):  # the second run sends nothing again
        result = app.test_cli_runner().invoke(args=["expire-offers"])
        assert result.exit_code == 0
    reminders = db.session.scalars(
        sa.select(Notification).where(Notification.kind == NotificationKind.OFFER_DEADLINE_NEAR)
    ).all()
    assert len(reminders) == 1 and len(kinds(db)) == before + 1
    (reminder,) = reminders
    assert reminder.recipient_id == world["eva_user"].id
    assert world["referral"].reference in reminder.body and "/offers" in reminder.body
    assert world["referral"].participant.last_name not in reminder.body
    db.session.refresh(offer)
    db.session.refresh(far)
    assert offer.reminded_at is not None and far.reminded_at is None


def test_withdrawing_an_offered_referral_closes_the_offer(db, world):
    from referrals.services.referrals.intake import withdraw_referral

    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    withdraw_referral(world["referral"], actor=world["gp"], reason="Verhuisd")
    db.session.refresh(offer)
    assert offer.state is OfferState.WITHDRAWN
    told = db.session.scalars(
        sa.select(Notification.recipient_id).where(
            Notification.kind == NotificationKind.REFERRAL_WITHDRAWN
        )
    ).all()
    assert set(told) == {world["coordinator"].id, world["eva_user"].id}


def test_automatic_offer_to_the_best_match(db, world):
    programme = world["programme"]
    programme.auto_offer = True
    referral = factories.make_referral(programme=programme, referrer=world["gp"], first_name="Auto")
    assert referral.state is ReferralState.OFFERED
    offer = (
        referral.offers[-1]
        if referral.offers
        else db.session.scalars(sa.select(Offer).where(Offer.referral_id == referral.id)).one()
    )
    assert offer.offered_by is None
    # Declined: it goes to the next best automatically.
    offers.decline_offer(offer, actor=offer.therapist.user, reason=offers.DeclineReason.SCHEDULE)
    db.session.refresh(referral)
    assert referral.state is ReferralState.OFFERED
    therapists = {
        o.therapist
        for o in db.session.scalars(sa.select(Offer).where(Offer.referral_id == referral.id))
    }
    assert therapists == {world["eva"], world["ruud"]}


def test_another_therapists_offer_is_404(app, db, login_as, world):
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    db.session.commit()
    client = app.test_client()
    login_as(user=world["ruud_user"], into=client)
    for method, url in [
        ("GET", f"/offers/{offer.id}"),
        ("POST", f"/offers/{offer.id}/accept"),
        ("GET", f"/offers/{offer.id}/decline"),
        ("POST", f"/offers/{offer.id}/decline"),
    ]:
        assert client.open(url, method=method).status_code == 404, url
    assert world["referral"].participant.first_name not in text(client.get("/offers"))
    # Therapists never reach the referral pages of referrers and coordinators.
    assert client.get(f"/referrals/{world['referral'].id}").status_code == 403


def test_an_expiry_is_logged_as_the_system(app, db, world):
    from referrals.models import AuditEvent

    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    offer.deadline_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert app.test_cli_runner().invoke(args=["expire-offers"]).exit_code == 0
    row = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.detail.like("expire:%"))
        .order_by(AuditEvent.id.desc())
    ).first()
    assert row.participant_id == world["referral"].participant_id
    assert row.user_id is None and row.user_role is None


def test_pages_show_a_passed_deadline_as_passed_and_change_nothing(app, db, login_as, world):
    """Before the worker has run: the inbox, the offer and the queue say the deadline passed;
    the offer stays open in the database, nobody is notified; the coordinator may offer again,
    which settles the passed offer first."""
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    offer.deadline_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    notified = kinds(db)
    eva = app.test_client()
    login_as(user=world["eva_user"], into=eva)
    inbox = text(eva.get("/offers"))
    assert "termijn verlopen" in inbox
    page = text(eva.get(f"/offers/{offer.id}"))
    assert "niet meer accepteren" in page
    assert f'action="/offers/{offer.id}/accept"' not in page
    coordinator = app.test_client()
    login_as(user=world["coordinator"], into=coordinator)
    assert "termijn verlopen" in text(coordinator.get("/triage"))
    match = text(coordinator.get(f"/triage/{world['referral'].id}/match"))
    assert 'name="therapist_id"' in match
    db.session.refresh(offer)
    db.session.refresh(world["referral"])
    assert offer.state is OfferState.OPEN
    assert world["referral"].state is ReferralState.OFFERED
    assert kinds(db) == notified

    response = coordinator.post(
        f"/triage/{world['referral'].id}/offer", data={"therapist_id": world["ruud"].id}
    )
    assert response.status_code == 302
    db.session.refresh(offer)
    assert offer.state is OfferState.EXPIRED
    assert {o.therapist_id: o.state for o in world["referral"].offers} == {
        world["eva"].id: OfferState.EXPIRED,
        world["ruud"].id: OfferState.OPEN,
    }


def test_the_development_timer_expires_overdue_offers(databases):
    """`make run` has no worker: the development server settles deadlines on a timer."""
    import time as clock

    from flask_migrate import upgrade

    from referrals.background import start_offer_timer
    from referrals.extensions import db as database
    from tests.conftest import make_app

    app = make_app(databases.new("timer"))
    database.session.session_factory.configure(
        bind=None, join_transaction_mode="conditional_savepoint"
    )
    with app.app_context():
        upgrade()
        world = factories.make_world()
        referral = factories.make_referral(programme=world.programme, referrer=world.gp)
        offer = offers.offer_referral(referral, world.therapist, actor=world.coordinator)
        offer.deadline_at = utcnow() - timedelta(minutes=1)
        database.session.commit()
        offer_id = offer.id
        database.session.remove()
    timer = start_offer_timer(app, 0.05)
    try:
        with app.app_context():
            for _ in range(100):
                state = database.session.get(Offer, offer_id).state
                database.session.remove()
                if state is OfferState.EXPIRED:
                    break
                clock.sleep(0.05)
            assert state is OfferState.EXPIRED
    finally:
        timer.stop.set()
        timer.join(timeout=5)
        with app.app_context():
            database.engine.dispose()


def test_the_decline_note_is_for_the_coordinator_only(app, db, login_as, world):
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    offers.decline_offer(
        offer, actor=world["eva_user"], reason=offers.DeclineReason.OTHER, note="Ken hem privé"
    )
    db.session.commit()
    gp_client = app.test_client()
    login_as(user=world["gp"], into=gp_client)
    page = text(gp_client.get(f"/referrals/{world['referral'].id}"))
    assert "Ken hem privé" not in page and "Eva" not in page
    coordinator_client = app.test_client()
    login_as(user=world["coordinator"], into=coordinator_client)
    match = text(coordinator_client.get(f"/triage/{world['referral'].id}/match"))
    assert "Ken hem privé" in match


# The accept service's own rule: only an open offer, before its deadline, by its own therapist.


def _answered_and_offered_to_ruud(db, world, how: str) -> Offer:
    """Eva's offer ends (declined, or expired by the worker); the coordinator then offers the
    referral to Ruud. Returns Eva's old offer."""
    referral, eva_offer = world["referral"], None
    eva_offer = offers.offer_referral(referral, world["eva"], actor=world["coordinator"])
    if how == "declined":
        offers.decline_offer(eva_offer, actor=world["eva_user"], reason=DeclineReason.SCHEDULE)
    else:
        assert offers.return_overdue_offers(now=eva_offer.deadline_at + timedelta(minutes=1)) == 1
    assert referral.state is ReferralState.SUBMITTED
    offers.offer_referral(referral, world["ruud"], actor=world["coordinator"])
    db.session.commit()  # what the refused accept below rolls back to
    return eva_offer


@pytest.mark.parametrize("how", ["declined", "expired"])
def test_a_declined_or_expired_offer_can_never_be_accepted(db, world, how):
    eva_offer = _answered_and_offered_to_ruud(db, world, how)
    with pytest.raises(offers.OfferRefused):
        offers.accept_offer(eva_offer, actor=world["eva_user"])
    db.session.rollback()
    referral = world["referral"]
    db.session.refresh(referral)
    assert referral.state is ReferralState.OFFERED and referral.therapist_id is None
    states = {o.therapist_id: o.state for o in referral.offers}
    assert states == {world["eva"].id: OfferState(how), world["ruud"].id: OfferState.OPEN}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Trajectory)) == 0
    db.session.refresh(world["eva"])
    assert world["eva"].active_participants == 0


def test_an_offer_past_its_deadline_cannot_be_accepted_before_the_worker_ran(
    db, world, monkeypatch
):
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    db.session.commit()
    later = offer.deadline_at + timedelta(seconds=1)
    monkeypatch.setattr(offers, "utcnow", lambda: later)
    with pytest.raises(offers.OfferRefused):
        offers.accept_offer(offer, actor=world["eva_user"])
    db.session.rollback()
    db.session.refresh(offer)
    assert offer.state is OfferState.OPEN  # the worker expires it; nobody accepted it
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Trajectory)) == 0


def test_only_the_therapist_offered_to_can_accept(db, world):
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    db.session.commit()
    with pytest.raises(offers.OfferRefused):
        offers.accept_offer(offer, actor=world["ruud_user"])
    db.session.rollback()
    db.session.refresh(offer)
    assert offer.state is OfferState.OPEN
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Trajectory)) == 0


def test_the_therapist_who_let_the_deadline_pass_is_left_out_before_the_worker_ran(
    app, db, login_as, world
):
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    offer.deadline_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    client = app.test_client()
    login_as(user=world["coordinator"], into=client)
    match = text(client.get(f"/triage/{world['referral'].id}/match"))
    assert f'name="therapist_id" value="{world["eva"].id}"' not in match
    assert f'name="therapist_id" value="{world["ruud"].id}"' in match


def test_offering_again_in_an_automatic_programme_keeps_the_coordinators_choice(
    app, db, login_as, world
):
    """Settling the passed offer must not make an automatic offer that beats the coordinator's."""
    world["programme"].auto_offer = True
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    offer.deadline_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    client = app.test_client()
    login_as(user=world["coordinator"], into=client)
    response = client.post(
        f"/triage/{world['referral'].id}/offer", data={"therapist_id": world["ruud"].id}
    )
    assert response.status_code == 302
    db.session.refresh(world["referral"])
    assert {o.therapist_id: o.state for o in world["referral"].offers} == {
        world["eva"].id: OfferState.EXPIRED,
        world["ruud"].id: OfferState.OPEN,
    }


@pytest.mark.parametrize("action", ["accept", "decline", "page"])
def test_answering_an_offer_withdrawn_a_moment_ago_says_so(client, db, login_as, world, action):
    """Not a 404: the therapist is told, in Dutch, that it was withdrawn, and sees the inbox."""
    from referrals.services.referrals.intake import withdraw_referral

    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    withdraw_referral(world["referral"], actor=world["gp"], reason="Verhuisd")
    db.session.commit()
    login_as(user=world["eva_user"])
    if action == "accept":
        response = client.post(f"/offers/{offer.id}/accept")
    elif action == "decline":
        response = client.post(f"/offers/{offer.id}/decline", data={"reason": "full"})
    else:
        response = client.get(f"/offers/{offer.id}")
    assert response.status_code == 302 and response.headers["Location"] == "/offers"
    inbox = text(client.get("/offers"))
    assert "Dit aanbod is zojuist ingetrokken" in inbox
    assert world["referral"].participant.last_name not in inbox
    db.session.refresh(offer)
    assert offer.state is OfferState.WITHDRAWN


def test_another_therapists_withdrawn_offer_is_still_a_404(client, db, login_as, world):
    from referrals.services.referrals.intake import withdraw_referral

    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    withdraw_referral(world["referral"], actor=world["gp"], reason="Verhuisd")
    db.session.commit()
    login_as(user=world["ruud_user"])
    assert client.post(f"/offers/{offer.id}/accept").status_code == 404


def test_an_expired_offer_says_its_deadline_passed(client, db, login_as, world):
    offer = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    offer.state, offer.responded_at = OfferState.EXPIRED, utcnow()
    db.session.commit()
    login_as(user=world["eva_user"])
    response = client.post(f"/offers/{offer.id}/accept")
    assert response.headers["Location"] == "/offers"
    assert "De termijn van dit aanbod is verstreken" in text(client.get("/offers"))


def _overdue(world, n: int, *, first_name: str = "Over") -> list:
    """`n` referrals offered to Eva or Ruud (Eva has two places) whose deadline passed."""
    made = []
    for i in range(n):
        referral = factories.make_referral(
            programme=world["programme"], referrer=world["gp"], first_name=f"{first_name}{i}"
        )
        therapist = world["ruud"] if i % 2 else world["eva"]
        offer = offers.offer_referral(referral, therapist, actor=world["coordinator"])
        offer.deadline_at = utcnow() - timedelta(minutes=1 + i)
        made.append((referral, offer))
    return made


def test_the_worker_settles_overdue_offers_in_batches_as_one_by_one_would(
    app, db, world, monkeypatch
):
    """Seven overdue offers in batches of three: every offer expired, every referral back in
    the queue with its history line, audit row and the coordinators' e-mails (a second
    coordinator too); an offer still in time and one whose referral was withdrawn meanwhile
    are left as they are."""
    from referrals.models import AuditAction, AuditEvent, ReferralEvent

    monkeypatch.setattr(offers, "EXPIRY_BATCH", 3)
    second = factories.make_user(role=Role.COORDINATOR)
    world["programme"].coordinators.append(second)
    overdue = _overdue(world, 7)
    in_time = offers.offer_referral(world["referral"], world["eva"], actor=world["coordinator"])
    gone, gone_offer = _overdue(world, 1, first_name="Weg")[0]
    gone.state = ReferralState.WITHDRAWN  # as if withdrawn while its offer stayed open
    gone.closed_at = utcnow()
    db.session.commit()
    before = len(kinds(db))

    assert offers.return_overdue_offers() == 7
    db.session.commit()

    for referral, offer in overdue:
        db.session.refresh(offer)
        db.session.refresh(referral)
        assert (offer.state, referral.state) == (OfferState.EXPIRED, ReferralState.SUBMITTED)
        last = db.session.scalars(
            sa.select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral.id)
            .order_by(ReferralEvent.id.desc())
        ).first()
        assert (last.from_state, last.to_state, last.reason, last.actor_id) == (
            ReferralState.OFFERED,
            ReferralState.SUBMITTED,
            "deadline_passed",
            None,
        )
        (row,) = db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.object_type == "referrals",
                AuditEvent.object_id == str(referral.id),
                AuditEvent.detail == "expire: offered -> submitted",
            )
        ).all()
        assert (row.action, row.user_id, row.participant_id) == (
            AuditAction.UPDATE,
            None,
            referral.participant_id,
        )
        told = db.session.scalars(
            sa.select(Notification.recipient_id).where(
                Notification.kind == NotificationKind.OFFER_EXPIRED,
                Notification.body.contains(referral.reference),
            )
        ).all()
        assert sorted(told) == sorted([world["coordinator"].id, second.id])
    assert len(kinds(db)) == before + 2 * 7
    db.session.refresh(in_time)
    db.session.refresh(gone_offer)
    db.session.refresh(gone)
    assert in_time.state is OfferState.OPEN
    assert (gone_offer.state, gone.state) == (OfferState.EXPIRED, ReferralState.WITHDRAWN)
    assert offers.return_overdue_offers() == 0


def test_a_batch_of_overdue_offers_costs_the_same_statements_for_two_or_five(
    app, db, world, queries
):
    def statements(n: int) -> int:
        _overdue(world, n, first_name=f"N{n}-")
        db.session.commit()
        with queries() as log:
            assert offers.return_overdue_offers() == n
        db.session.commit()
        return len(log.statements)

    assert statements(2) == statements(5)


def test_an_automatic_programme_offers_each_returned_referral_to_the_next_match(db, world):
    ((referral, offer),) = _overdue(world, 1)
    world["programme"].auto_offer = True
    db.session.commit()
    assert offers.return_overdue_offers() == 1
    db.session.commit()
    db.session.refresh(referral)
    assert referral.state is ReferralState.OFFERED
    states = {o.therapist_id: o.state for o in referral.offers}
    assert states[offer.therapist_id] is OfferState.EXPIRED
    assert OfferState.OPEN in states.values()


def test_reminders_cost_the_same_statements_for_one_or_four_offers(db, world, queries):
    def statements(n: int) -> int:
        for _referral, offer in _overdue(world, n, first_name=f"R{n}-"):
            offer.deadline_at = utcnow() + timedelta(hours=3)
        db.session.commit()
        with queries() as log:
            assert offers.remind_offers_near_deadline() == n
        db.session.commit()
        return len(log.statements)

    assert statements(1) == statements(4)
    sent = db.session.scalars(
        sa.select(Notification.recipient_id).where(
            Notification.kind == NotificationKind.OFFER_DEADLINE_NEAR
        )
    ).all()
    assert sorted(sent) == sorted(
        [world["eva_user"].id, world["eva_user"].id, world["ruud_user"].id]
        + [world["eva_user"].id, world["ruud_user"].id]
    )
