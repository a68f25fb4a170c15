"""The therapist's pages about one participant, as read services: the trajectory page, the
printable plan, and the read rows of the group, session and questionnaire forms. What a page
shows of a participant is logged here, one row per participant (NEN 7513). The closing parts
(summary, letter) are services.closing's, which builds on this package."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from referrals import audit
from referrals.models import AuditAction, Trajectory, User
from referrals.services.trajectories import outcomes, plan_from_json, progress
from referrals.services.trajectories.plan_pdf import render_training_plan_pdf
from referrals.services.trajectories.training_plans import Plan


def record_reads(
    user: User,
    trajectories: Iterable[Trajectory],
    obj,
    detail: str | None,
    action: AuditAction = AuditAction.READ,
) -> None:
    """One access-log row per participant a page or file shows."""
    audit.record_many(
        action, [(obj, t.referral.participant_id) for t in trajectories], actor=user, detail=detail
    )


@dataclass
class TrajectoryPage:
    trajectory: Trajectory
    plan: Plan | None
    progress: progress.Progress | None
    outcomes: outcomes.OutcomeSummary | None


def trajectory_page(user: User, trajectory: Trajectory) -> TrajectoryPage:
    """The participant's page: intake, plan, progress and questionnaires."""
    record_reads(user, [trajectory], trajectory, None)
    return TrajectoryPage(
        trajectory=trajectory,
        plan=plan_from_json(trajectory.plan) if trajectory.plan else None,
        progress=progress.progress_summary(trajectory),
        outcomes=outcomes.outcome_summary(trajectory),
    )


def training_plan_pdf(user: User, trajectory: Trajectory) -> bytes | None:
    """The plan to hand to the participant (first name only); printing is logged as print."""
    if trajectory.plan is None:
        return None
    pdf = render_training_plan_pdf(
        plan_from_json(trajectory.plan),
        first_name=trajectory.referral.participant.first_name,
        programme_name=trajectory.referral.programme.name,
        therapist_name=trajectory.therapist.name,
    )
    record_reads(user, [trajectory], trajectory, "training plan PDF", AuditAction.PRINT)
    return pdf
