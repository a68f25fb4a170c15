"""The transition rules as a table, withdrawal by the referrer and rejection by the coordinator."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from referrals.models import (
    Notification,
    NotificationKind,
    Referral,
    ReferralState,
    RejectionReason,
)
from referrals.services import ServiceError
from referrals.services.referrals.intake import reject_referral, withdraw_referral
from referrals.services.states import TransitionRefused
from tests import factories
from tests.helpers import text

S = ReferralState
# (transition, state the referral is in, allowed?)
TABLE = [
    ("withdraw", S.SUBMITTED, True),
    ("withdraw", S.OFFERED, True),
    ("withdraw", S.ACCEPTED, False),
    ("withdraw", S.ACTIVE, False),
    ("withdraw", S.COMPLETED, False),
    ("withdraw", S.DROPPED_OUT, False),
    ("withdraw", S.REJECTED, False),
    ("withdraw", S.WITHDRAWN, False),
    ("reject", S.SUBMITTED, True),
    ("reject", S.OFFERED, False),
    ("reject", S.ACCEPTED, False),
    ("reject", S.ACTIVE, False),
    ("reject", S.COMPLETED, False),
    ("reject", S.REJECTED, False),
    ("reject", S.WITHDRAWN, False),
]


@pytest.fixture
def world(db):
    world = factories.make_world(therapist=False)
    referral = factories.make_referral(programme=world.programme, referrer=world.gp)
    return referral, world.gp, world.coordinator


def force_state(db, referral, state):
    """Put a referral in any state for the table (later issues bring the real transitions)."""
    values = {"state": state}
    if state in (S.REJECTED, S.WITHDRAWN):
        values["closed_at"] = referral.submitted_at
    if state is S.REJECTED:
        values["rejection_reason"] = RejectionReason.OTHER
    db.session.execute(sa.update(Referral).where(Referral.id == referral.id).values(**values))
    db.session.refresh(referral)


@pytest.mark.parametrize(("transition", "state", "allowed"), TABLE, ids=lambda v: str(v))
def test_transition_table(db, world, transition, state, allowed):
    referral, gp, coordinator = world
    force_state(db, referral, state)
    events_before = len(referral.events)

    def act():
        if transition == "withdraw":
            return withdraw_referral(referral, actor=gp, reason="reden")
        return reject_referral(referral, actor=coordinator, reason=RejectionReason.NOT_ELIGIBLE)

    if allowed:
        act()
        expected = S.WITHDRAWN if transition == "withdraw" else S.REJECTED
        assert referral.state is expected
        assert referral.closed_at is not None
        db.session.refresh(referral)
        assert len(referral.events) == events_before + 1
        assert referral.events[-1].from_state is state
    else:
        with pytest.raises(TransitionRefused) as refused:
            act()
        assert refused.value.message
        db.session.refresh(referral)
        assert referral.state is state
        assert len(referral.events) == events_before


def test_withdraw_needs_a_reason(db, world):
    referral, gp, _ = world
    with pytest.raises(ServiceError) as error:
        withdraw_referral(referral, actor=gp, reason="  ")
    assert error.value.field == "reason"
    assert referral.state is S.SUBMITTED


def test_referrer_withdraws_through_the_page(client, db, login_as, world):
    referral, gp, _ = world
    login_as(user=gp)
    page = text(client.get(f"/referrals/{referral.id}"))
    assert f"/referrals/{referral.id}/withdraw" in page
    empty = client.post(f"/referrals/{referral.id}/withdraw", data={"reason": ""})
    assert 'id="reason-error"' in text(empty)
    db.session.refresh(referral)
    assert referral.state is S.SUBMITTED
    done = client.post(
        f"/referrals/{referral.id}/withdraw", data={"reason": "Verhuisd naar Zwolle"}
    )
    assert done.status_code == 302
    db.session.refresh(referral)
    assert referral.state is S.WITHDRAWN
    page = text(client.get(f"/referrals/{referral.id}"))
    assert "Verhuisd naar Zwolle" in page
    assert f"/referrals/{referral.id}/withdraw" not in page


def test_withdrawing_twice_is_refused_with_a_message(client, db, login_as, world):
    referral, gp, _ = world
    login_as(user=gp)
    client.post(f"/referrals/{referral.id}/withdraw", data={"reason": "eerste keer"})
    again = client.post(
        f"/referrals/{referral.id}/withdraw", data={"reason": "tweede keer"}, follow_redirects=True
    )
    assert "ingetrokken" in text(again) or "withdrawn" in text(again)
    assert "alert--error" in text(again)
    db.session.refresh(referral)
    assert len(referral.events) == 2


def test_coordinator_queue_is_oldest_first_with_waiting_days(client, db, login_as, world):
    from datetime import timedelta

    referral, gp, coordinator = world
    newer = factories.make_referral(
        programme=referral.programme, referrer=gp, first_name="Later", postcode="2250 AB"
    )
    referral.submitted_at = referral.submitted_at - timedelta(days=4)
    db.session.commit()
    login_as(user=coordinator)
    page = text(client.get("/triage"))
    assert page.index(referral.reference) < page.index(newer.reference)
    assert "<td>4</td>" in page


def test_coordinator_rejects_with_a_reason_the_referrer_then_sees(app, client, db, login_as, world):
    referral, gp, coordinator = world
    login_as(user=coordinator)
    missing = client.post(f"/triage/{referral.id}/reject", data={"reason": "other", "note": ""})
    assert 'id="note-error"' in text(missing)
    no_reason = client.post(f"/triage/{referral.id}/reject", data={"note": "x"})
    assert 'id="reason-error"' in text(no_reason)
    db.session.refresh(referral)
    assert referral.state is S.SUBMITTED

    done = client.post(
        f"/triage/{referral.id}/reject",
        data={"reason": "other_care", "note": "Past beter bij de POH-GGZ."},
    )
    assert done.headers["Location"] == "/triage"
    db.session.refresh(referral)
    assert referral.state is S.REJECTED and referral.rejection_reason is RejectionReason.OTHER_CARE
    assert f"/referrals/{referral.id}" not in text(client.get("/triage"))

    mail = db.session.scalars(
        sa.select(Notification).where(Notification.kind == NotificationKind.REFERRAL_REJECTED)
    ).one()
    assert mail.recipient_id == gp.id
    assert "POH" not in mail.body

    gp_client = app.test_client()
    login_as(user=gp, into=gp_client)
    page = text(gp_client.get(f"/referrals/{referral.id}"))
    assert "Past beter bij de POH-GGZ." in page


def test_a_rolled_back_change_leaves_no_notification(db, world):
    referral, _, coordinator = world
    before = db.session.scalar(sa.select(sa.func.count(Notification.id)))
    savepoint = db.session.begin_nested()
    reject_referral(referral, actor=coordinator, reason=RejectionReason.DUPLICATE)
    savepoint.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))) == before
    db.session.refresh(referral)
    assert referral.state is S.SUBMITTED


def test_the_triage_queue_reads_in_a_fixed_number_of_selects(app, db, login_as, queries):
    def selects_for_queue(referrals: int) -> int:
        world = factories.make_world(therapist=False)
        for n in range(referrals):
            factories.make_referral(
                programme=world.programme, referrer=world.gp, first_name=f"Q{n}"
            )
        db.session.commit()
        client = app.test_client()
        login_as(user=world.coordinator, into=client)
        with queries() as log:
            page = text(client.get("/triage"))
        assert page.count("/match") >= referrals
        return len(log.selects)

    assert selects_for_queue(1) == selects_for_queue(4)
