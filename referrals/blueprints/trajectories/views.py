"""Therapists: a participant's trajectory, the intake and the printable plan."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from referrals.blueprints.common import apply_service_error, file_response
from referrals.blueprints.trajectories import bp
from referrals.blueprints.trajectories.forms import IntakeForm
from referrals.models import Referral, Trajectory, local_today, utcnow
from referrals.permissions import Role, roles_required, trajectory_for
from referrals.services import ServiceError, closing, trajectories
from referrals.services.trajectories import pages


def get_trajectory_or_404(trajectory_id: int, *options) -> Trajectory:
    """Only the therapist's own trajectories exist for them."""
    trajectory = trajectory_for(current_user, trajectory_id, *options)
    if trajectory is None:
        abort(404)
    return trajectory


@bp.route("/trajectories/<int:trajectory_id>", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def trajectory(trajectory_id: int):
    # The page shows the referral with its participant and programme: loaded with it.
    referral = joinedload(Trajectory.referral)
    trajectory = get_trajectory_or_404(
        trajectory_id,
        referral.joinedload(Referral.participant),
        referral.joinedload(Referral.programme),
    )
    form = IntakeForm()
    if trajectory.plan is None and form.validate_on_submit():
        try:
            trajectories.record_intake(
                trajectory,
                actor=current_user,
                intake_on=form.intake_on.data,
                can_walk_min=form.can_walk_min.data,
                can_run_min=form.can_run_min.data,
                remarks=form.remarks.data or "",
                template=form.template.data,
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Intake recorded; the training plan is ready."), "success")
            return redirect(url_for("trajectories.trajectory", trajectory_id=trajectory.id))
    if form.intake_on.data is None and not form.errors:
        form.intake_on.data = local_today()
    return render_trajectory_page(trajectory, form=form)


def render_trajectory_page(trajectory: Trajectory, *, form=None, plan_form=None):
    """The participant's page (audited as a read): intake, plan, progress, questionnaires and
    closing. Forms with errors from another route (the plan change) are passed in."""
    page = pages.trajectory_page(current_user, trajectory)
    return render_template(
        "trajectories/trajectory.html",
        trajectory=trajectory,
        form=form if form is not None else IntakeForm(formdata=None),
        plan=page.plan,
        plan_form=plan_form,
        now=utcnow(),
        progress=page.progress,
        outcomes=page.outcomes,
        closing=closing.closing_summary(trajectory),
    )


@bp.get("/trajectories/<int:trajectory_id>/plan.pdf")
@roles_required(Role.THERAPIST)
def plan_pdf(trajectory_id: int):
    """The plan to hand to the participant; printing is audited as print."""
    trajectory = get_trajectory_or_404(trajectory_id)
    pdf = pages.training_plan_pdf(current_user, trajectory)
    if pdf is None:
        abort(404)
    filename = f"schema-{trajectory.referral.reference}.pdf"
    return file_response(pdf, filename=filename, mimetype="application/pdf")
