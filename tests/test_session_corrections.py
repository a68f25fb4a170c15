"""Correcting a logged session: minutes, attendance, Borg and note per participant; closed
trajectories' rows stay, and someone present for the first time starts the trajectory. Moving a
session to another day and deleting one, each after a confirmation, and what follows from it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import format_date

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
from referrals.services.trajectories.session_corrections import correct_session
from referrals.services.trajectories.training_sessions import AttendanceEntry, week_number_on
from tests.helpers import text
from tests.test_training_sessions import absent, count, planned_week, row
from tests.training_setup import INTAKE_DAYS_AGO, NAMES, make_practice

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


def same_day() -> dict:
    return {"held_on": HELD_ON.isoformat()}


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


def test_the_form_is_prefilled_with_the_rows_and_the_date(client, db, logged):
    practice, session = logged
    femke, daan, _noor = practice.trajectories
    page = text(client.get(f"/sessions/{session.id}/edit"))
    assert f'id="m{femke.id}-done_run_min"' in page and 'value="6"' in page
    assert 'value="28"' in page and 'value="13"' in page and "Ging goed" in page
    assert f'checked class="choice__input" id="m{daan.id}-attendance-1"' in page
    assert "Kies of de deelnemer er was." not in page
    assert f'name="held_on" required type="date" value="{HELD_ON.isoformat()}"' in page
    assert 'name="confirm_date"' not in page  # asked only once the date changes
    assert f'href="/sessions/{session.id}/delete"' in page


def test_corrected_minutes_and_attendance_are_stored_and_shown(client, db, logged):
    practice, session = logged
    femke, daan, noor = practice.trajectories
    before = stored(db, session)
    data = {
        **same_day(),
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
        **same_day(),
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
    data = {**same_day(), **row(femke, run="1", total="2"), **absent(daan), **absent(noor)}
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

    assert 'name="held_on"' not in page and "kan niet veranderen" in page
    assert f'href="/sessions/{session.id}/delete"' not in page

    tampered = {
        "held_on": (HELD_ON - timedelta(days=1)).isoformat(),
        "confirm_date": "y",
        **row(femke, run="7", total="28"),
        **absent(daan, "excused"),
        **row(noor, run="20", total="40", note="Toch geweest"),
    }
    response = client.post(f"/sessions/{session.id}/edit", data=tampered)
    assert response.status_code == 302
    assert _db.session.get(TrainingSession, session.id).held_on == HELD_ON
    after = stored(db, session)
    assert after[noor.id] == before[noor.id]
    assert after[femke.id][1] == 7
    assert [e.participant_id for e in corrections(db)] == [femke.referral.participant_id]
    db.session.refresh(noor)
    assert noor.first_session_on is None

    # The service refuses a closed trajectory's row too, whoever calls it, and the move.
    entry = AttendanceEntry(noor, Attendance.PRESENT, 20, 40)
    with pytest.raises(ServiceError) as raised:
        correct_session(session, actor=practice.user, entries=[entry])
    assert (noor.id, "attendance") in raised.value.errors
    with pytest.raises(ServiceError) as raised:
        other_day = HELD_ON - timedelta(days=1)
        correct_session(session, actor=practice.user, entries=[], held_on=other_day, confirmed=True)
    assert "afgesloten traject van Noor Achternaam2" in raised.value.errors[(None, "held_on")]


def test_present_for_the_first_time_starts_the_trajectory(client, db, logged):
    practice, session = logged
    femke, daan, noor = practice.trajectories
    assert daan.referral.state is ReferralState.ACCEPTED
    data = {
        **same_day(),
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


def test_minutes_of_someone_marked_absent_are_ignored_and_named(client, db, logged):
    practice, session = logged
    femke, daan, noor = practice.trajectories
    data = {
        **same_day(),
        **row(femke, run="6", total="28", borg="13", note="Ging goed"),
        **absent(daan, "excused"),
        **row(noor, "absent", run="6", total="28", borg="veel"),
    }
    response = client.post(f"/sessions/{session.id}/edit", data=data)
    assert response.status_code == 302, text(response)
    assert stored(db, session)[noor.id] == (Attendance.ABSENT, None, None, None, None)
    page = text(client.get(response.headers["Location"]))
    assert "Minuten en Borg zijn genegeerd voor Noor Achternaam2: " in page
    assert "genegeerd voor Daan" not in page and "Femke Achternaam0:" not in page


def test_a_rows_message_names_its_participant_next_to_the_row(client, db, logged):
    practice, session = logged
    femke, daan, noor = practice.trajectories
    data = {**same_day(), **row(femke), **row(daan, borg="25"), **absent(noor)}
    page = text(client.post(f"/sessions/{session.id}/edit", data=data))
    error = re.search(rf'<p class="field__error" id="m{daan.id}-borg-error">(.*?)</p>', page, re.S)
    assert error and "Daan Achternaam1: Vul een Borg-score in van 6 tot 20." in error.group(1)
    assert (
        "Daan Achternaam1: Vul een Borg-score in van 6 tot 20. (Ervaren inspanning (Borg 6-20))"
        in page
    )


# --- moving a session to another day -----------------------------------------------------------


def moved_to(day, *, confirm_for=None) -> dict:
    """The date field, with the box ticked for `confirm_for` (None: not ticked)."""
    data = {"held_on": day.isoformat()}
    if confirm_for is not None:
        data |= {"confirm_date": "y", "confirm_for": confirm_for.isoformat()}
    return data


def date_changes(db) -> list[tuple]:
    return db.session.execute(
        sa.select(AuditEvent.participant_id, AuditEvent.detail)
        .where(AuditEvent.action == AuditAction.UPDATE, AuditEvent.detail.like("session date%"))
        .order_by(AuditEvent.id)
    ).all()


def test_moving_the_date_asks_first_then_moves_the_rows_with_it(client, db, logged):
    practice, session = logged
    femke, daan, noor = practice.trajectories
    before = stored(db, session)
    earlier = HELD_ON - timedelta(days=1)
    rows = {**row(femke, run="9", total="30", borg="13"), **absent(daan, "excused"), **absent(noor)}
    url = f"/sessions/{session.id}/edit"

    asked = text(client.post(url, data={**moved_to(earlier), **rows}))
    question = re.search(r'<p class="field__error" id="confirm_date-error">(.*?)</p>', asked, re.S)
    assert question and "van " + format_date(HELD_ON, "long") in question.group(1)
    assert "naar " + format_date(earlier, "long") in question.group(1)
    assert "Deze groep heeft" not in question.group(1)  # its own old day is no other session
    assert f'value="{earlier.isoformat()}"' in asked and 'value="9"' in asked
    assert stored(db, session) == before and date_changes(db) == []
    assert _db.session.get(TrainingSession, session.id).held_on == HELD_ON

    # Ticked for another day than the one now typed: asked again.
    other = HELD_ON - timedelta(days=2)
    again = text(client.post(url, data={**moved_to(other, confirm_for=earlier), **rows}))
    assert 'id="confirm_date-error"' in again and format_date(other, "long") in again
    assert date_changes(db) == []

    response = client.post(url, data={**moved_to(earlier, confirm_for=earlier), **rows})
    assert response.status_code == 302, text(response)
    db.session.expire_all()
    moved = _db.session.get(TrainingSession, session.id)
    assert moved.held_on == earlier and {r.held_on for r in moved.attendances} == {earlier}
    assert stored(db, session)[femke.id][:2] == (Attendance.PRESENT, 9)
    assert femke.first_session_on == earlier  # her first session moved with it
    changes = date_changes(db)
    assert changes[-1] == (
        None,
        f"session date changed from {HELD_ON.isoformat()} to {earlier.isoformat()}",
    )
    assert sorted(p for p, _detail in changes[:-1]) == sorted(
        t.referral.participant_id for t in practice.trajectories
    )


def test_moving_close_to_another_session_says_so_in_the_question(client, db, logged):
    practice, session = logged
    group = session.group
    week_before = HELD_ON - timedelta(days=7)
    log_group_session(client, group, practice.trajectories, week_before)
    data = {**moved_to(week_before + timedelta(days=1)), **rows_as_logged(practice)}
    page = text(client.post(f"/sessions/{session.id}/edit", data=data))
    question = re.search(r'id="confirm_date-error">(.*?)</p>', page, re.S).group(1)
    assert "Deze groep heeft een training op " + format_date(week_before, "long") in question


def log_group_session(client, group, members, day) -> None:
    data = {"held_on": day.isoformat(), **{k: v for t in members for k, v in row(t).items()}}
    assert client.post(f"/groups/{group.id}/sessions/new", data=data).status_code == 302


def rows_as_logged(practice) -> dict:
    femke, daan, noor = practice.trajectories
    return {
        **row(femke, run="6", total="28", borg="13", note="Ging goed"),
        **absent(daan, "excused"),
        **absent(noor),
    }


@pytest.mark.parametrize(
    ("days_from_today", "programme", "message"),
    [
        (1, {}, "De datum van de training ligt in de toekomst."),
        (-INTAKE_DAYS_AGO - 1, {}, "De datum van de training ligt vóór de intake."),
        (-12, {"starts_on": 10}, "De datum ligt vóór het begin van het programma"),
        (0, {"ends_on": 1}, "De datum ligt na het einde van het programma"),
        (-8, {}, "Er is al een training op deze datum vastgelegd."),
    ],
)
def test_a_date_outside_the_trajectory_or_programme_is_refused_next_to_it(
    client, db, logged, days_from_today, programme, message
):
    practice, session = logged
    log_group_session(client, session.group, practice.trajectories, local_today() - timedelta(8))
    for name, days_ago in programme.items():
        setattr(practice.programme, name, local_today() - timedelta(days=days_ago))
    db.session.commit()
    before = stored(db, session)
    day = local_today() + timedelta(days=days_from_today)
    data = {**moved_to(day, confirm_for=day), **rows_as_logged(practice)}
    response = client.post(f"/sessions/{session.id}/edit", data=data)
    page = text(response)
    assert response.status_code == 200
    error = re.search(r'<p class="field__error" id="held_on-error">(.*?)</p>', page, re.S)
    assert error and message in error.group(1)
    assert f'value="{day.isoformat()}"' in page
    assert _db.session.get(TrainingSession, session.id).held_on == HELD_ON
    assert stored(db, session) == before and date_changes(db) == []


def test_moving_the_first_session_counts_the_weeks_from_the_new_first(client, db, login_as):
    practice = make_practice(participants=1)
    (trajectory,) = practice.trajectories
    login_as(user=practice.user)
    first, second = local_today() - timedelta(days=14), local_today() - timedelta(days=7)
    for day in (first, second):
        data = {"held_on": day.isoformat(), **row(trajectory)}
        response = client.post(f"/trajectories/{trajectory.id}/sessions/new", data=data)
        assert response.status_code == 302
    session = _db.session.scalar(sa.select(TrainingSession).where(TrainingSession.held_on == first))
    later = local_today() - timedelta(days=3)
    data = {**moved_to(later, confirm_for=later), **row(trajectory)}
    assert client.post(f"/sessions/{session.id}/edit", data=data).status_code == 302
    db.session.expire_all()
    assert trajectory.first_session_on == second
    weeks = dict(
        db.session.execute(
            sa.select(SessionAttendance.held_on, SessionAttendance.week_number)
        ).all()
    )
    assert weeks == {second: 1, later: week_number_on(trajectory, later)}


def test_an_individual_session_cannot_move_onto_the_participants_other_session(
    client, db, login_as
):
    practice = make_practice(participants=1)
    (trajectory,) = practice.trajectories
    login_as(user=practice.user)
    first, second = local_today() - timedelta(days=14), local_today() - timedelta(days=7)
    for day in (first, second):
        data = {"held_on": day.isoformat(), **row(trajectory)}
        response = client.post(f"/trajectories/{trajectory.id}/sessions/new", data=data)
        assert response.status_code == 302
    session = _db.session.scalar(sa.select(TrainingSession).where(TrainingSession.held_on == first))
    data = {**moved_to(second, confirm_for=second), **row(trajectory)}
    page = text(client.post(f"/sessions/{session.id}/edit", data=data))
    error = re.search(r'<p class="field__error" id="held_on-error">(.*?)</p>', page, re.S)
    assert error and "Er is al een training op deze datum vastgelegd." in error.group(1)
    assert _db.session.get(TrainingSession, session.id).held_on == first


# --- deleting a session ------------------------------------------------------------------------


def deletions(db) -> list[AuditEvent]:
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == AuditAction.DELETE).order_by(AuditEvent.id)
    ).all()


def test_deleting_asks_on_a_page_then_deletes_the_session_with_its_rows(client, db, logged):
    practice, session = logged
    femke, daan, noor = practice.trajectories
    group_id, session_id = session.group_id, session.id
    assert "100% aanwezig" in text(client.get(f"/trajectories/{femke.id}"))

    page = text(client.get(f"/sessions/{session.id}/delete"))
    assert "Femke Achternaam0" in page and "afwezig met afmelding" in page
    assert 'class="button button--danger">Training verwijderen' in page
    assert count(db, TrainingSession) == 1 and deletions(db) == []

    response = client.post(f"/sessions/{session.id}/delete")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/groups/{group_id}"
    assert count(db, TrainingSession) == 0 and count(db, SessionAttendance) == 0
    db.session.expire_all()
    assert femke.first_session_on is None  # no session attended is left
    assert femke.referral.state is ReferralState.ACTIVE  # a state is never taken back

    events = deletions(db)
    assert (events[0].participant_id, events[0].detail) == (
        None,
        f"session deleted: held on {HELD_ON.isoformat()}, group {group_id}, 3 attendance rows",
    )
    assert sorted(e.participant_id for e in events[1:]) == sorted(
        t.referral.participant_id for t in (femke, daan, noor)
    )
    assert all(e.object_type == "training_sessions" for e in events)
    assert not any(name in (e.detail or "") for e in events for name in NAMES)

    page = text(client.get(response.headers["Location"]))
    assert "De training van " + format_date(HELD_ON, "long") + " is verwijderd." in page
    assert f"/sessions/{session_id}/edit" not in page
    assert "Nog geen trainingen vastgelegd." in text(client.get(f"/trajectories/{femke.id}"))


def test_deleting_the_first_session_makes_the_next_one_week_one(client, db, login_as):
    practice = make_practice(participants=1)
    (trajectory,) = practice.trajectories
    login_as(user=practice.user)
    first, second = local_today() - timedelta(days=14), local_today() - timedelta(days=7)
    for day in (first, second):
        data = {"held_on": day.isoformat(), **row(trajectory)}
        client.post(f"/trajectories/{trajectory.id}/sessions/new", data=data)
    session = _db.session.scalar(sa.select(TrainingSession).where(TrainingSession.held_on == first))
    response = client.post(f"/sessions/{session.id}/delete?trajectory={trajectory.id}")
    assert response.headers["Location"] == f"/trajectories/{trajectory.id}#progress"
    db.session.expire_all()
    assert trajectory.first_session_on == second
    (left,) = db.session.scalars(sa.select(SessionAttendance)).all()
    assert (left.held_on, left.week_number) == (second, 1)


def test_a_session_of_a_closed_trajectory_is_not_deleted(client, db, logged):
    practice, session = logged
    noor = practice.trajectories[2]
    noor.closed_at, noor.outcome = utcnow(), Outcome.COMPLETED
    db.session.commit()
    page = text(client.get(f"/sessions/{session.id}/delete"))
    assert "Deze training kan niet worden verwijderd" in page and "button--danger" not in page
    response = client.post(f"/sessions/{session.id}/delete")
    assert response.headers["Location"] == f"/sessions/{session.id}/edit"
    assert "afgesloten traject van Noor Achternaam2" in text(
        client.get(response.headers["Location"])
    )
    assert count(db, TrainingSession) == 1 and count(db, SessionAttendance) == 3
    assert deletions(db) == []


def test_another_therapist_can_neither_move_nor_delete(app, db, logged, login_as):
    practice, session = logged
    before = stored(db, session)
    stranger = app.test_client()
    login_as(user=make_practice().user, into=stranger)
    day = HELD_ON - timedelta(days=1)
    data = {**moved_to(day, confirm_for=day), **rows_as_logged(practice)}
    assert stranger.post(f"/sessions/{session.id}/edit", data=data).status_code == 404
    assert stranger.get(f"/sessions/{session.id}/delete").status_code == 404
    assert stranger.post(f"/sessions/{session.id}/delete").status_code == 404
    assert _db.session.get(TrainingSession, session.id).held_on == HELD_ON
    assert stored(db, session) == before and deletions(db) == []
