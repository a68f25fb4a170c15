"""Groups: a therapist's weekly walk/run groups of 3 to 8 participants, and their members."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import format_date

from referrals.models import (
    Attendance,
    AuditAction,
    AuditEvent,
    Outcome,
    Role,
    SessionAttendance,
    TrainingGroup,
    TrainingSession,
    Weekday,
    local_today,
    utcnow,
)
from referrals.services.trajectories.groups import SESSIONS_SHOWN
from tests.helpers import text
from tests.test_training_sessions import absent
from tests.test_training_sessions import row as present_row
from tests.training_setup import make_practice

GROUP = {
    "name": "Ochtendgroep Vondelpark",
    "weekday": "tue",
    "starts_at": "09:30",
    "meeting_place": "Ingang Vondelpark",
    "max_size": "6",
}


def test_the_groups_page_is_in_the_menu_and_lists_own_groups(client, db, login_as):
    practice = make_practice(participants=1)
    practice.group(practice.trajectories[0], name="Dinsdaggroep")
    make_practice().group(name="Groep van een ander")
    login_as(user=practice.user)
    page = text(client.get("/groups"))
    assert 'href="/groups"' in page and "Groepen" in page
    assert "Dinsdaggroep" in page and "dinsdag 09:30" in page.lower()
    assert "1 van 8" in page and "te klein" in page
    assert "Groep van een ander" not in page


def test_a_new_group_is_stored(client, db, login_as):
    practice = make_practice()
    login_as(user=practice.user)
    response = client.post("/groups/new", data=GROUP)
    assert response.status_code == 302
    group = db.session.scalars(sa.select(TrainingGroup)).one()
    assert (group.name, group.weekday, group.starts_at, group.max_size) == (
        "Ochtendgroep Vondelpark",
        Weekday.TUESDAY,
        time(9, 30),
        6,
    )
    assert group.therapist_id == practice.therapist.id
    page = text(client.get(response.headers["Location"]))
    assert "Ochtendgroep Vondelpark" in page
    assert "Deze groep heeft 0 leden; een groep heeft er minstens 3 nodig." in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"max_size": "2"}, "max_size", "Een groep heeft 3 tot 8 plaatsen."),
        ({"max_size": "9"}, "max_size", "Een groep heeft 3 tot 8 plaatsen."),
        ({"name": ""}, "name", "Vul de naam van de groep in."),
        ({"name": "   "}, "name", "Vul de naam van de groep in."),
        ({"meeting_place": ""}, "meeting_place", "Vul in waar de groep samenkomt."),
        ({"starts_at": "half tien"}, "starts_at", None),
        ({"weekday": "someday"}, "weekday", None),
    ],
)
def test_bad_group_input_is_explained_and_kept(client, db, login_as, changes, field, message):
    practice = make_practice()
    login_as(user=practice.user)
    response = client.post("/groups/new", data={**GROUP, **changes})
    page = text(response)
    assert response.status_code == 200
    assert f'id="{field}-error"' in page
    if message:
        assert message in page
    kept = {**GROUP, **changes}
    assert f'value="{kept["meeting_place"]}"' in page
    assert db.session.scalar(sa.select(sa.func.count(TrainingGroup.id))) == 0


def test_editing_a_group_and_the_size_cannot_drop_below_the_members(client, db, login_as):
    practice = make_practice(participants=4)
    group = practice.group(*practice.trajectories)
    login_as(user=practice.user)
    response = client.post(f"/groups/{group.id}", data={**GROUP, "max_size": "3"})
    page = text(response)
    assert response.status_code == 200 and 'id="max_size-error"' in page
    assert "De groep heeft 4 leden" in page
    assert 'value="Ochtendgroep Vondelpark"' in page
    db.session.refresh(group)
    assert group.name == "Dinsdaggroep" and group.max_size == 8

    assert client.post(f"/groups/{group.id}", data={**GROUP, "max_size": "4"}).status_code == 302
    db.session.refresh(group)
    assert (group.name, group.max_size) == ("Ochtendgroep Vondelpark", 4)


def test_members_are_added_and_removed_within_the_size(client, db, login_as):
    practice = make_practice(participants=4)
    first, second, third, fourth = practice.trajectories
    group = practice.group(first, second, max_size=3)
    login_as(user=practice.user)
    page = text(client.get(f"/groups/{group.id}"))
    assert "Femke" in page and "Daan" in page  # members
    assert "Noor" in page and "Bram" in page  # can be added
    assert "Deze groep heeft 2 leden" in page
    # Each remove button says whom it removes, for screen readers.
    name = first.referral.participant.full_name
    assert f'Uit de groep halen<span class="visually-hidden"> {name}</span>' in page

    response = client.post(f"/groups/{group.id}/members", data={"trajectory": third.id})
    assert response.status_code == 302
    db.session.refresh(third)
    assert third.group_id == group.id

    response = client.post(f"/groups/{group.id}/members", data={"trajectory": fourth.id})
    assert response.status_code == 200
    assert 'role="alert"' in text(response) and "De groep is vol." in text(response)
    db.session.refresh(fourth)
    assert fourth.group_id is None
    assert "De groep is vol." in text(client.get(f"/groups/{group.id}"))

    response = client.post(f"/groups/{group.id}/members/{first.id}/remove")
    assert response.status_code == 302
    db.session.refresh(first)
    assert first.group_id is None
    assert "Deelnemer uit de groep gehaald." in text(client.get(f"/groups/{group.id}"))
    updates = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == AuditAction.UPDATE, AuditEvent.object_type == "trajectories"
        )
    ).all()
    participants = {e.participant_id for e in updates}
    assert first.referral.participant_id in participants
    assert third.referral.participant_id in participants


def test_closed_or_grouped_or_no_intake_trajectories_cannot_be_added(client, db, login_as):
    practice = make_practice(participants=2)
    closed, grouped = practice.trajectories
    no_intake = practice.participant(intake=False)
    closed.closed_at, closed.outcome = utcnow(), Outcome.COMPLETED
    other = practice.group(grouped, name="Andere groep")
    group = practice.group(name="Nieuwe groep")
    login_as(user=practice.user)
    page = text(client.get(f"/groups/{group.id}"))
    assert "Femke" not in page and "Daan" not in page and "Noor" not in page
    for trajectory, message in [
        (closed, "Dit traject is afgesloten."),
        (grouped, "Deze deelnemer zit al in een groep."),
        (no_intake, "Leg eerst de intake vast"),
    ]:
        response = client.post(f"/groups/{group.id}/members", data={"trajectory": trajectory.id})
        assert response.status_code == 200 and message in text(response)
    db.session.refresh(grouped)
    assert grouped.group_id == other.id
    assert group.members == []


def test_the_group_page_reads_are_audited_per_participant(client, db, login_as):
    practice = make_practice(participants=3)
    group = practice.group(*practice.trajectories)
    login_as(user=practice.user)
    client.get(f"/groups/{group.id}")
    reads = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == AuditAction.READ, AuditEvent.object_type == "training_groups"
        )
    ).all()
    assert {r.participant_id for r in reads} == {
        t.referral.participant_id for t in practice.trajectories
    }


def test_another_therapists_group_and_trajectory_give_404(app, db, login_as):
    practice = make_practice(participants=2)
    group = practice.group(practice.trajectories[0])
    own = make_practice(participants=1)
    stranger = app.test_client()
    login_as(user=own.user, into=stranger)
    other_member = practice.trajectories[0]
    urls = [
        ("get", f"/groups/{group.id}"),
        ("post", f"/groups/{group.id}"),
        ("post", f"/groups/{group.id}/members"),
        ("post", f"/groups/{group.id}/members/{other_member.id}/remove"),
        ("get", f"/groups/{group.id}/sessions/new"),
        ("post", f"/groups/{group.id}/sessions/new"),
    ]
    for method, url in urls:
        assert getattr(stranger, method)(url, data=GROUP).status_code == 404, url
    # Their own group, someone else's participant: still 404 for the participant.
    own_group = own.group(own.trajectories[0])
    assert (
        stranger.post(f"/groups/{own_group.id}/members/{other_member.id}/remove").status_code == 404
    )
    assert (
        stranger.post(
            f"/groups/{own_group.id}/members", data={"trajectory": practice.trajectories[1].id}
        ).status_code
        == 404
    )
    db.session.refresh(other_member)
    assert other_member.group_id == group.id


def test_other_roles_cannot_see_groups(client, db, login_as):
    login_as(Role.COORDINATOR)
    assert client.get("/groups").status_code == 403


def session_row(trajectory, attendance: str) -> dict:
    if attendance == "present":
        return present_row(trajectory)
    return absent(trajectory, attendance)


def test_the_group_page_lists_its_sessions_newest_first(client, db, login_as):
    practice = make_practice(participants=3)
    femke, daan, noor = practice.trajectories
    group = practice.group(*practice.trajectories)
    other_group = practice.group(name="Donderdaggroep")
    login_as(user=practice.user)
    page = text(client.get(f"/groups/{group.id}"))
    assert 'id="sessions"' in page and "Nog geen trainingen vastgelegd." in page

    days = [local_today() - timedelta(days=n) for n in (14, 7)]
    came = [("present", "absent"), ("present", "present")]
    for day, (femke_came, daan_came) in zip(days, came, strict=True):
        data = {
            "held_on": day.isoformat(),
            **session_row(femke, femke_came),
            **session_row(daan, daan_came),
            **session_row(noor, "excused"),
        }
        assert client.post(f"/groups/{group.id}/sessions/new", data=data).status_code == 302
    ids = db.session.scalars(
        sa.select(TrainingSession.id).order_by(TrainingSession.held_on.desc())
    ).all()

    page = text(client.get(f"/groups/{group.id}"))
    table = page[page.index('id="sessions"') : page.index('id="members"')]
    lines = re.findall(
        r"<tr>\s*<th scope=\"row\">(.*?)</th>\s*<td>(.*?)</td>.*?href=\"(.*?)\"", table, re.S
    )
    assert lines == [
        (format_date(days[1], "long"), "2 van 3 aanwezig", f"/sessions/{ids[0]}/edit"),
        (format_date(days[0], "long"), "1 van 3 aanwezig", f"/sessions/{ids[1]}/edit"),
    ]
    other_page = text(client.get(f"/groups/{other_group.id}"))
    assert (
        f"/sessions/{ids[0]}/edit" not in other_page
        and f"/sessions/{ids[1]}/edit" not in other_page
    )
    assert "Nog geen trainingen vastgelegd." in other_page


def test_a_long_running_group_shows_its_latest_sessions_with_their_own_counts(
    client, db, login_as, queries
):
    """More sessions than the page shows: the newest SESSIONS_SHOWN, newest first, each with
    the attendance of that session only, and the total."""
    practice = make_practice(participants=2)
    femke, daan = practice.trajectories
    group = practice.group(femke, daan)
    held = SESSIONS_SHOWN + 3
    days = [local_today() - timedelta(days=7 * n) for n in range(held)]  # newest first
    for n, day in enumerate(days):
        session = TrainingSession(
            therapist_id=group.therapist_id,
            group_id=group.id,
            held_on=day,
            logged_by_id=practice.user.id,
        )
        db.session.add(session)
        db.session.flush()
        # Session n: Femke came when n is even, Daan when n is a multiple of 3.
        for trajectory, came in ((femke, n % 2 == 0), (daan, n % 3 == 0)):
            db.session.add(
                SessionAttendance(
                    session_id=session.id,
                    trajectory_id=trajectory.id,
                    programme_id=trajectory.programme_id,
                    held_on=day,
                    attendance=Attendance.PRESENT if came else Attendance.ABSENT,
                )
            )
    db.session.commit()
    login_as(user=practice.user)
    with queries() as log:
        page = text(client.get(f"/groups/{group.id}"))
    # Only the shown sessions' attendance is counted: the sessions are limited before the
    # attendance rows are joined, not after every session's rows were added up.
    (counting,) = [" ".join(s.split()) for s in log.statements if "JOIN session_attendances" in s]
    assert counting.index("LIMIT") < counting.index("JOIN session_attendances")
    table = page[page.index('id="sessions"') : page.index('id="members"')]
    lines = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</th>\s*<td>(.*?)</td>", table, re.S)
    assert lines == [
        (format_date(day, "long"), f"{(n % 2 == 0) + (n % 3 == 0)} van 2 aanwezig")
        for n, day in enumerate(days[:SESSIONS_SHOWN])
    ]
    assert f"De laatste {SESSIONS_SHOWN} van {held} sessies" in page
