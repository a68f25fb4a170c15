"""Closing a trajectory: outcome, referral state, capacity, the letter and who may read it."""

from __future__ import annotations

import hashlib
import io
from datetime import time, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from referrals.extensions import db as database
from referrals.models import (
    Attendance,
    AuditAction,
    AuditEvent,
    Moment,
    Notification,
    NotificationKind,
    Outcome,
    QuestionnaireResponse,
    ReferralState,
    Report,
    Role,
    SessionAttendance,
    TrainingGroup,
    TrainingSession,
    Trajectory,
    Weekday,
    local_today,
)
from referrals.services import ServiceError
from referrals.services.closing import close_trajectory
from referrals.services.referrals import offers
from referrals.services.states import apply_transition
from referrals.services.trajectories import record_intake
from tests import factories
from tests.helpers import text

NOTE = "Vertelde over ruzie thuis"  # a session note: never outside the therapist's view
ADVICE = "Blijf twee keer per week lopen met de hardloopgroep in het park."


@pytest.fixture
def world(db):
    base = factories.make_world(therapist_name="Eva Smit")
    base.gp.name = "Dr. Jansen"
    base.therapist.brtn_number = "778899"
    user, therapist = base.therapist_user, base.therapist
    referral = factories.make_referral(
        programme=base.programme, referrer=base.gp, first_name="Femke"
    )
    offers.accept_offer(
        offers.offer_referral(referral, therapist, actor=base.coordinator), actor=user
    )
    trajectory = db.session.scalars(sa.select(Trajectory)).one()
    record_intake(
        trajectory,
        actor=user,
        intake_on=local_today() - timedelta(days=80),
        can_walk_min=40,
        can_run_min=1,
        remarks="",
        template="standard",
    )
    db.session.commit()
    return SimpleNamespace(
        trajectory=trajectory,
        referral=referral,
        user=user,
        therapist=therapist,
        gp=base.gp,
        coordinator=base.coordinator,
        municipality=base.municipality,
    )


def log_session(w, attendance=Attendance.PRESENT, *, days_ago=70, run=None, week=None, note=None):
    session = TrainingSession(
        therapist_id=w.therapist.id,
        held_on=local_today() - timedelta(days=days_ago),
        logged_by_id=w.user.id,
    )
    present = attendance is Attendance.PRESENT
    database.session.add(session)
    database.session.add(
        SessionAttendance(
            session=session,
            held_on=session.held_on,
            trajectory_id=w.trajectory.id,
            attendance=attendance,
            week_number=week,
            done_run_min=run if present else None,
            done_total_min=(run + 20) if present and run is not None else None,
            note=note,
        )
    )


def add_score(w, moment: Moment, score: float, category: str, days_ago: int):
    database.session.add(
        QuestionnaireResponse(
            trajectory_id=w.trajectory.id,
            instrument="k10",
            moment=moment,
            taken_on=local_today() - timedelta(days=days_ago),
            answers={},
            score=score,
            category=category,
            recorded_by_id=w.user.id,
        )
    )


def started(w, db):
    """The participant attended a first session: the referral is active."""
    apply_transition(w.referral, "start", w.user)
    log_session(w, run=1, week=1, note=NOTE)
    db.session.commit()


def full_trajectory(w, db):
    """Three sessions (one missed), K10 at the intake and at the end."""
    started(w, db)
    log_session(w, Attendance.ABSENT, days_ago=40, note=NOTE)
    log_session(w, days_ago=10, run=23, week=11, note=NOTE)
    add_score(w, Moment.INTAKE, 31, "high", 80)
    add_score(w, Moment.END, 17, "moderate", 5)
    db.session.commit()


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.mark.parametrize(
    ("data", "state", "dutch_state"),
    [
        ({"outcome": "completed"}, ReferralState.COMPLETED, "afgerond"),
        (
            {"outcome": "regular_sport", "regular_sport": "start_to_run"},
            ReferralState.COMPLETED,
            "afgerond",
        ),
        (
            {"outcome": "dropped_out", "dropout_reason": "injury_or_illness"},
            ReferralState.DROPPED_OUT,
            "uitgevallen",
        ),
    ],
)
def test_closing_sets_the_outcome_the_referral_state_and_frees_a_place(
    client, db, login_as, world, data, state, dutch_state
):
    started(world, db)
    group = TrainingGroup(
        therapist_id=world.therapist.id,
        name="Dinsdagochtend",
        weekday=Weekday.TUESDAY,
        starts_at=time(9, 30),
        meeting_place="Park",
    )
    db.session.add(group)
    world.trajectory.group = group
    db.session.commit()
    places = world.therapist.active_participants
    assert places == 1
    login_as(user=world.user)

    page = text(client.get(f"/trajectories/{world.trajectory.id}/close"))
    assert "Traject afsluiten" in page and "afsluitbrief" in page  # consent: a letter follows
    response = client.post(f"/trajectories/{world.trajectory.id}/close", data=data)

    assert response.status_code == 302
    assert response.headers["Location"] == f"/trajectories/{world.trajectory.id}"
    db.session.refresh(world.trajectory)
    db.session.refresh(world.referral)
    db.session.refresh(world.therapist)
    assert world.trajectory.is_closed and world.trajectory.outcome == Outcome(data["outcome"])
    assert world.trajectory.group_id is None
    assert world.referral.state is state and world.referral.closed_at is not None
    assert world.therapist.active_participants == places - 1
    page = text(client.get(f"/trajectories/{world.trajectory.id}"))
    assert "Het traject is afgesloten." in page
    assert dutch_state in page and "Afgesloten op" in page
    assert "Traject afsluiten" not in page
    # The inbox no longer lists the participant as running, but under the closed trajectories.
    inbox = text(client.get("/offers"))
    assert "Afgesloten trajecten" in inbox
    assert f'href="/trajectories/{world.trajectory.id}"' in inbox.split("Afgesloten trajecten")[1]


def test_capacity_never_goes_below_zero(db, world):
    started(world, db)
    world.therapist.active_participants = 0
    db.session.commit()
    close_trajectory(world.trajectory, actor=world.user, outcome=Outcome.COMPLETED)
    db.session.refresh(world.therapist)
    assert world.therapist.active_participants == 0


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "outcome", "Kies hoe het traject is geëindigd."),
        ({"outcome": "dropped_out"}, "dropout_reason", "Kies waarom de deelnemer is gestopt."),
        ({"outcome": "regular_sport"}, "regular_sport", "Kies waar de deelnemer verder gaat"),
        ({"outcome": "dropped_out", "dropout_reason": "other"}, "advice", "Andere reden"),
        ({"outcome": "finished"}, "outcome", "Not a valid choice"),
    ],
)
def test_bad_closing_input_is_explained_kept_and_nothing_is_saved(
    client, db, login_as, world, data, field, message
):
    started(world, db)
    login_as(user=world.user)
    advice = "" if field == "advice" else "Mijn advies blijft staan"
    response = client.post(
        f"/trajectories/{world.trajectory.id}/close", data={**data, "advice": advice}
    )
    page = text(response)
    assert response.status_code == 200
    assert f'id="{field}-error"' in page
    if message != "Not a valid choice":
        assert message in page
    assert advice in page
    db.session.refresh(world.trajectory)
    db.session.refresh(world.referral)
    db.session.refresh(world.therapist)
    assert not world.trajectory.is_closed
    assert world.referral.state is ReferralState.ACTIVE
    assert world.therapist.active_participants == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 0
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.kind == NotificationKind.TRAJECTORY_CLOSED)
        )
        == 0
    )


def test_completing_without_an_attended_session_is_refused(client, db, login_as, world):
    login_as(user=world.user)
    response = client.post(
        f"/trajectories/{world.trajectory.id}/close",
        data={"outcome": "completed", "advice": ADVICE},
    )
    page = text(response)
    assert response.status_code == 200
    assert 'id="outcome-error"' in page
    assert "nog bij geen enkele sessie aanwezig geweest" in page and ADVICE in page
    db.session.refresh(world.referral)
    assert world.referral.state is ReferralState.ACCEPTED
    assert not db.session.get(Trajectory, world.trajectory.id).is_closed
    # Dropping out before any session is possible.
    response = client.post(
        f"/trajectories/{world.trajectory.id}/close",
        data={"outcome": "dropped_out", "dropout_reason": "unreachable"},
    )
    assert response.status_code == 302
    db.session.refresh(world.referral)
    assert world.referral.state is ReferralState.DROPPED_OUT


def test_closing_twice_is_refused(client, db, login_as, world):
    started(world, db)
    close_trajectory(world.trajectory, actor=world.user, outcome=Outcome.COMPLETED)
    db.session.commit()
    with pytest.raises(ServiceError):
        close_trajectory(
            world.trajectory,
            actor=world.user,
            outcome=Outcome.DROPPED_OUT,
            dropout_reason="motivation",
        )
    db.session.rollback()
    login_as(user=world.user)
    response = client.post(
        f"/trajectories/{world.trajectory.id}/close",
        data={"outcome": "dropped_out", "dropout_reason": "motivation"},
        follow_redirects=True,
    )
    assert "Dit traject is al afgesloten." in text(response)
    db.session.refresh(world.trajectory)
    assert world.trajectory.outcome is Outcome.COMPLETED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 1


def test_with_consent_the_letter_is_stored_and_says_what_was_done(client, db, login_as, world):
    full_trajectory(world, db)
    login_as(user=world.user)
    client.post(
        f"/trajectories/{world.trajectory.id}/close",
        data={"outcome": "regular_sport", "regular_sport": "running_club", "advice": ADVICE},
    )
    report = db.session.scalars(sa.select(Report)).one()
    assert report.trajectory_id == world.trajectory.id
    assert report.sha256 == hashlib.sha256(report.pdf).hexdigest()
    assert report.filename == f"afsluitbrief-{world.referral.reference}.pdf"
    assert report.params["sessions"] == {"held": 3, "present": 2, "excused": 0, "absent": 1}
    assert NOTE not in str(report.params) and ADVICE not in str(report.params)

    content = pdf_text(report.pdf)
    flat = " ".join(content.split())
    assert "Afsluitbrief runningtherapie" in flat
    assert "Femke Visser" in flat and world.referral.reference in flat
    assert "Dr. Jansen" in flat
    assert "Stress" in flat and "Sleeps badly since a reorganisation at work." in flat
    assert "2 van de 3 gehouden sessies (67%)" in flat
    assert "K10" in flat and "31" in flat and "17" in flat and "beter" in flat
    assert "Hoog risico op angst of depressie" in flat
    assert "Een hardloopvereniging".lower() in flat
    assert "Blijf twee keer per week lopen" in flat
    assert "Eva Smit" in flat and "778899" in flat
    assert NOTE not in content and "ruzie" not in content
    assert len(PdfReader(io.BytesIO(report.pdf)).pages) <= 2

    # The therapist reads the stored letter; reading it is audited as print.
    response = client.get(f"/trajectories/{world.trajectory.id}/letter.pdf")
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.data == report.pdf
    page = text(client.get(f"/trajectories/{world.trajectory.id}"))
    assert f"/trajectories/{world.trajectory.id}/letter.pdf" in page
    assert "Doorgestroomd naar reguliere sport" in page and "Een hardloopvereniging" in page


def test_the_referrer_is_notified_and_reads_the_letter_in_the_product(app, db, login_as, world):
    full_trajectory(world, db)
    close_trajectory(world.trajectory, actor=world.user, outcome=Outcome.COMPLETED, advice=ADVICE)
    db.session.commit()
    notification = db.session.scalars(
        sa.select(Notification).where(Notification.kind == NotificationKind.TRAJECTORY_CLOSED)
    ).one()
    assert notification.recipient_id == world.gp.id
    assert "afsluitbrief" in notification.body and world.referral.reference in notification.body
    for private in ("Femke", "Visser", ADVICE, "K10"):
        assert private not in notification.subject + notification.body

    client = app.test_client()
    login_as(
        user=factories.make_user(role=Role.REFERRER, organisation=world.gp.organisation),
        into=client,
    )
    page = text(client.get(f"/referrals/{world.referral.id}"))
    assert "Runningtherapie" in page and "Afgerond" in page and "2 van 3" in page
    letter_url = f"/referrals/{world.referral.id}/letter.pdf"
    assert letter_url in page
    response = client.get(letter_url)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    report = db.session.scalars(sa.select(Report)).one()
    assert response.data == report.pdf
    printed = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == AuditAction.PRINT)
    ).one()
    assert printed.object_type == "reports" and printed.object_id == str(report.id)
    assert printed.participant_id == world.referral.participant_id


def test_without_consent_no_letter_and_the_referrer_sees_only_that_it_ended(
    app, client, db, login_as, world
):
    world.referral.consent_share_progress = False
    full_trajectory(world, db)
    login_as(user=world.user)
    assert "geen toestemming" in text(client.get(f"/trajectories/{world.trajectory.id}/close"))
    response = client.post(
        f"/trajectories/{world.trajectory.id}/close", data={"outcome": "completed"}
    )
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 0
    assert "Geen brief" in text(client.get(f"/trajectories/{world.trajectory.id}"))
    assert client.get(f"/trajectories/{world.trajectory.id}/letter.pdf").status_code == 404
    notification = db.session.scalars(
        sa.select(Notification).where(Notification.kind == NotificationKind.TRAJECTORY_CLOSED)
    ).one()
    assert "is beëindigd" in notification.body and "afsluitbrief" not in notification.body

    referrer = app.test_client()
    login_as(user=world.gp, into=referrer)
    page = text(referrer.get(f"/referrals/{world.referral.id}"))
    assert "De runningtherapie is beëindigd." in page
    assert "letter.pdf" not in page and "Aanwezig bij sessies" not in page
    assert referrer.get(f"/referrals/{world.referral.id}/letter.pdf").status_code == 404


def test_progress_while_running_only_with_consent(app, db, login_as, world):
    started(world, db)
    client = app.test_client()
    login_as(user=world.gp, into=client)
    page = text(client.get(f"/referrals/{world.referral.id}"))
    assert "Aanwezig bij sessies: 1 van 1. Ingevulde vragenlijsten: 0." in page
    world.referral.consent_share_progress = False
    db.session.commit()
    page = text(client.get(f"/referrals/{world.referral.id}"))
    assert "Aanwezig bij sessies" not in page and "Runningtherapie" not in page


def test_others_cannot_get_the_letter(app, db, login_as, world):
    full_trajectory(world, db)
    close_trajectory(world.trajectory, actor=world.user, outcome=Outcome.COMPLETED)
    db.session.commit()
    letter_url = f"/referrals/{world.referral.id}/letter.pdf"

    other_referrer = app.test_client()
    login_as(user=factories.make_user(role=Role.REFERRER), into=other_referrer)
    assert other_referrer.get(letter_url).status_code == 404
    assert other_referrer.get(f"/referrals/{world.referral.id}").status_code == 404

    coordinator = app.test_client()
    login_as(user=world.coordinator, into=coordinator)
    assert coordinator.get(letter_url).status_code == 403
    page = text(coordinator.get(f"/referrals/{world.referral.id}"))
    assert "letter.pdf" not in page

    officer = app.test_client()
    login_as(
        user=factories.make_user(role=Role.OFFICER, organisation=world.municipality), into=officer
    )
    assert officer.get(letter_url).status_code == 403
    assert officer.get(f"/trajectories/{world.trajectory.id}/letter.pdf").status_code == 403

    other_therapist = app.test_client()
    login_as(user=factories.make_user(role=Role.THERAPIST), into=other_therapist)
    assert other_therapist.get(f"/trajectories/{world.trajectory.id}/letter.pdf").status_code == 404
    assert other_therapist.get(f"/trajectories/{world.trajectory.id}/close").status_code == 404
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == AuditAction.PRINT)
        )
        == 0
    )


def test_another_therapist_cannot_close(app, db, login_as, world):
    started(world, db)
    client = app.test_client()
    login_as(user=factories.make_user(role=Role.THERAPIST), into=client)
    response = client.post(
        f"/trajectories/{world.trajectory.id}/close", data={"outcome": "completed"}
    )
    assert response.status_code == 404
    db.session.refresh(world.trajectory)
    assert not world.trajectory.is_closed


def test_a_stored_letter_cannot_be_changed(db, world):
    started(world, db)
    close_trajectory(world.trajectory, actor=world.user, outcome=Outcome.COMPLETED)
    db.session.commit()
    report = db.session.scalars(sa.select(Report)).one()
    with pytest.raises(sa.exc.DBAPIError), db.session.begin_nested():
        db.session.execute(sa.update(Report).where(Report.id == report.id).values(pdf=b"forged"))
    db.session.expire_all()
    assert (
        db.session.get(Report, report.id).sha256
        == hashlib.sha256(db.session.get(Report, report.id).pdf).hexdigest()
    )


def test_closing_is_audited(db, world):
    started(world, db)
    close_trajectory(world.trajectory, actor=world.user, outcome=Outcome.COMPLETED)
    db.session.commit()
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.participant_id == world.referral.participant_id)
    ).all()
    kinds = {(e.action, e.object_type, e.detail) for e in events}
    assert (AuditAction.UPDATE, "trajectories", "closed: completed") in kinds
    assert (AuditAction.CREATE, "reports", "closing letter") in kinds
    assert all("Femke" not in (e.detail or "") for e in events)


def test_too_long_advice_is_refused_next_to_the_field(client, db, login_as, world):
    started(world, db)
    login_as(user=world.user)
    response = client.post(
        f"/trajectories/{world.trajectory.id}/close",
        data={"outcome": "completed", "advice": "lang " * 1000},
    )
    assert response.status_code == 200
    assert 'id="advice-error"' in text(response) and "hoogstens 4000 tekens" in text(response)
    db.session.refresh(world.trajectory)
    assert not world.trajectory.is_closed


def test_the_inbox_reads_closed_trajectories_in_a_fixed_number_of_selects(
    app, db, login_as, queries
):
    from datetime import UTC, datetime

    from tests.training_setup import make_practice

    def queries_for_inbox(closed: int) -> int:
        practice = make_practice(participants=closed)
        for trajectory in practice.trajectories:
            trajectory.closed_at, trajectory.outcome = datetime.now(UTC), Outcome.COMPLETED
            trajectory.referral.state = ReferralState.COMPLETED
            trajectory.referral.closed_at = trajectory.closed_at
        db.session.commit()
        client = app.test_client()
        login_as(user=practice.user, into=client)
        with queries() as log:
            page = text(client.get("/offers"))
        assert page.count('href="/trajectories/') == closed
        return len(log.selects)

    assert queries_for_inbox(1) == queries_for_inbox(4)
