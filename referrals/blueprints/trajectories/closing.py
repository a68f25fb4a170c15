"""Therapists: closing a trajectory, and reading the closing letter that was sent."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
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
from referrals.services.closing import check as closing_checks
from referrals.services.closing import letters
from referrals.services.trajectories import pages


def _choices(labels: dict, *, blank=None) -> list[SelectChoice]:
    """The labels as radio choices; `blank`: a first choice for "none of these" (value "").

    Without JavaScript a chosen radio button cannot be unchosen, so a detail that does not fit
    the outcome is taken back by choosing "Not applicable"."""
    first = [SelectChoice("", blank)] if blank else []
    return [*first, *(SelectChoice(key.value, label) for key, label in labels.items())]


NOT_APPLICABLE = _l("Not applicable")


class CloseForm(Form):
    outcome = RadioField(
        _l("How did the trajectory end?"),
        choices=_choices(OUTCOME_LABELS),
        validators=[InputRequired(_l("Choose how the trajectory ended."))],
    )
    dropout_reason = RadioField(
        _l("Reason for dropping out"),
        description=_l("Only when the participant dropped out."),
        choices=_choices(DROPOUT_REASON_LABELS, blank=NOT_APPLICABLE),
        default="",
        validators=[Optional()],
    )
    regular_sport = RadioField(
        _l("Where does the participant go on running?"),
        description=_l("Only when the participant moved on to regular sport."),
        choices=_choices(REGULAR_SPORT_LABELS, blank=NOT_APPLICABLE),
        default="",
        validators=[Optional()],
    )
    advice = TextAreaField(
        _l("Summary and advice for the referrer"),
        description=_l(
            "Printed in the closing letter; never session notes. Needed for a completed "
            "trajectory. Explain here if you chose 'Other reason' or 'Elsewhere'."
        ),
    )

    def choice(self) -> dict:
        """The closing the form describes, as the services take it."""
        return {
            "outcome": self.outcome.data,
            "dropout_reason": self.dropout_reason.data or None,
            "regular_sport": self.regular_sport.data or None,
            "advice": self.advice.data or "",
        }


@bp.route("/trajectories/<int:trajectory_id>/close", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def close(trajectory_id: int):
    """Closing in two steps: the form posts to the check page (the letter as it will be sent,
    what is missing; nothing saved); the check page posts the same values back with confirm=1,
    which closes, or with edit=1, which shows the form again with what was typed."""
    trajectory = get_trajectory_or_404(trajectory_id)
    if trajectory.is_closed:
        flash(_("This trajectory has been closed already."), "error")
        return redirect(url_for("trajectories.trajectory", trajectory_id=trajectory.id))
    form = CloseForm()
    confirmed = request.form.get("confirm") == "1"
    if "edit" not in request.form and form.validate_on_submit():
        try:
            if confirmed:
                closing.close_trajectory(trajectory, actor=current_user, **form.choice())
                flash(_("The trajectory has been closed."), "success")
                return redirect(url_for("trajectories.trajectory", trajectory_id=trajectory.id))
            check = closing_checks.closing_check(current_user, trajectory, **form.choice())
            return render_template(
                "trajectories/closing_check.html", trajectory=trajectory, form=form, check=check
            )
        except ServiceError as error:
            apply_service_error(form, error)
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
