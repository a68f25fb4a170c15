"""Logging supervised sessions: a group session with attendance per member, individual sessions,
planned minutes from the plan, the referral becoming active, and the progress section.

(tests/test_sessions.py is about login sessions.)
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import format_date

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
from referrals.services.trajectories import plan_from_json
from referrals.services.trajectories.training_plans import LADDER
from referrals.services.trajectories.training_sessions import AttendanceEntry, log_session
from tests.helpers import text
from tests.training_setup import make_practice


def row(trajectory, attendance="present", run="6", total="28", borg="13", note=""):
    p = f"m{trajectory.id}"
    return {
        f"{p}-attendance": attendance,
        f"{p}-done_run_min": run,
        f"{p}-done_total_min": total,
        f"{p}-borg": borg,
        f"{p}-note": note,
    }


def absent(trajectory, kind="absent", note=""):
    return row(trajectory, kind, run="", total="", borg="", note=note)


def planned_week(trajectory, number):
    return plan_from_json(trajectory.plan).week(number).session


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count(model.id)))


@pytest.fixture
def group_of_three(db):
    practice = make_practice(participants=3)
    group = practice.group(*practice.trajectories)
    return practice, group


def test_the_form_prefills_the_planned_minutes_per_member(client, db, login_as, group_of_three):
    practice, group = group_of_three
    login_as(user=practice.user)
    page = text(client.get(f"/groups/{group.id}/sessions/new"))
    first = practice.trajectories[0]
    week = planned_week(first, 1)
    assert "Femke" in page and "Daan" in page and "Noor" in page
    assert f'id="m{first.id}-done_run_min"' in page
    assert f'value="{week.total_run_min}"' in page and f'value="{week.total_min}"' in page
    assert "afwezig met afmelding" in page and "afwezig zonder afmelding" in page
    assert f'value="{local_today().isoformat()}"' in page
    reads = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == AuditAction.READ)
    ).all()
    assert {t.referral.participant_id for t in practice.trajectories} <= {
        r.participant_id for r in reads
    }


def test_a_group_session_with_mixed_attendance_is_stored(client, db, login_as, group_of_three):
    practice, group = group_of_three
    femke, daan, noor = practice.trajectories
    login_as(user=practice.user)
    held_on = local_today() - timedelta(days=1)
    data = {
        "held_on": held_on.isoformat(),
        **row(femke, run="5", total="27", borg="14", note="Knie hield zich goed"),
        **absent(daan, "excused"),
        **absent(noor, "absent"),
    }
    response = client.post(f"/groups/{group.id}/sessions/new", data=data)
    assert response.status_code == 302, text(response)
    session = db.session.scalars(sa.select(TrainingSession)).one()
    assert session.group_id == group.id and session.held_on == held_on
    rows = {r.trajectory_id: r for r in session.attendances}
    week = planned_week(femke, 1)
    assert rows[femke.id].attendance is Attendance.PRESENT
    assert (rows[femke.id].done_run_min, rows[femke.id].done_total_min) == (5, 27)
    assert rows[femke.id].borg == 14 and rows[femke.id].note == "Knie hield zich goed"
    assert rows[daan.id].attendance is Attendance.EXCUSED
    assert rows[noor.id].attendance is Attendance.ABSENT and rows[noor.id].done_run_min is None
    for r in rows.values():
        assert r.week_number == 1
        assert (r.planned_run_min, r.planned_total_min) == (week.total_run_min, week.total_min)

    # Only the participant who was there has started.
    for t in practice.trajectories:
        db.session.refresh(t)
        db.session.refresh(t.referral)
    assert femke.first_session_on == held_on
    assert femke.referral.state is ReferralState.ACTIVE
    assert daan.first_session_on is None and daan.referral.state is ReferralState.ACCEPTED
    assert "actief" in text(client.get(f"/trajectories/{femke.id}"))

    created = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == AuditAction.CREATE, AuditEvent.object_type == "training_sessions"
        )
    ).all()
    assert sorted(e.participant_id for e in created) == sorted(
        t.referral.participant_id for t in practice.trajectories
    )


@pytest.mark.parametrize(
    ("member_row", "field", "message"),
    [
        (lambda t: row(t, borg="5"), "borg", "Vul een Borg-score in van 6 tot 20."),
        (lambda t: row(t, borg="21"), "borg", "Vul een Borg-score in van 6 tot 20."),
        (
            lambda t: row(t, run="30", total="20"),
            "done_run_min",
            "Het hardlopen kan niet langer duren dan de hele training.",
        ),
        (lambda t: row(t, run="", total="28"), "done_run_min", "Vul de gedane minuten in"),
        (lambda t: row(t, run="veel"), "done_run_min", None),
        (lambda t: row(t, attendance="asleep"), "attendance", None),
    ],
)
def test_a_bad_member_row_is_explained_next_to_it_and_nothing_is_saved(
    client, db, login_as, group_of_three, member_row, field, message
):
    practice, group = group_of_three
    femke, daan, noor = practice.trajectories
    login_as(user=practice.user)
    data = {
        "held_on": local_today().isoformat(),
        **row(femke, note="Goed gelopen vandaag"),
        **member_row(daan),
        **absent(noor, note="Belde af wegens griep"),
    }
    response = client.post(f"/groups/{group.id}/sessions/new", data=data)
    page = text(response)
    assert response.status_code == 200
    assert f'id="m{daan.id}-{field}-error"' in page
    assert f'id="m{femke.id}-{field}-error"' not in page
    error = re.search(
        rf'<p class="field__error" id="m{daan.id}-{field}-error">(.*?)</p>', page, re.S
    )
    assert error and "Daan Achternaam1: " in error.group(1)  # whose row it is, next to it
    if message:
        assert message in error.group(1)
    assert "Goed gelopen vandaag" in page and "Belde af wegens griep" in page
    assert count(db, TrainingSession) == 0 and count(db, SessionAttendance) == 0
    db.session.refresh(femke.referral)
    assert femke.referral.state is ReferralState.ACCEPTED and femke.first_session_on is None


@pytest.mark.parametrize(
    ("held_on", "message"),
    [
        ((local_today() + timedelta(days=1)).isoformat(), "De datum van de training ligt in de"),
        ((local_today() - timedelta(days=60)).isoformat(), "ligt vóór de intake"),
        ("", None),
        ("gisteren", None),
    ],
)
def test_a_bad_date_is_refused(client, db, login_as, group_of_three, held_on, message):
    practice, group = group_of_three
    login_as(user=practice.user)
    data = {"held_on": held_on, **{k: v for t in practice.trajectories for k, v in row(t).items()}}
    response = client.post(f"/groups/{group.id}/sessions/new", data=data)
    page = text(response)
    assert response.status_code == 200 and 'id="held_on-error"' in page
    if message:
        assert message in page
    assert count(db, TrainingSession) == 0


def test_one_group_session_per_day(client, db, login_as, group_of_three):
    practice, group = group_of_three
    login_as(user=practice.user)
    data = {
        "held_on": local_today().isoformat(),
        **{k: v for t in practice.trajectories for k, v in row(t).items()},
    }
    assert client.post(f"/groups/{group.id}/sessions/new", data=data).status_code == 302
    response = client.post(f"/groups/{group.id}/sessions/new", data=data)
    assert response.status_code == 200
    assert "Er is al een training op deze datum vastgelegd." in text(response)
    assert count(db, TrainingSession) == 1 and count(db, SessionAttendance) == 3


def test_individual_sessions_count_weeks_from_the_first_session(client, db, login_as):
    practice = make_practice(participants=1)
    (trajectory,) = practice.trajectories
    login_as(user=practice.user)
    url = f"/trajectories/{trajectory.id}/sessions/new"
    first_day = local_today() - timedelta(days=14)
    week1 = planned_week(trajectory, 1)
    data = {"held_on": first_day.isoformat(), **row(trajectory, run="6", total="28")}
    assert client.post(url, data=data).status_code == 302
    db.session.refresh(trajectory)
    assert trajectory.first_session_on == first_day
    assert trajectory.referral.state is ReferralState.ACTIVE

    week3 = planned_week(trajectory, 3)  # today is two calendar weeks after the first session
    data = {"held_on": local_today().isoformat(), **row(trajectory, run="9", total="30", borg="")}
    assert client.post(url, data=data).status_code == 302
    rows = db.session.scalars(
        sa.select(SessionAttendance).order_by(SessionAttendance.week_number)
    ).all()
    assert [(r.week_number, r.planned_run_min) for r in rows] == [
        (1, week1.total_run_min),
        (3, week3.total_run_min),
    ]
    assert all(r.session.group_id is None for r in rows)
    duplicate = client.post(url, data=data)
    assert "Er is al een training op deze datum vastgelegd." in text(duplicate)


def test_the_progress_section_shows_chart_attendance_and_last_sessions(client, db, login_as):
    practice = make_practice(participants=1)
    (trajectory,) = practice.trajectories
    login_as(user=practice.user)
    page = text(client.get(f"/trajectories/{trajectory.id}"))
    assert "Nog geen trainingen vastgelegd." in page
    assert f'href="/trajectories/{trajectory.id}/sessions/new"' in page
    url = f"/trajectories/{trajectory.id}/sessions/new"
    for days_ago, data in [
        (9, row(trajectory, run="6", total="28", note="Eerste keer, ging goed")),
        (2, absent(trajectory, "excused")),
    ]:
        held_on = (local_today() - timedelta(days=days_ago)).isoformat()
        assert client.post(url, data={"held_on": held_on, **data}).status_code == 302
    page = text(client.get(f"/trajectories/{trajectory.id}"))
    assert "<svg" in page and "<title" in page and "Minuten hardlopen per week" in page
    assert "50% aanwezig" in page
    assert "Eerste keer, ging goed" in page and "afwezig met afmelding" in page
    assert "Individueel" in page


def test_closed_or_foreign_trajectories_get_no_sessions(app, client, db, login_as):
    practice = make_practice(participants=2)
    closed, open_one = practice.trajectories
    closed.closed_at, closed.outcome = utcnow(), Outcome.COMPLETED
    db.session.commit()
    login_as(user=practice.user)
    response = client.get(f"/trajectories/{closed.id}/sessions/new")
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "alleen worden vastgelegd bij een lopend traject" in page
    data = {"held_on": local_today().isoformat(), **row(closed)}
    client.post(f"/trajectories/{closed.id}/sessions/new", data=data)
    assert count(db, TrainingSession) == 0

    stranger = app.test_client()
    login_as(user=make_practice().user, into=stranger)
    data = {"held_on": local_today().isoformat(), **row(open_one)}
    assert stranger.get(f"/trajectories/{open_one.id}/sessions/new").status_code == 404
    assert stranger.post(f"/trajectories/{open_one.id}/sessions/new", data=data).status_code == 404
    assert count(db, TrainingSession) == 0


def test_the_first_ladder_step_is_what_a_beginner_is_planned(db):
    # Guards the planned-minute assertions above: a 1-minute runner starts on the first step.
    practice = make_practice(participants=1)
    assert planned_week(practice.trajectories[0], 1) == LADDER[0]


def test_a_session_logged_late_before_the_first_one_renumbers_the_weeks(client, db, login_as):
    practice = make_practice(participants=1)
    (trajectory,) = practice.trajectories
    login_as(user=practice.user)
    url = f"/trajectories/{trajectory.id}/sessions/new"
    today = local_today()
    data = {"held_on": today.isoformat(), **row(trajectory, run="6", total="28")}
    assert client.post(url, data=data).status_code == 302
    (first,) = db.session.scalars(sa.select(SessionAttendance)).all()
    assert first.week_number == 1

    # The session of a week ago is logged afterwards: it becomes week 1, today's week 2.
    earlier = today - timedelta(days=7)
    data = {"held_on": earlier.isoformat(), **row(trajectory, run="6", total="28")}
    assert client.post(url, data=data).status_code == 302
    db.session.expire_all()
    assert trajectory.first_session_on == earlier
    rows = db.session.scalars(sa.select(SessionAttendance).order_by(SessionAttendance.held_on))
    week2 = planned_week(trajectory, 2)
    assert [(r.held_on, r.week_number) for r in rows] == [(earlier, 1), (today, 2)]
    assert first.planned_run_min == week2.total_run_min


def test_absent_members_keep_no_prefilled_minutes_and_the_session_is_saved(
    client, db, login_as, group_of_three
):
    practice, group = group_of_three
    femke, daan, noor = practice.trajectories
    login_as(user=practice.user)
    week = planned_week(femke, 1)
    prefilled = {"run": str(week.total_run_min), "total": str(week.total_min)}
    data = {
        "held_on": local_today().isoformat(),
        **row(femke, **prefilled, borg="13"),
        **row(daan, "excused", **prefilled, borg=""),  # what the form offered, left as it was
        **row(noor, "absent", run="veel", total="999", borg="30"),
    }
    response = client.post(f"/groups/{group.id}/sessions/new", data=data)
    assert response.status_code == 302, text(response)
    (session,) = db.session.scalars(sa.select(TrainingSession)).all()
    rows = {r.trajectory_id: r for r in session.attendances}
    for away in (daan, noor):
        assert (rows[away.id].done_run_min, rows[away.id].done_total_min) == (None, None)
        assert rows[away.id].borg is None
    assert (rows[femke.id].done_run_min, rows[femke.id].borg) == (week.total_run_min, 13)
    page = text(client.get(response.headers["Location"]))
    assert (
        "Minuten en Borg zijn genegeerd voor Daan Achternaam1, Noor Achternaam2: zij waren niet"
        in page
    )


def test_nothing_typed_for_someone_absent_says_nothing_was_ignored(
    client, db, login_as, group_of_three
):
    practice, group = group_of_three
    femke, daan, noor = practice.trajectories
    login_as(user=practice.user)
    data = {"held_on": local_today().isoformat(), **row(femke), **absent(daan), **absent(noor)}
    response = client.post(f"/groups/{group.id}/sessions/new", data=data)
    assert response.status_code == 302
    assert "genegeerd" not in text(client.get(response.headers["Location"]))


def test_a_second_session_on_a_neighbouring_day_needs_confirming(
    client, db, login_as, group_of_three
):
    practice, group = group_of_three
    login_as(user=practice.user)
    yesterday, today = local_today() - timedelta(days=1), local_today()
    rows = {k: v for t in practice.trajectories for k, v in row(t, note="Tweede keer?").items()}
    url = f"/groups/{group.id}/sessions/new"
    assert client.post(url, data={"held_on": yesterday.isoformat(), **rows}).status_code == 302

    asked = client.post(url, data={"held_on": today.isoformat(), **rows})
    page = text(asked)
    assert asked.status_code == 200
    question = re.search(r'<p class="field__error" id="confirm_near-error">(.*?)</p>', page, re.S)
    assert question and "Deze groep heeft een training op " + format_date(
        yesterday, "long"
    ) in question.group(1)
    assert f'name="confirm_for" type="hidden" value="{today.isoformat()}"' in page
    assert "Tweede keer?" in page
    assert count(db, TrainingSession) == 1

    # The tick was for today; with another date typed the question comes again.
    other_day = today - timedelta(days=2)
    confirmed_other = {"confirm_near": "y", "confirm_for": today.isoformat()}
    again = client.post(url, data={"held_on": other_day.isoformat(), **confirmed_other, **rows})
    assert 'id="confirm_near-error"' in text(again) and count(db, TrainingSession) == 1

    confirmed = {"confirm_near": "y", "confirm_for": today.isoformat()}
    response = client.post(url, data={"held_on": today.isoformat(), **confirmed, **rows})
    assert response.status_code == 302, text(response)
    assert count(db, TrainingSession) == 2


def test_a_session_a_week_later_is_not_questioned(client, db, login_as, group_of_three):
    practice, group = group_of_three
    login_as(user=practice.user)
    rows = {k: v for t in practice.trajectories for k, v in row(t).items()}
    url = f"/groups/{group.id}/sessions/new"
    for day in (local_today() - timedelta(days=4), local_today()):
        assert client.post(url, data={"held_on": day.isoformat(), **rows}).status_code == 302
    assert count(db, TrainingSession) == 2


def test_an_individual_session_close_to_another_needs_confirming(client, db, login_as):
    practice = make_practice(participants=2)
    trajectory, other = practice.trajectories
    login_as(user=practice.user)
    url = f"/trajectories/{trajectory.id}/sessions/new"
    day = local_today() - timedelta(days=3)
    assert client.post(url, data={"held_on": day.isoformat(), **row(trajectory)}).status_code == 302
    # Someone else's individual session today is no clash for this participant.
    other_url = f"/trajectories/{other.id}/sessions/new"
    assert (
        client.post(
            other_url, data={"held_on": local_today().isoformat(), **row(other)}
        ).status_code
        == 302
    )
    page = text(client.post(url, data={"held_on": local_today().isoformat(), **row(trajectory)}))
    assert "Deze deelnemer heeft een individuele training op " + format_date(day, "long") in page
    assert count(db, TrainingSession) == 2


def test_the_service_stores_no_minutes_for_someone_away_whoever_calls_it(db):
    practice = make_practice(participants=2)
    there, away = practice.trajectories
    session = log_session(
        practice.therapist,
        actor=practice.user,
        held_on=local_today(),
        entries=[
            AttendanceEntry(there, Attendance.PRESENT, 6, 28, 13),
            AttendanceEntry(away, Attendance.EXCUSED, 6, 28, 13),
        ],
    )
    rows = {r.trajectory_id: r for r in session.attendances}
    assert (rows[there.id].done_run_min, rows[there.id].borg) == (6, 13)
    stored_away = rows[away.id]
    assert (stored_away.done_run_min, stored_away.done_total_min, stored_away.borg) == (
        None,
        None,
        None,
    )
