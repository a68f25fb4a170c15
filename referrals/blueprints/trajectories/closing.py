"""Therapists: closing a trajectory, and reading the closing letter that was sent."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import RadioField, SelectChoice, TextAreaField
from wtforms.validators import InputRequired, Optional

from referrals.blueprints.common import Form, apply_service_error, file_response
from referrals.blueprints.trajectories import bp
from referrals.blueprints.trajectories.views import get_trajectory_or_404
from referrals.labels import DROPOUT_REASON_LABELS, OUTCOME_LABELS, REGULAR_SPORT_LABELS
from referrals.models import Report
from referrals.permissions import Role, roles_required
from referrals.services import ServiceError, closing
from referrals.services.closing import letters
from referrals.services.trajectories import pages


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(key.value, label) for key, label in labels.items()]


class CloseForm(Form):
    outcome = RadioField(
        _l("How did the trajectory end?"),
        choices=_choices(OUTCOME_LABELS),
        validators=[InputRequired(_l("Choose how the trajectory ended."))],
    )
    dropout_reason = RadioField(
        _l("Reason for dropping out"),
        description=_l("Only when the participant dropped out."),
        choices=_choices(DROPOUT_REASON_LABELS),
        validators=[Optional()],
    )
    regular_sport = RadioField(
        _l("Where does the participant go on running?"),
        description=_l("Only when the participant moved on to regular sport."),
        choices=_choices(REGULAR_SPORT_LABELS),
        validators=[Optional()],
    )
    advice = TextAreaField(
        _l("Summary and advice for the referrer"),
        description=_l(
            "Printed in the closing letter; never session notes. Explain here if you chose "
            "'Other reason' or 'Elsewhere'."
        ),
    )


@bp.route("/trajectories/<int:trajectory_id>/close", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def close(trajectory_id: int):
    trajectory = get_trajectory_or_404(trajectory_id)
    if trajectory.is_closed:
        flash(_("This trajectory has been closed already."), "error")
        return redirect(url_for("trajectories.trajectory", trajectory_id=trajectory.id))
    form = CloseForm()
    if form.validate_on_submit():
        try:
            closing.close_trajectory(
                trajectory,
                actor=current_user,
                outcome=form.outcome.data,
                dropout_reason=form.dropout_reason.data,
                regular_sport=form.regular_sport.data,
                advice=form.advice.data or "",
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The trajectory has been closed."), "success")
            return redirect(url_for("trajectories.trajectory", trajectory_id=trajectory.id))
    pages.record_reads(current_user, [trajectory], trajectory, "closing form")
    return render_template(
        "trajectories/close.html",
        trajectory=trajectory,
        form=form,
        closing=closing.closing_summary(trajectory),
    )


def letter_response(report: Report):
    """The stored letter's bytes exactly as they were made."""
    return file_response(report.pdf, filename=report.filename, mimetype="application/pdf")


@bp.get("/trajectories/<int:closed_trajectory_id>/letter.pdf")
@roles_required(Role.THERAPIST)
def letter_pdf(closed_trajectory_id: int):
    """The closing letter as the referrer received it; reading it is audited as print."""
    trajectory = get_trajectory_or_404(closed_trajectory_id)
    report = letters.letter_for_therapist(current_user, trajectory)
    if report is None:
        abort(404)
    return letter_response(report)
