"""Correcting a logged session: minutes, attendance, Borg and note per participant; the day stays,
closed trajectories' rows stay, and someone present for the first time starts the trajectory.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from referrals.extensions import db as _db
from referrals.models import (
    Attendance,
    AuditAction,
    AuditEvent,
    Outcome,
    ReferralState,
    SessionAttendance,
    TrainingSession,
    local_today,
    utcnow,
)
from referrals.services import ServiceError
from referrals.services.trajectories.training_sessions import AttendanceEntry, correct_session
from tests.helpers import text
from tests.test_training_sessions import absent, planned_week, row
from tests.training_setup import make_practice

HELD_ON = local_today() - timedelta(days=1)


@pytest.fixture
def logged(client, db, login_as):
    """A group session of yesterday: Femke present, Daan excused, Noor absent."""
    practice = make_practice(participants=3)
    group = practice.group(*practice.trajectories)
    femke, daan, noor = practice.trajectories
    login_as(user=practice.user)
    data = {
        "held_on": HELD_ON.isoformat(),
        **row(femke, run="6", total="28", borg="13", note="Ging goed"),
        **absent(daan, "excused"),
        **absent(noor, "absent"),
    }
    assert client.post(f"/groups/{group.id}/sessions/new", data=data).status_code == 302
    session = db.session.scalars(sa.select(TrainingSession)).one()
    return practice, session


def stored(db, session) -> dict[int, tuple]:
    db.session.expire_all()
    return {
        r.trajectory_id: (r.attendance, r.done_run_min, r.done_total_min, r.borg, r.note)
        for r in db.session.scalars(
            sa.select(SessionAttendance).where(SessionAttendance.session_id == session.id)
        )
    }


def corrections(db) -> list[AuditEvent]:
    return db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == AuditAction.UPDATE,
            AuditEvent.detail == "session attendance corrected",
        )
    ).all()


def test_the_form_is_prefilled_and_the_date_is_not_editable(client, db, logged):
    practice, session = logged
    femke, daan, _noor = practice.trajectories
    page = text(client.get(f"/sessions/{session.id}/edit"))
    assert f'id="m{femke.id}-done_run_min"' in page and 'value="6"' in page
    assert 'value="28"' in page and 'value="13"' in page and "Ging goed" in page
    assert f'checked class="choice__input" id="m{daan.id}-attendance-1"' in page
    assert "Kies of de deelnemer er was." not in page
    assert 'name="held_on"' not in page
    assert "De datum van een vastgelegde training kan niet worden gewijzigd." in page


def test_corrected_minutes_and_attendance_are_stored_and_shown(client, db, logged):
    practice, session = logged
    femke, daan, noor = practice.trajectories
    before = stored(db, session)
    data = {
        **row(femke, run="8", total="30", borg="12", note="Gecorrigeerd: langer gelopen"),
        **absent(daan, "excused"),
        **absent(noor, "excused", note="Had zich toch afgemeld"),
    }
    response = client.post(f"/sessions/{session.id}/edit?trajectory={femke.id}", data=data)
    assert response.status_code == 302, text(response)
    assert response.headers["Location"] == f"/trajectories/{femke.id}#progress"
    after = stored(db, session)
    assert after[femke.id] == (Attendance.PRESENT, 8, 30, 12, "Gecorrigeerd: langer gelopen")
    assert after[daan.id] == before[daan.id]
    assert after[noor.id] == (Attendance.EXCUSED, None, None, None, "Had zich toch afgemeld")
    assert _db.session.get(TrainingSession, session.id).held_on == HELD_ON

    page = text(client.get(f"/trajectories/{femke.id}"))
    week = planned_week(femke, 1)
    assert f"{week.total_run_min} / 8" in page and f"{week.total_min} / 30" in page
    assert "Gecorrigeerd: langer gelopen" in page
    assert f'href="/sessions/{session.id}/edit?trajectory={femke.id}"' in page
    assert "Corrigeren<span" in page and "de training van" in page
    assert "afwezig met afmelding" in text(client.get(f"/trajectories/{noor.id}"))

    # One audit row per participant whose row changed, with nothing about them in the detail.
    events = corrections(db)
    assert sorted(e.participant_id for e in events) == sorted(
        t.referral.participant_id for t in (femke, noor)
    )
    assert all(e.object_type == "training_sessions" and e.object_id for e in events)


@pytest.mark.parametrize(
    ("daan_row", "field", "message", "typed"),
    [
        (
            lambda t: row(t, run="6", total="28", borg="25"),
            "borg",
            "Vul een Borg-score in van 6 tot 20.",
            'value="25"',
        ),
        (
            lambda t: row(t, "excused", run="12", total="", borg=""),
            "done_run_min",
            "Laat de minuten leeg bij iemand die afwezig was.",
            'value="12"',
        ),
        (
            lambda t: row(t, run="31", total="20"),
            "done_run_min",
            "Het hardlopen kan niet langer duren dan de hele training.",
            'value="31"',
        ),
    ],
)
def test_a_bad_row_is_explained_next_to_it_and_nothing_changes(
    client, db, logged, daan_row, field, message, typed
):
    practice, session = logged
    femke, daan, noor = practice.trajectories
    before = stored(db, session)
    data = {
        **row(femke, run="9", total="29", note="Nieuwe notitie"),
        **daan_row(daan),
        **absent(noor, "excused"),
    }
    response = client.post(f"/sessions/{session.id}/edit", data=data)
    page = text(response)
    assert response.status_code == 200
    assert f'id="m{daan.id}-{field}-error"' in page
    assert f'id="m{femke.id}-{field}-error"' not in page
    assert message in page
    assert typed in page and "Nieuwe notitie" in page and 'value="29"' in page
    assert stored(db, session) == before
    assert corrections(db) == []
    db.session.refresh(daan.referral)
    assert daan.referral.state is ReferralState.ACCEPTED and daan.first_session_on is None


def test_another_therapist_gets_404(app, db, logged, login_as):
    practice, session = logged
    femke, daan, noor = practice.trajectories
    before = stored(db, session)
    stranger = app.test_client()
    login_as(user=make_practice().user, into=stranger)
    url = f"/sessions/{session.id}/edit"
    assert stranger.get(url).status_code == 404
    data = {**row(femke, run="1", total="2"), **absent(daan), **absent(noor)}
    assert stranger.post(url, data=data).status_code == 404
    assert stored(db, session) == before
    assert stranger.get("/sessions/999999/edit").status_code == 404


def test_a_closed_trajectorys_row_cannot_be_changed(client, db, logged):
    practice, session = logged
    femke, daan, noor = practice.trajectories
    noor.closed_at, noor.outcome = utcnow(), Outcome.COMPLETED
    db.session.commit()
    before = stored(db, session)

    page = text(client.get(f"/sessions/{session.id}/edit"))
    assert f'name="m{noor.id}-attendance"' not in page
    assert "Noor" in page and "kunnen hun rijen van deze training niet meer" in page
    assert f'name="m{femke.id}-attendance"' in page

    tampered = {
        **row(femke, run="7", total="28"),
        **absent(daan, "excused"),
        **row(noor, run="20", total="40", note="Toch geweest"),
    }
    response = client.post(f"/sessions/{session.id}/edit", data=tampered)
    assert response.status_code == 302
    after = stored(db, session)
    assert after[noor.id] == before[noor.id]
    assert after[femke.id][1] == 7
    assert [e.participant_id for e in corrections(db)] == [femke.referral.participant_id]
    db.session.refresh(noor)
    assert noor.first_session_on is None

    # The service refuses a closed trajectory's row too, whoever calls it.
    entry = AttendanceEntry(noor, Attendance.PRESENT, 20, 40)
    with pytest.raises(ServiceError) as raised:
        correct_session(session, actor=practice.user, entries=[entry])
    assert (noor.id, "attendance") in raised.value.errors


def test_present_for_the_first_time_starts_the_trajectory(client, db, logged):
    practice, session = logged
    femke, daan, noor = practice.trajectories
    assert daan.referral.state is ReferralState.ACCEPTED
    data = {
        **absent(femke, "excused", note="Was er toch niet"),
        **row(daan, run="5", total="27", borg="14"),
        **absent(noor),
    }
    response = client.post(f"/sessions/{session.id}/edit", data=data)
    assert response.status_code == 302, text(response)
    assert response.headers["Location"] == f"/groups/{session.group_id}"
    for t in (femke, daan):
        db.session.refresh(t)
        db.session.refresh(t.referral)
    assert daan.first_session_on == HELD_ON
    assert daan.referral.state is ReferralState.ACTIVE
    daan_row = stored(db, session)[daan.id]
    assert daan_row == (Attendance.PRESENT, 5, 27, 14, None)
    # Changed to absent: her start stays.
    assert femke.referral.state is ReferralState.ACTIVE and femke.first_session_on == HELD_ON
    assert stored(db, session)[femke.id][:2] == (Attendance.EXCUSED, None)
