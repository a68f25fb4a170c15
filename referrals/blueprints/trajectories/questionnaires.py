"""Routes: outcome questionnaires entered item by item at intake, midway and end (issue 5).

The form is built from the instrument's description, so a newly registered instrument needs no
new view or template.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import RadioField, SelectChoice, SelectField
from wtforms.validators import InputRequired

from referrals.blueprints.common import DateField, Form, apply_service_error, drop_changes
from referrals.blueprints.trajectories import bp
from referrals.blueprints.trajectories.views import get_trajectory_or_404
from referrals.labels import REGULAR_SPORT_LABELS
from referrals.models import NO_SPORT, Moment, QuestionnaireResponse, local_today
from referrals.permissions import Role, roles_required
from referrals.services import ServiceError
from referrals.services.trajectories import outcomes, pages
from referrals.services.trajectories.questionnaires import Instrument


def questionnaire_form_class(instrument: Instrument) -> type[Form]:
    """A form with the date and one radio group per item (fields item_1, item_2, ...).

    The choices are not enforced by the form: the service checks the values against the
    instrument, so that a refused answer gets the instrument's message next to its item.
    """
    low, high = instrument.answer_range
    choices = [SelectChoice("", _l("Not answered"))] + [
        SelectChoice(str(value), f"{label} ({value})")
        for value, label in zip(range(low, high + 1), instrument.answer_labels, strict=True)
    ]

    class QuestionnaireForm(Form):
        taken_on = DateField(
            _l("Date the questionnaire was filled in"),
            validators=[InputRequired(_l("Enter the date the questionnaire was filled in."))],
        )

    for number, text in enumerate(instrument.items, start=1):
        field = RadioField(f"{number}. {text}", choices=choices, validate_choice=False, default="")
        setattr(QuestionnaireForm, outcomes.item_field(number), field)
    return QuestionnaireForm


def _item_fields(form: Form, instrument: Instrument) -> list:
    return [form[outcomes.item_field(n)] for n in range(1, len(instrument.items) + 1)]


def _fill_from(form: Form, response: QuestionnaireResponse) -> None:
    form.taken_on.data = response.taken_on
    for number, value in response.answers.items():
        name = outcomes.item_field(int(number))
        if name in form._fields:
            form[name].data = "" if value is None else str(value)


def _show_errors(form: Form, errors: dict[str | None, str]) -> None:
    """Each message next to its field; None or an unknown field: above the form."""
    for name, message in errors.items():
        field = form._fields.get(name) if name else None
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


def _load_or_404(trajectory_id: int, moment: str, instrument_key: str):
    """The therapist's trajectory, the moment and one of its programme's instruments."""
    trajectory = get_trajectory_or_404(trajectory_id)
    if moment not in {m.value for m in Moment}:
        abort(404)
    described = {i.key: i for i in outcomes.programme_instruments(trajectory)}
    if instrument_key not in described:
        abort(404)
    return trajectory, Moment(moment), described[instrument_key]


@bp.route(
    "/trajectories/<int:trajectory_id>/questionnaires/<moment>/<instrument>",
    methods=["GET", "POST"],
)
@roles_required(Role.THERAPIST)
def questionnaire(trajectory_id: int, moment: str, instrument: str):
    """Enter or correct one questionnaire at one moment, item by item."""
    trajectory, moment, instrument = _load_or_404(trajectory_id, moment, instrument)
    back = url_for("trajectories.trajectory", trajectory_id=trajectory.id)
    if refusal := outcomes.entry_refusal(trajectory, moment):
        flash(refusal, "error")
        return redirect(back)
    existing = outcomes.find_response(trajectory, instrument.key, moment)
    form = questionnaire_form_class(instrument)()
    answers = {str(n): field.data for n, field in enumerate(_item_fields(form, instrument), 1)}
    if form.validate_on_submit():
        try:
            response = outcomes.record_response(
                trajectory,
                instrument_key=instrument.key,
                moment=moment,
                taken_on=form.taken_on.data,
                answers=answers,
                actor=current_user,
            )
        except ServiceError as error:
            drop_changes()
            _show_errors(form, error.errors)
        else:
            flash(outcomes.score_message(response), "success")
            return redirect(back)
    elif form.is_submitted():  # show the answers' messages with the date's, all at once
        _show_errors(form, outcomes.answer_errors(instrument, answers))
    elif existing is not None:
        _fill_from(form, existing)
    else:
        form.taken_on.data = local_today()
    detail = f"questionnaire form {instrument.key} {moment.value}"
    pages.record_reads(current_user, [trajectory], existing or trajectory, detail)
    return render_template(
        "trajectories/questionnaire.html",
        trajectory=trajectory,
        instrument=instrument,
        moment_label=outcomes.MOMENT_LABELS[moment],
        form=form,
        items=_item_fields(form, instrument),
        missing_rule=outcomes.missing_item_rule(instrument),
        correcting=existing is not None,
    )


SPORT_CHOICES = [
    SelectChoice("", _l("Choose")),
    *(SelectChoice(sport.value, label) for sport, label in REGULAR_SPORT_LABELS.items()),
    SelectChoice(NO_SPORT, _l("Not regularly")),
]


class FollowUpSportForm(Form):
    sport = SelectField(
        _l("Where the participant runs now, at the follow-up"),
        choices=SPORT_CHOICES,
        validators=[InputRequired(_l("Choose where the participant runs now."))],
        validate_choice=False,
    )


@bp.route("/trajectories/<int:trajectory_id>/follow-up-sport", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def follow_up_sport(trajectory_id: int):
    """Regular sport at the follow-up, asked with the follow-up questionnaire."""
    trajectory = get_trajectory_or_404(trajectory_id)
    back = url_for("trajectories.trajectory", trajectory_id=trajectory.id, _anchor="follow-up")
    if refusal := outcomes.entry_refusal(trajectory, Moment.FOLLOW_UP):
        flash(refusal, "error")
        return redirect(back)
    form = FollowUpSportForm()
    if request.method == "GET" and trajectory.sport_at_follow_up:
        form.sport.data = trajectory.sport_at_follow_up
    if form.validate_on_submit():
        try:
            outcomes.record_follow_up_sport(trajectory, form.sport.data, actor=current_user)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Saved: regular sport at the follow-up."), "success")
            return redirect(back)
    pages.record_reads(current_user, [trajectory], trajectory, "follow-up sport form")
    return render_template(
        "trajectories/follow_up_sport.html", trajectory=trajectory, form=form, back=back
    )
