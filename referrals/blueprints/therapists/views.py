"""The therapist register: admin list, import and edit; the therapist's own availability."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectChoice

from referrals.blueprints.common import apply_service_error, drop_changes, page_number, refuse
from referrals.blueprints.therapists import bp
from referrals.blueprints.therapists.forms import (
    ApplyImportForm,
    AvailabilityForm,
    RegisterUploadForm,
    TherapistForm,
)
from referrals.extensions import db
from referrals.models import RegisterImport, Role, Therapist, User
from referrals.permissions import roles_required
from referrals.services import ServiceError
from referrals.services.accounts import listings
from referrals.services.therapists import (
    expiry_warning,
    local_today,
    therapist_of,
    therapist_users,
    update_availability,
    update_therapist,
)
from referrals.services.therapists.register_import import (
    ImportPreview,
    apply_import,
    preview_import,
    store_register_file,
)

RECENT_IMPORTS = 10
# How the preview names the fields an import changes.
FIELD_LABELS = {
    "name": _l("Name"),
    "email": _l("E-mail address"),
    "registered_until": _l("Registered until"),
    "postcode": _l("Postcode"),
    "user": _l("Account"),
}


def get_therapist_or_404(therapist_id: int) -> Therapist:
    return db.get_or_404(Therapist, therapist_id)


def get_register_import_or_404(import_id: int) -> RegisterImport:
    return db.get_or_404(RegisterImport, import_id)


@bp.app_template_global()
def own_therapist_profile() -> Therapist | None:
    """The logged-in therapist's register entry, for the home page."""
    return therapist_of(current_user)


@bp.app_template_global()
def registration_warning(therapist: Therapist) -> str | None:
    return expiry_warning(therapist, local_today())


def _availability_data(therapist: Therapist) -> dict:
    return {
        "accepting_referrals": therapist.accepting_referrals,
        "session_forms": [
            value
            for value, offered in (
                ("group", therapist.offers_group),
                ("individual", therapist.offers_individual),
            )
            if offered
        ],
        "weekdays": list(therapist.weekdays),
        "travel_radius_km": therapist.travel_radius_km,
        "capacity": therapist.capacity,
        "languages": list(therapist.languages),
    }


def _availability(form: AvailabilityForm) -> dict:
    return {
        "accepting_referrals": form.accepting_referrals.data,
        "weekdays": form.weekdays.data,
        "travel_radius_km": form.travel_radius_km.data,
        "capacity": form.capacity.data,
        "offers_group": "group" in form.session_forms.data,
        "offers_individual": "individual" in form.session_forms.data,
        "languages": form.languages.data,
    }


@bp.get("/admin/therapists")
@roles_required(Role.ADMIN)
def index():
    page = page_number(request.args)
    therapists, has_next, total = listings.register_page(
        page, current_app.config["REGISTER_PAGE_SIZE"]
    )
    today = local_today()
    return render_template(
        "therapists/index.html",
        therapists=therapists,
        warnings={t.id: expiry_warning(t, today) for t in therapists},
        today=today,
        page=page,
        has_next=has_next,
        total=total,
    )


@bp.route("/admin/therapists/import", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def upload():
    form = RegisterUploadForm()
    if form.validate_on_submit():
        upload_file = form.file.data
        try:
            register_import = store_register_file(
                uploaded_by=current_user, filename=upload_file.filename, data=upload_file.read()
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            return redirect(url_for("therapists.preview", import_id=register_import.id))
    recent = listings.register_imports(RECENT_IMPORTS)
    return render_template("therapists/upload.html", form=form, recent=recent)


def _apply_form(preview: ImportPreview | None) -> ApplyImportForm:
    """The confirmation, with a checkbox per end date the file moves earlier."""
    form = ApplyImportForm(formdata=None)
    form.shorten.choices = [
        SelectChoice(
            change.shortening_key,
            _(
                "%(name)s (line %(line)d): from %(old)s to %(new)s",
                name=change.row.name,
                line=change.row.line,
                old=format_date(change.shortened.old, "long"),
                new=format_date(change.shortened.new, "long"),
            ),
        )
        for change in (preview.shortenings if preview else [])
    ]
    return form


def _render_preview(register_import: RegisterImport, preview, *, applied_now: bool = False):
    return render_template(
        "therapists/preview.html",
        register_import=register_import,
        uploaded_by=db.session.get(User, register_import.uploaded_by_id),
        preview=preview,
        applied_now=applied_now,
        field_labels=FIELD_LABELS,
        form=None if applied_now else _apply_form(preview),
    )


@bp.get("/admin/therapists/import/<int:import_id>")
@roles_required(Role.ADMIN)
def preview(import_id: int):
    register_import = get_register_import_or_404(import_id)
    if register_import.applied_at is not None:
        # What was added and changed then cannot be read back from the register now.
        return _render_preview(register_import, None)
    try:
        result = preview_import(register_import.content)
    except ServiceError as error:
        flash(error.message, "error")
        return redirect(url_for("therapists.upload"))
    return _render_preview(register_import, result)


@bp.post("/admin/therapists/import/<int:import_id>/apply")
@roles_required(Role.ADMIN)
def apply(import_id: int):
    register_import = get_register_import_or_404(import_id)
    form = ApplyImportForm()
    if not form.validate_on_submit():  # a control character in a ticked value; nothing written
        flash(
            _("The confirmation could not be read. Check the preview and confirm again."), "error"
        )
        return redirect(url_for("therapists.preview", import_id=import_id))
    try:
        result = apply_import(register_import, shorten=form.shorten.data or ())
        db.session.flush()  # a clash with a simultaneous import shows here, not at the commit
    except ServiceError as error:
        refuse(error)
        return redirect(url_for("therapists.preview", import_id=import_id))
    except sa.exc.IntegrityError:
        # Another import added the same registration number at the same moment.
        drop_changes()
        flash(
            _("The register changed while importing. Upload the file again to see what is new."),
            "error",
        )
        return redirect(url_for("therapists.preview", import_id=import_id))
    flash(
        _(
            "Register imported: %(added)d added, %(changed)d changed, %(rejected)d rejected.",
            added=len(result.to_add),
            changed=len(result.to_change),
            rejected=len(result.rejected),
        ),
        "success",
    )
    return _render_preview(register_import, result, applied_now=True)


def _set_user_choices(form: TherapistForm, therapist: Therapist) -> None:
    form.user_id.choices = [SelectChoice("", _("No account linked"))] + [
        SelectChoice(user.id, f"{user.name} ({user.email})")
        for user in therapist_users(include=therapist.user)
    ]


@bp.route("/admin/therapists/<int:therapist_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit(therapist_id: int):
    therapist = get_therapist_or_404(therapist_id)
    form = TherapistForm(
        data={
            "brtn_number": therapist.brtn_number,
            "name": therapist.name,
            "email": therapist.email,
            "registered_until": therapist.registered_until,
            "postcode": therapist.postcode,
            "user_id": therapist.user_id,
            **_availability_data(therapist),
        }
    )
    _set_user_choices(form, therapist)
    if form.validate_on_submit():
        try:
            update_therapist(
                therapist,
                brtn_number=form.brtn_number.data,
                name=form.name.data,
                email=form.email.data,
                registered_until=form.registered_until.data,
                postcode=form.postcode.data,
                user=db.session.get(User, form.user_id.data) if form.user_id.data else None,
                **_availability(form),
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Therapist %(name)s saved.", name=therapist.name), "success")
            return redirect(url_for("therapists.index"))
    return render_template(
        "therapists/therapist_form.html",
        form=form,
        therapist=therapist,
        warning=expiry_warning(therapist, local_today()),
    )


@bp.route("/therapist/availability", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def availability():
    # Only ever the logged-in therapist's own entry: there is no id to point elsewhere.
    therapist = therapist_of(current_user)
    if therapist is None:
        return render_template("therapists/not_linked.html")
    form = AvailabilityForm(data=_availability_data(therapist))
    if form.validate_on_submit():
        try:
            update_availability(therapist, **_availability(form))
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Your availability is saved."), "success")
            return redirect(url_for("therapists.availability"))
    return render_template(
        "therapists/availability.html",
        form=form,
        therapist=therapist,
        warning=expiry_warning(therapist, local_today()),
    )
