"""Referrers: submit referrals, follow them, withdraw them. Coordinators read them here too."""

from __future__ import annotations

import secrets

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from referrals.blueprints.common import drop_changes, file_response, refuse
from referrals.blueprints.intake import bp
from referrals.blueprints.intake.forms import ReferralFilterForm, ReferralForm, WithdrawForm
from referrals.extensions import db
from referrals.models import (
    AuditAction,
    Programme,
    Referral,
    utcnow,
)
from referrals.permissions import (
    Role,
    can_follow,
    can_reject,
    can_withdraw,
    referral_for,
    roles_required,
)
from referrals.services import Cursor, ServiceError, states
from referrals.services.closing import letters
from referrals.services.referrals import intake, lists
from referrals.services.referrals.intake import ParticipantDetails, ReferralDetails


def get_referral_or_404(referral_id: int) -> Referral:
    """Load, then authorize: a referral the user may not see does not exist for them."""
    referral = referral_for(current_user, referral_id)
    if referral is None:
        abort(404)
    return referral


@bp.get("/referrals")
@roles_required(Role.REFERRER, Role.COORDINATOR)
def index():
    form = ReferralFilterForm(request.args)
    form.programme.choices = [SelectChoice("", _("All programmes"))] + [
        SelectChoice(str(p.id), p.name) for p in lists.listed_programmes(current_user)
    ]
    after, before = (Cursor.parse(request.args.get(name)) for name in ("after", "before"))
    if form.validate():
        listed = lists.referral_list(
            current_user,
            state=form.state.data or None,
            programme_id=int(form.programme.data) if form.programme.data else None,
            search=form.q.data,
            after=after,
            before=None if after else before,
            size=current_app.config["REFERRALS_PAGE_SIZE"],
        )
    else:
        listed = lists.ReferralList(referrals=[])
    return render_template(
        "intake/index.html",
        form=form,
        referrals=listed.referrals,
        now=utcnow(),
        listed=listed,
        args={k: v for k, v in request.args.items() if k not in ("after", "before", "page")},
        can_refer=bool(
            current_user.role is Role.REFERRER and lists.referable_programmes(current_user)
        ),
    )


@bp.get("/referrals/new")
@roles_required(Role.REFERRER)
def choose_programme():
    programmes = lists.referable_programmes(current_user)
    if len(programmes) == 1:
        return redirect(url_for("intake.new_referral", programme_id=programmes[0].id))
    return render_template("intake/choose_programme.html", programmes=programmes)


def _details_from(form: ReferralForm) -> tuple[ParticipantDetails, ReferralDetails]:
    participant = ParticipantDetails(
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        date_of_birth=form.date_of_birth.data,
        postcode=form.postcode.data or "",
        phone=form.phone.data,
        email=form.email.data,
        bsn=form.bsn.data if "bsn" in form else None,
    )
    details = ReferralDetails(
        reasons=form.reasons.data or [],
        description=form.description.data or "",
        preferred_form=form.preferred_form.data or "",
        preferred_days=form.preferred_days.data or [],
        consent_to_refer=bool(form.consent_to_refer.data),
        consent_share_progress=bool(form.consent_share_progress.data),
    )
    return participant, details


def _show_errors(form: ReferralForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        field = form._fields.get(name)
        if field is not None and not field.errors:
            field.errors = [*field.errors, message]
        elif field is None:
            form.form_errors.append(message)


@bp.route("/referrals/new/<int:programme_id>", methods=["GET", "POST"])
@roles_required(Role.REFERRER)
def new_referral(programme_id: int):
    programme = db.session.get(Programme, programme_id)
    if programme is None or not intake.can_refer_to(current_user, programme):
        abort(404)
    form = ReferralForm()
    if not intake.valid_submission_key(form.submission_key.data):
        form.submission_key.data = secrets.token_urlsafe(24)
    if not current_user.organisation.kind.is_care_provider:
        del form.bsn  # municipal and other referrers never see or send a BSN
    duplicates = []
    if request.method == "POST":
        form.validate()
        # The service's checks run on whatever the form could read, so that every problem is
        # shown at once (a missing phone or e-mail too), each field keeping its first message.
        participant, details = _details_from(form)
        _show_errors(form, intake.check_referral(current_user, programme, participant, details))
        if not any(f.errors for f in form) and not form.form_errors:
            try:
                referral = intake.submit_referral(
                    referrer=current_user,
                    programme=programme,
                    participant=participant,
                    details=details,
                    confirm_duplicate=form.confirm_duplicate.data == "yes",
                    submission_key=form.submission_key.data,
                )
            except intake.AlreadySubmitted as already:
                drop_changes()
                flash(
                    _(
                        "Referral %(reference)s had already been submitted with this form; "
                        "it was not submitted twice.",
                        reference=already.referral.reference,
                    ),
                    "info",
                )
                return redirect(url_for("intake.referral", referral_id=already.referral.id))
            except intake.DuplicateReferral as duplicate:
                drop_changes()
                # Details only of the referrer's own organisation's referrals; another
                # organisation's referral is only said to exist (the coordinator can sort it out).
                duplicates = duplicate.duplicates
                lists.audit_listed(current_user, duplicates, AuditAction.SEARCH, "duplicate check")
                form.confirm_duplicate.data = "yes"
            except ServiceError as error:
                drop_changes()
                form.form_errors.append(error.message)
            else:
                flash(
                    _("Referral %(reference)s has been submitted.", reference=referral.reference),
                    "success",
                )
                return redirect(url_for("intake.referral", referral_id=referral.id))
    own = [d for d in duplicates if d.referring_organisation_id == current_user.organisation_id]
    return render_template(
        "intake/new.html",
        form=form,
        programme=programme,
        duplicates=duplicates,
        own_duplicates=own,
        other_duplicates=len(duplicates) - len(own),
        now=utcnow(),
    )


@bp.get("/referrals/<int:referral_id>")
@roles_required(Role.REFERRER, Role.COORDINATOR)
def referral(referral_id: int):
    page = lists.referral_page(current_user, referral_id)
    if page is None:
        abort(404)
    referral = page.referral
    return render_template(
        "intake/referral.html",
        referral=referral,
        therapy=page.therapy,
        now=utcnow(),
        show_bsn=can_follow(current_user, referral),
        can_withdraw=can_withdraw(current_user, referral) and states.allows(referral, "withdraw"),
        can_reject=can_reject(current_user, referral) and states.allows(referral, "reject"),
    )


@bp.route("/referrals/<int:referral_id>/withdraw", methods=["GET", "POST"])
@roles_required(Role.REFERRER, Role.COORDINATOR)
def withdraw(referral_id: int):
    referral = get_referral_or_404(referral_id)
    if not can_withdraw(current_user, referral):
        abort(403)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            intake.withdraw_referral(referral, actor=current_user, reason=form.reason.data)
        except ServiceError as error:
            refuse(error)
            return redirect(url_for("intake.referral", referral_id=referral.id))
        flash(
            _("Referral %(reference)s has been withdrawn.", reference=referral.reference), "success"
        )
        return redirect(url_for("intake.referral", referral_id=referral.id))
    lists.referral_page(current_user, referral.id, detail="withdraw")
    return render_template("intake/withdraw.html", form=form, referral=referral)


@bp.get("/referrals/<int:closed_referral_id>/letter.pdf")
@roles_required(Role.REFERRER)
def closing_letter(closed_referral_id: int):
    """The closing letter, for a referrer of the referring organisation, only with consent."""
    letter = letters.letter_for_referrer(current_user, get_referral_or_404(closed_referral_id))
    if letter is None:
        abort(404)
    return file_response(letter.pdf, filename=letter.filename, mimetype="application/pdf")


@bp.get("/referrals/<int:closed_referral_id>/progress.pdf")
@roles_required(Role.REFERRER)
def progress_pdf(closed_referral_id: int):
    """The participant's progress so far, for a referrer of the referring organisation, only
    with consent to share progress (404 otherwise)."""
    referral = get_referral_or_404(closed_referral_id)
    pdf = letters.progress_for_referrer(current_user, referral)
    if pdf is None:
        abort(404)
    filename = f"voortgang-{referral.reference}.pdf"
    return file_response(pdf, filename=filename, mimetype="application/pdf")
