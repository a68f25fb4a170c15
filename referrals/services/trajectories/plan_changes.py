"""The therapist changes one participant's plan: edit a week, repeat it, or step back.

The rules live in services.training_plans (pure); this module checks the input first so that
every refusal is a translated message next to the right field, then stores and audits.
"""

from __future__ import annotations

from flask_babel import gettext as _

from referrals import audit
from referrals.extensions import db
from referrals.models import AuditAction, Trajectory, User
from referrals.services import ServiceError
from referrals.services.trajectories import plan_from_json, plan_to_json
from referrals.services.trajectories.training_plans import (
    LADDER,
    TEMPLATES,
    Plan,
    PlanChange,
    Session,
    edit_week,
    repeat_week,
    step_back,
)

ACTIONS = ("repeat", "step_back", "edit")
MAX_BLOCK_MIN, MAX_REPEATS = 60, 20


def _raise(errors: dict[str, str]) -> None:
    if errors:
        raise ServiceError.of(errors)


def _edited_session(
    plan: Plan, week_number: int, run_min: int | None, walk_min: int | None, repeats: int | None
) -> Session:
    errors = {}
    if run_min is None or not 1 <= run_min <= MAX_BLOCK_MIN:
        errors["run_min"] = _("Enter running minutes from 1 to %(max)d.", max=MAX_BLOCK_MIN)
    if walk_min is None or not 0 <= walk_min <= MAX_BLOCK_MIN:
        errors["walk_min"] = _("Enter walking minutes from 0 to %(max)d.", max=MAX_BLOCK_MIN)
    if repeats is None or not 1 <= repeats <= MAX_REPEATS:
        errors["repeats"] = _("Enter a number of repeats from 1 to %(max)d.", max=MAX_REPEATS)
    elif walk_min == 0 and repeats != 1:
        errors["repeats"] = _("Running without walking breaks is one block: 1 repeat.")
    _raise(errors)
    old = plan.week(week_number).session
    session = Session(old.warm_up_walk_min, run_min, walk_min, repeats, old.cool_down_walk_min)
    template = TEMPLATES[plan.template]
    if not template.allows(session):
        _raise(
            {
                "run_min": _(
                    "A session lasts %(min)d to %(max)d minutes in all; this one lasts %(total)d.",
                    min=template.min_total_min,
                    max=template.max_total_min,
                    total=session.total_min,
                )
            }
        )
    return session


def _check(plan: Plan, week_number: int | None, action: str | None, reason: str) -> None:
    errors = {}
    if week_number is None or not 1 <= week_number <= len(plan.weeks):
        errors["week_number"] = _("Choose a week of the plan.")
    if action not in ACTIONS:
        errors["action"] = _("Choose what to change.")
    elif action == "repeat" and week_number == len(plan.weeks):
        errors["action"] = _("The last week cannot be repeated within the plan.")
    elif action == "step_back" and "week_number" not in errors:
        running = plan.week(week_number).session.total_run_min
        if running <= LADDER[0].total_run_min:
            errors["action"] = _("This week is on the first step already.")
    if not reason.strip():
        errors["reason"] = _("Say why the plan changes.")
    _raise(errors)


def change_plan(
    trajectory: Trajectory,
    *,
    actor: User,
    week_number: int | None,
    action: str | None,
    reason: str,
    run_min: int | None = None,
    walk_min: int | None = None,
    repeats: int | None = None,
) -> PlanChange:
    """Apply one change to the trajectory's plan; the plan keeps it in its history."""
    if trajectory.plan is None:
        raise ServiceError(_("Record the intake first: there is no plan yet."))
    if trajectory.is_closed:
        raise ServiceError(_("This trajectory is closed; the plan cannot change any more."))
    plan = plan_from_json(trajectory.plan)
    _check(plan, week_number, action, reason)
    try:
        if action == "edit":
            session = _edited_session(plan, week_number, run_min, walk_min, repeats)
            new_plan, change = edit_week(plan, week_number, session, reason)
        elif action == "repeat":
            new_plan, change = repeat_week(plan, week_number, reason)
        else:
            new_plan, change = step_back(plan, week_number, reason)
    except ValueError:
        raise ServiceError(_("This change does not fit the plan."), "action") from None
    trajectory.plan = plan_to_json(new_plan)
    db.session.flush()
    audit.record(
        AuditAction.UPDATE,
        actor=actor,
        obj=trajectory,
        participant_id=trajectory.referral.participant_id,
        detail=f"plan change: {change.kind} week {change.week_number}",
    )
    return change
