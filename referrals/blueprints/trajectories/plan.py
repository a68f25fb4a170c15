"""Therapists: changing one participant's plan (a week edited, repeated or stepped back)."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from referrals.blueprints.common import apply_service_error
from referrals.blueprints.trajectories import bp
from referrals.blueprints.trajectories.forms_training import PlanChangeForm
from referrals.blueprints.trajectories.views import get_trajectory_or_404, render_trajectory_page
from referrals.permissions import Role, roles_required
from referrals.services import ServiceError
from referrals.services.trajectories import plan_changes


@bp.app_context_processor
def plan_change_form_factory():
    def plan_change_form_for(plan):
        form = PlanChangeForm(formdata=None)
        form.set_weeks(len(plan.weeks))
        return form

    return {"plan_change_form_for": plan_change_form_for}


@bp.post("/trajectories/<int:trajectory_id>/plan")
@roles_required(Role.THERAPIST)
def change_plan(trajectory_id: int):
    trajectory = get_trajectory_or_404(trajectory_id)
    back = url_for("trajectories.trajectory", trajectory_id=trajectory.id)
    if trajectory.plan is None or trajectory.is_closed:
        flash(_("The plan of this trajectory cannot change."), "error")
        return redirect(back)
    form = PlanChangeForm()
    form.set_weeks(len(trajectory.plan["weeks"]))
    if form.validate_on_submit():
        try:
            plan_changes.change_plan(
                trajectory,
                actor=current_user,
                week_number=form.week_number.data,
                action=form.action.data,
                reason=form.reason.data or "",
                run_min=form.run_min.data,
                walk_min=form.walk_min.data,
                repeats=form.repeats.data,
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The plan has been changed."), "success")
            return redirect(back + "#plan")
    return render_trajectory_page(trajectory, plan_form=form)
