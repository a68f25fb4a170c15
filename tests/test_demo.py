"""Demo data: every role, two municipalities and two GP practices, loading twice is harmless."""

from __future__ import annotations

import io

import pyotp
import sqlalchemy as sa
from pypdf import PdfReader

from referrals.demo import ACCOUNTS, DEMO_PASSWORD, PROGRAMMES, load_demo_data
from referrals.demo_trajectories import CLOSING_ADVICE, GROUP_NAME, GROUP_SESSIONS
from referrals.models import (
    Attendance,
    Moment,
    Organisation,
    OrganisationKind,
    Outcome,
    Programme,
    QuestionnaireResponse,
    Referral,
    ReferralState,
    Report,
    ReportKind,
    Role,
    SessionAttendance,
    TrainingGroup,
    TrainingSession,
    Trajectory,
    User,
    local_today,
)
from tests.helpers import text

COUNTED = (
    Organisation,
    User,
    Programme,
    Referral,
    Trajectory,
    TrainingGroup,
    TrainingSession,
    SessionAttendance,
    QuestionnaireResponse,
    Report,
)


def counts(db) -> tuple[int, ...]:
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in COUNTED
    )


def test_demo_data_covers_every_role_and_loads_once(app, db):
    with app.test_request_context():
        assert load_demo_data() == len(ACCOUNTS)
        db.session.commit()
        first = counts(db)
        assert load_demo_data() == 0
        db.session.commit()
    assert counts(db) == first
    roles = set(db.session.scalars(sa.select(User.role)))
    assert roles == set(Role)
    kinds = list(db.session.scalars(sa.select(Organisation.kind)))
    assert kinds.count(OrganisationKind.MUNICIPALITY) >= 2
    assert kinds.count(OrganisationKind.GP_PRACTICE) >= 2


def test_demo_programmes_exist_once_with_their_members(app, db):
    with app.test_request_context():
        load_demo_data()
        load_demo_data()
        db.session.commit()
    names = [spec.name for spec in PROGRAMMES]
    programmes = db.session.scalars(sa.select(Programme).where(Programme.name.in_(names))).all()
    assert sorted(p.name for p in programmes) == sorted(names)
    by_name = {p.name: p for p in programmes}
    noordwijk = by_name["Runningtherapie op recept Noordwijk"]
    assert noordwijk.funder.name == "Gemeente Noordwijk"
    assert {o.kind for o in noordwijk.referrer_organisations} == {OrganisationKind.GP_PRACTICE}
    assert len(noordwijk.referrer_organisations) == 2
    assert [str(a) for a in noordwijk.postcode_areas] == ["2200-2204", "2210-2211"]
    assert (noordwijk.tariff_cents, noordwijk.funded_places) == (4500, 40)
    lelystad = by_name["Welzijn op recept Lelystad: in beweging"]
    assert [o.name for o in lelystad.referrer_organisations] == ["Gemeente Lelystad"]
    assert [u.email for u in lelystad.coordinators] == ["coordinator@lelystad.example"]
    assert (lelystad.ends_on, lelystad.tariff_cents) == (None, 3850)
    assert sorted(lelystad.questionnaires) == ["k10", "who5"]


def test_a_demo_account_logs_in_with_the_printed_secret(app, client, db):
    with app.test_request_context():
        load_demo_data()
        db.session.commit()
    account = next(a for a in ACCOUNTS if a.role is Role.COORDINATOR)
    client.post("/login", data={"email": account.email, "password": DEMO_PASSWORD})
    response = client.post("/login/code", data={"code": pyotp.TOTP(account.totp_secret).now()})
    assert response.headers["Location"] == "/"
    assert account.name in text(client.get("/"))


def test_cli_prints_every_demo_account(app):
    result = app.test_cli_runner().invoke(args=["demo-accounts"])
    assert result.exit_code == 0
    for account in ACCOUNTS:
        assert account.email in result.output and account.totp_secret in result.output
    assert DEMO_PASSWORD in result.output


def pdf_text(data: bytes) -> str:
    """The PDF's text with runs of whitespace (line breaks too) as one space."""
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())


def load(app, db) -> None:
    with app.test_request_context():
        load_demo_data()
        db.session.commit()


def test_demo_has_an_active_group_with_logged_sessions(app, db):
    load(app, db)
    group = db.session.scalars(
        sa.select(TrainingGroup).where(TrainingGroup.name == GROUP_NAME)
    ).one()
    assert group.therapist.user.email == "eva@runningtherapiekust.example"
    assert len(group.members) == 3
    assert all(m.referral.state is ReferralState.ACTIVE for m in group.members)
    sessions = db.session.scalars(
        sa.select(TrainingSession).where(TrainingSession.group_id == group.id)
    ).all()
    assert len(sessions) == GROUP_SESSIONS
    assert all(s.held_on < local_today() for s in sessions)
    rows = [row for s in sessions for row in s.attendances]
    assert {row.attendance for row in rows} == set(Attendance)  # mixed attendance
    assert all(row.borg for row in rows if row.attendance is Attendance.PRESENT)
    for member in group.members:
        intake = db.session.scalars(
            sa.select(QuestionnaireResponse.instrument).where(
                QuestionnaireResponse.trajectory_id == member.id,
                QuestionnaireResponse.moment == Moment.INTAKE,
            )
        ).all()
        assert sorted(intake) == ["k10", "mhc_sf"]
        assert member.intake_on < min(s.held_on for s in sessions)


def test_demo_has_a_closed_trajectory_with_a_letter_and_one_not_started(app, db):
    load(app, db)
    closed = db.session.scalars(
        sa.select(Trajectory).where(Trajectory.closed_at.is_not(None))
    ).one()
    assert closed.outcome is Outcome.COMPLETED
    assert closed.referral.state is ReferralState.COMPLETED
    assert closed.referral.referrer.email == "huisarts@deduinen.example"
    moments = db.session.scalars(
        sa.select(QuestionnaireResponse.moment).where(
            QuestionnaireResponse.trajectory_id == closed.id
        )
    ).all()
    assert sorted(moments).count(Moment.END) == 2
    letter = db.session.scalars(
        sa.select(Report).where(
            Report.trajectory_id == closed.id, Report.kind == ReportKind.CLOSING_LETTER
        )
    ).one()
    letter_text = pdf_text(letter.pdf)
    assert closed.referral.participant.first_name in letter_text
    assert " ".join(CLOSING_ADVICE.split()) in letter_text
    waiting = db.session.scalars(
        sa.select(Trajectory)
        .join(Trajectory.referral)
        .where(Referral.state == ReferralState.ACCEPTED)
    ).all()
    assert len(waiting) == 1
    assert waiting[0].intake_on is not None and waiting[0].first_session_on is None
    queue = db.session.scalar(
        sa.select(sa.func.count(Referral.id)).where(Referral.state == ReferralState.SUBMITTED)
    )
    assert queue >= 1


def test_loading_the_demo_twice_adds_no_trajectories(app, db):
    load(app, db)
    first = counts(db)
    assert first[COUNTED.index(Trajectory)] > 0
    load(app, db)
    assert counts(db) == first


def test_the_officer_sees_month_bars_in_the_demo(app, db, client, login_as):
    """Half a year of earlier referrals, 6 to 9 a month: the month chart may show its bars."""
    from tests.test_uptake_pages import month_bars

    load(app, db)
    officer = db.session.scalar(sa.select(User).where(User.email == "welzijn@noordwijk.example"))
    programme = db.session.scalar(
        sa.select(Programme).where(Programme.name == "Runningtherapie op recept Noordwijk")
    )
    login_as(user=officer)
    bars = month_bars(text(client.get(f"/uptake/{programme.id}")))
    shown = [(month, shown) for month, width, shown in bars if width]
    assert len(shown) >= 5, bars
    assert all(int(count) >= 5 for _, count in shown)
