"""Trajectories: started when a therapist accepts; the intake chooses the walk/run plan."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from flask_babel import gettext as _

from referrals import audit
from referrals.extensions import db
from referrals.models import AuditAction, Referral, Therapist, Trajectory, User, local_today, utcnow
from referrals.services import ServiceError
from referrals.services.trajectories.training_plans import (
    MAX_WEEKS,
    MIN_WEEKS,
    NOTE_FIELDS,
    TEMPLATES,
    Plan,
    PlanChange,
    Session,
    Week,
    choose_start,
    generate_plan,
    stored_note,
)

MAX_WALK_MIN, MAX_RUN_MIN = 300, 180


def start_trajectory(referral: Referral, therapist: Therapist, *, actor: User | None) -> Trajectory:
    """A trajectory begins the moment a therapist accepts the referral."""
    trajectory = Trajectory(referral=referral, therapist=therapist, started_at=utcnow())
    db.session.add(trajectory)
    db.session.flush()
    audit.record(
        AuditAction.CREATE, actor=actor, obj=trajectory, participant_id=referral.participant_id
    )
    return trajectory


def plan_to_json(plan: Plan) -> dict:
    return {
        "template": plan.template,
        "weeks": [
            {"number": w.number, **{f: getattr(w, f) for f in NOTE_FIELDS}, **asdict(w.session)}
            for w in plan.weeks
        ],
        "history": [
            {
                "week_number": c.week_number,
                "kind": c.kind,
                "old": asdict(c.old_session),
                "new": asdict(c.new_session),
                "reason": c.reason,
            }
            for c in plan.history
        ],
    }


def plan_from_json(data: dict) -> Plan:
    weeks = tuple(
        Week(
            number=w["number"],
            **stored_note(w),
            session=Session(**{k: v for k, v in w.items() if k not in ("number", *NOTE_FIELDS)}),
        )
        for w in data["weeks"]
    )
    history = tuple(
        PlanChange(
            c["week_number"], c["kind"], Session(**c["old"]), Session(**c["new"]), c["reason"]
        )
        for c in data.get("history", [])
    )
    return Plan(template=data["template"], weeks=weeks, history=history)


def plan_weeks(trajectory: Trajectory) -> int:
    """The programme's trajectory length, within what the plan generator supports."""
    return min(max(trajectory.referral.programme.trajectory_weeks, MIN_WEEKS), MAX_WEEKS)


def record_intake(
    trajectory: Trajectory,
    *,
    actor: User,
    intake_on: date,
    can_walk_min: int,
    can_run_min: int,
    remarks: str,
    template: str,
) -> Trajectory:
    """Record the intake and generate the plan from what the participant can do now."""
    errors = {}
    if trajectory.plan is not None:
        raise ServiceError(_("The intake is recorded and the plan exists already."))
    if intake_on > local_today():
        errors["intake_on"] = _("The intake date lies in the future.")
    if not 0 <= can_walk_min <= MAX_WALK_MIN:
        errors["can_walk_min"] = _("Enter minutes from 0 to %(max)d.", max=MAX_WALK_MIN)
    if not 0 <= can_run_min <= MAX_RUN_MIN:
        errors["can_run_min"] = _("Enter minutes from 0 to %(max)d.", max=MAX_RUN_MIN)
    if template not in TEMPLATES:
        errors["template"] = _("Choose a plan from the list.")
    if errors:
        raise ServiceError.of(errors)
    plan = generate_plan(
        weeks=plan_weeks(trajectory),
        template=template,
        start_step=choose_start(can_walk_min, can_run_min),
    )
    trajectory.intake_on = intake_on
    trajectory.can_walk_min = can_walk_min
    trajectory.can_run_min = can_run_min
    trajectory.intake_remarks = remarks.strip() or None
    trajectory.plan = plan_to_json(plan)
    db.session.flush()
    audit.record(
        AuditAction.UPDATE,
        actor=actor,
        obj=trajectory,
        participant_id=trajectory.referral.participant_id,
        detail="intake recorded, plan generated",
    )
    return trajectory
