"""Races over real HTTP: gunicorn in a subprocess (several sync workers, or threads), 20
requests released at once, on the database this run tests (SQLite or PostgreSQL).

Each race counts what the database holds afterwards; every answer must be a page or a
redirect, never a server error.
"""

from __future__ import annotations

import re
import secrets

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from referrals.extensions import db
from referrals.models import Offer, OfferState, Participant, Referral, Therapist, Trajectory
from referrals.services.referrals import offers
from referrals.services.therapists.geo import load_pc4_areas
from tests import factories
from tests.conftest import make_app
from tests.live_server import LiveServer, all_at_once, session_for

ATTEMPTS = 20


@pytest.fixture(scope="module")
def live_app(databases):
    app = make_app(databases.new("live"))
    with app.app_context():
        upgrade()
        load_pc4_areas()
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module", params=["4 workers", "2 workers x 8 threads"])
def server(request, live_app, tmp_path_factory):
    workers, threads = (4, 1) if request.param == "4 workers" else (2, 8)
    log = tmp_path_factory.mktemp("gunicorn") / "server.log"
    with live_app.app_context():
        url = db.engine.url.render_as_string(hide_password=False)
    with LiveServer(url, workers=workers, threads=threads, log_path=log) as live:
        yield live


def referral_form(**changes) -> dict:
    data = {
        "first_name": "Sanne",
        "last_name": "Visser",
        "date_of_birth": "1985-06-15",
        "postcode": "2201ab",
        "phone": "06 12345678",
        "email": "",
        "reasons": ["stress", "burnout"],
        "description": "Slaapt slecht sinds een reorganisatie.",
        "preferred_form": "group",
        "preferred_days": ["tue", "thu"],
        "consent_to_refer": "y",
        "consent_share_progress": "y",
    }
    data.update(changes)
    return data


def new_world(app):
    """A committed programme with its GP, coordinator and therapist; returns the objects'
    ids and logged-in HTTP sessions are made from it by the caller."""
    with app.test_request_context():
        world = factories.make_world(name=secrets.token_hex(3))
        db.session.commit()
        return world


def referrals_of(app, programme_id: int, last_name: str) -> int:
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Referral)
            .join(Participant)
            .where(Referral.programme_id == programme_id, Participant.last_name == last_name)
        )
        db.session.remove()
        return count


def test_one_form_sent_twenty_times_at_once_saves_one_referral(live_app, server):
    with live_app.test_request_context():
        world = new_world(live_app)
        http = session_for(server, live_app, world.gp)
        programme_id = world.programme.id
    last_name = f"Dubbel{secrets.token_hex(3)}"
    form = referral_form(last_name=last_name, submission_key=secrets.token_urlsafe(24))
    url = f"{server.url}/referrals/new/{programme_id}"

    answers = all_at_once(
        [lambda: http.post(url, data=form, allow_redirects=False) for _ in range(ATTEMPTS)]
    )

    assert referrals_of(live_app, programme_id, last_name) == 1
    statuses = [answer.status_code for answer in answers]
    assert statuses == [302] * ATTEMPTS, statuses
    # Every answer leads to the one referral that was saved.
    assert len({answer.headers["Location"] for answer in answers}) == 1


def test_twenty_forms_for_one_person_at_once_save_one_and_warn_the_others(live_app, server):
    with live_app.test_request_context():
        world = new_world(live_app)
        http = session_for(server, live_app, world.gp)
        programme_id = world.programme.id
    last_name = f"Tweemaal{secrets.token_hex(3)}"
    url = f"{server.url}/referrals/new/{programme_id}"
    forms = [
        referral_form(last_name=last_name, submission_key=secrets.token_urlsafe(24))
        for _ in range(ATTEMPTS)
    ]

    answers = all_at_once(
        [lambda form=form: http.post(url, data=form, allow_redirects=False) for form in forms]
    )

    assert referrals_of(live_app, programme_id, last_name) == 1
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * (ATTEMPTS - 1) + [302], statuses
    warned = [answer for answer in answers if answer.status_code == 200]
    # The duplicate warning: the form comes back asking to confirm ("Refer anyway").
    for answer in warned:
        assert re.search(r'name="confirm_duplicate"[^>]*value="yes"', answer.text), answer.text


def offered(app, world, count: int) -> list[int]:
    with app.test_request_context():
        ids = []
        for n in range(count):
            referral = factories.make_referral(
                programme=world.programme, referrer=world.gp, first_name=f"Deelnemer{n}"
            )
            ids.append(offers.offer_referral(referral, world.therapist, actor=world.coordinator).id)
        db.session.commit()
        return ids


def trajectories_of(app, therapist_id: int) -> int:
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Trajectory)
            .where(Trajectory.therapist_id == therapist_id)
        )
        db.session.remove()
        return count


def test_twenty_accepts_of_one_offer_succeed_once(live_app, server):
    with live_app.test_request_context():
        world = new_world(live_app)
        (offer_id,) = offered(live_app, world, 1)
        http = session_for(server, live_app, world.therapist_user)
        therapist_id = world.therapist.id
    url = f"{server.url}/offers/{offer_id}/accept"

    answers = all_at_once([lambda: http.post(url, allow_redirects=False) for _ in range(ATTEMPTS)])

    assert [answer.status_code for answer in answers] == [302] * ATTEMPTS
    assert trajectories_of(live_app, therapist_id) == 1
    with live_app.app_context():
        assert db.session.get(Offer, offer_id).state is OfferState.ACCEPTED
        db.session.remove()


def test_twenty_accepts_into_the_last_free_place_succeed_once(live_app, server):
    with live_app.test_request_context():
        world = new_world(live_app)
        offer_ids = offered(live_app, world, ATTEMPTS)
        db.session.get(Therapist, world.therapist.id).capacity = 1
        db.session.commit()
        http = session_for(server, live_app, world.therapist_user)
        therapist_id = world.therapist.id

    answers = all_at_once(
        [
            lambda offer_id=offer_id: http.post(
                f"{server.url}/offers/{offer_id}/accept", allow_redirects=False
            )
            for offer_id in offer_ids
        ]
    )

    assert [answer.status_code for answer in answers] == [302] * ATTEMPTS
    assert trajectories_of(live_app, therapist_id) == 1
    with live_app.app_context():
        accepted = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Offer)
            .where(Offer.id.in_(offer_ids), Offer.state == OfferState.ACCEPTED)
        )
        db.session.remove()
    assert accepted == 1


def test_two_coordinators_offering_one_referral_at_once_make_one_offer(live_app, server):
    with live_app.test_request_context():
        world = new_world(live_app)
        second = factories.make_user(role=world.coordinator.role, organisation=world.municipality)
        world.programme.coordinators.append(second)
        other_therapist = factories.make_therapist(
            user=factories.make_user(role=world.therapist_user.role),
            postcode="2201 AB",
            programmes=[world.programme],
        )
        referral = factories.make_referral(programme=world.programme, referrer=world.gp)
        db.session.commit()
        sessions = [
            (session_for(server, live_app, world.coordinator), world.therapist.id),
            (session_for(server, live_app, second), other_therapist.id),
        ] * (ATTEMPTS // 2)
        referral_id = referral.id
    url = f"{server.url}/triage/{referral_id}/offer"

    answers = all_at_once(
        [
            lambda http=http, therapist_id=therapist_id: http.post(
                url, data={"therapist_id": str(therapist_id)}, allow_redirects=False
            )
            for http, therapist_id in sessions
        ]
    )

    assert [answer.status_code for answer in answers] == [302] * ATTEMPTS
    with live_app.app_context():
        made = db.session.scalar(
            sa.select(sa.func.count()).select_from(Offer).where(Offer.referral_id == referral_id)
        )
        db.session.remove()
    assert made == 1
