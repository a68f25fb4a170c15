"""The referrer's progress report: attendance, run minutes against the plan and scores, only
with consent; never the therapist's notes; printing it is audited."""

from __future__ import annotations

import io

import sqlalchemy as sa
from pypdf import PdfReader

from referrals.models import Attendance, AuditAction, AuditEvent, Moment, OrganisationKind, Role
from tests import factories
from tests.helpers import text
from tests.test_closing import NOTE, add_score, log_session, started, world  # noqa: F401


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages)


def test_with_consent_the_referrer_reads_the_progress_report(app, db, login_as, world):
    started(world, db)
    log_session(world, Attendance.PRESENT, days_ago=63, run=8, week=2, note=NOTE)
    log_session(world, Attendance.EXCUSED, days_ago=56, week=3)
    add_score(world, Moment.INTAKE, 31, "high", 75)
    db.session.commit()
    client = app.test_client()
    login_as(user=world.gp, into=client)
    page = text(client.get(f"/referrals/{world.referral.id}"))
    assert f"/referrals/{world.referral.id}/progress.pdf" in page
    response = client.get(f"/referrals/{world.referral.id}/progress.pdf")
    assert response.headers["Content-Type"] == "application/pdf"
    content = pdf_text(response.data)
    assert "Femke" in content and "Eva Smit" in content
    assert "Aanwezig bij 2 van 3 sessies" in content
    assert "K10" in content and "31" in content
    assert NOTE not in content
    printed = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == AuditAction.PRINT)
    ).one()
    assert printed.participant_id == world.referral.participant_id


def test_without_consent_or_from_elsewhere_there_is_no_progress_report(app, db, login_as, world):
    started(world, db)
    db.session.commit()
    other_practice = factories.make_organisation(kind=OrganisationKind.GP_PRACTICE)
    client = app.test_client()
    login_as(user=factories.make_user(role=Role.REFERRER, organisation=other_practice), into=client)
    assert client.get(f"/referrals/{world.referral.id}/progress.pdf").status_code == 404

    world.referral.consent_share_progress = False
    db.session.commit()
    client = app.test_client()
    login_as(user=world.gp, into=client)
    assert client.get(f"/referrals/{world.referral.id}/progress.pdf").status_code == 404
    assert "progress.pdf" not in text(client.get(f"/referrals/{world.referral.id}"))
