"""Exactly one acceptance, with real concurrent connections (threads, each its own session).

These tests use a database of their own and really commit: the rolled-back transaction of
the other tests would serialise everything and hide the race.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from referrals.extensions import db
from referrals.models import Offer, Referral, ReferralState, Therapist
from referrals.services.referrals import offers
from tests import factories
from tests.conftest import make_app


@pytest.fixture(scope="module")
def race_app(databases):
    # Enough pooled connections for every thread at once.
    app = make_app(
        databases.new("race"), SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 25, "max_overflow": 5}
    )
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


def build(app, *, referrals: int, capacity: int) -> tuple[list[int], int]:
    """Committed data: `referrals` referrals offered to one therapist; returns offer ids."""
    with app.test_request_context():
        world = factories.make_world(capacity=50)
        therapist = world.therapist
        offer_ids = []
        for n in range(referrals):
            referral = factories.make_referral(
                programme=world.programme, referrer=world.gp, first_name=f"Deelnemer{n}"
            )
            offer_ids.append(offers.offer_referral(referral, therapist, actor=world.coordinator).id)
        therapist.capacity = capacity
        db.session.commit()
        result = (offer_ids, therapist.id)
        db.session.remove()
    return result


def race(app, offer_ids: list[int]) -> list[str]:
    """Accept each offer id in its own thread, all released at once; 'ok' or the message."""
    barrier = threading.Barrier(len(offer_ids))
    outcomes: list[str] = [""] * len(offer_ids)

    def attempt(index: int, offer_id: int) -> None:
        # Everyone starts together, before touching the database: a session that opened a
        # transaction first would hold a connection (and on SQLite the write lock) while waiting.
        barrier.wait(timeout=30)
        with app.test_request_context():
            try:
                offer = db.session.get(Offer, offer_id)
                offers.accept_offer(offer, actor=offer.therapist.user)
                db.session.commit()
                outcomes[index] = "ok"
            except offers.OfferRefused as refused:
                db.session.rollback()
                outcomes[index] = refused.message
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                db.session.rollback()
                outcomes[index] = f"ERROR {type(error).__name__}: {error}"
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=attempt, args=(i, offer_id)) for i, offer_id in enumerate(offer_ids)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def counts(app, therapist_id: int) -> tuple[int, int]:
    with app.app_context():
        therapist = db.session.get(Therapist, therapist_id)
        accepted = db.session.scalar(
            sa.select(sa.func.count(Referral.id)).where(
                Referral.therapist_id == therapist_id, Referral.state == ReferralState.ACCEPTED
            )
        )
        result = (therapist.active_participants, accepted)
        db.session.remove()
    return result


@pytest.mark.parametrize("attempts", [2, 20])
def test_simultaneous_accepts_of_one_offer_succeed_once(race_app, attempts):
    (offer_id,), therapist_id = build(race_app, referrals=1, capacity=5)
    outcomes = race(race_app, [offer_id] * attempts)
    assert outcomes.count("ok") == 1, outcomes
    others = [o for o in outcomes if o != "ok"]
    assert all(o and not o.startswith("ERROR") for o in others), others
    assert counts(race_app, therapist_id) == (1, 1)


@pytest.mark.parametrize("attempts", [2, 20])
def test_simultaneous_accepts_into_the_last_place_succeed_once(race_app, attempts):
    offer_ids, therapist_id = build(race_app, referrals=attempts, capacity=1)
    outcomes = race(race_app, offer_ids)
    assert outcomes.count("ok") == 1, outcomes
    others = [o for o in outcomes if o != "ok"]
    assert all(o and not o.startswith("ERROR") for o in others), others
    assert counts(race_app, therapist_id) == (1, 1)
    with race_app.app_context():
        still_offered = db.session.scalar(
            sa.select(sa.func.count(Referral.id)).where(Referral.state == ReferralState.OFFERED)
        )
        db.session.remove()
    assert still_offered >= attempts - 1
