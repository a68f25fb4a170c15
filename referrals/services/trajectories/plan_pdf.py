"""The printable walk/run plan a participant takes home (PDF)."""

from __future__ import annotations

from referrals.pdf import render_pdf
from referrals.services.trajectories.training_plans import Plan


def render_training_plan_pdf(
    plan: Plan, *, first_name: str, programme_name: str, therapist_name: str
) -> bytes:
    """The plan week by week with a box to tick per session; only the first name is printed.

    Needs an app context (and a request context for the participant's language): the plan's
    words are made here, in that language, from the stored numbers and keys.
    """
    weeks = [
        {"number": week.number, "what": week.session.describe(), "note": week.note_text()}
        for week in plan.weeks
    ]
    return render_pdf(
        "training_plan.html",
        weeks=weeks,
        first_name=first_name,
        programme_name=programme_name,
        therapist_name=therapist_name,
    )
