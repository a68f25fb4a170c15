"""The closing letter and the progress report as files, for the therapist and for the
referrer (only with the participant's consent to share progress); each read is logged as print."""

from __future__ import annotations

from referrals.models import AuditAction, Referral, Report, Trajectory, User
from referrals.services.closing import closing_letter, referrer_view
from referrals.services.closing.referrer_progress import render_progress_report
from referrals.services.trajectories.pages import record_reads


def letter_for_therapist(user: User, trajectory: Trajectory) -> Report | None:
    """The closing letter as the referrer received it."""
    report = closing_letter(trajectory)
    if report is not None:
        record_reads(user, [trajectory], report, "closing letter PDF", AuditAction.PRINT)
    return report


def letter_for_referrer(user: User, referral: Referral) -> Report | None:
    """The letter, when the participant consented to share progress; None otherwise."""
    therapy = referrer_view(referral)
    if therapy is None or therapy.letter is None:
        return None
    record_reads(
        user, [therapy.trajectory], therapy.letter, "closing letter PDF", AuditAction.PRINT
    )
    return therapy.letter


def progress_for_referrer(user: User, referral: Referral) -> bytes | None:
    """The participant's progress so far as a PDF, only with consent; None otherwise."""
    therapy = referrer_view(referral)
    if therapy is None:
        return None
    pdf = render_progress_report(therapy.trajectory)
    record_reads(
        user, [therapy.trajectory], therapy.trajectory, "progress report PDF", AuditAction.PRINT
    )
    return pdf
