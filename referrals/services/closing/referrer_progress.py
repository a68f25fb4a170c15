"""The participant's progress report for the referrer, only with consent to share progress.

Attendance, run minutes per week against the plan (the same SVG chart as the therapist's
page) and questionnaire scores before and after. Never the therapist's session notes.
Rendered on request, in the referrer's language; printing it is audited by the caller.
"""

from __future__ import annotations

from referrals.models import Attendance, Trajectory, utcnow
from referrals.pdf import render_pdf
from referrals.services.trajectories.outcomes import scores_for_letter
from referrals.services.trajectories.progress import progress_summary


def render_progress_report(trajectory: Trajectory) -> bytes:
    progress = progress_summary(trajectory)
    weeks, attendance = [], None
    if progress is not None:
        attendance = {
            "present": progress.counts[Attendance.PRESENT],
            "excused": progress.counts[Attendance.EXCUSED],
            "absent": progress.counts[Attendance.ABSENT],
            "logged": progress.logged,
            "rate": round(100 * progress.rate) if progress.rate is not None else None,
        }
        weeks = [
            {"number": n, "planned": planned, "done": done}
            for n, (planned, done) in enumerate(
                zip(progress.planned, progress.done, strict=False), start=1
            )
        ]
    return render_pdf(
        "progress_report.html",
        trajectory=trajectory,
        referral=trajectory.referral,
        participant=trajectory.referral.participant,
        therapist=trajectory.therapist,
        progress=progress,
        weeks=weeks,
        attendance=attendance,
        scores=scores_for_letter(trajectory),
        today=utcnow(),
    )
