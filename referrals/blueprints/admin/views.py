"""Admin pages: organisations and user accounts."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from referrals.blueprints.admin import bp
from referrals.blueprints.admin.forms import (
    KIND_LABELS,
    ROLE_LABELS,
    OrganisationEditForm,
    OrganisationForm,
    TemporaryPasswordForm,
    UserEditForm,
    UserForm,
)
from referrals.blueprints.common import apply_service_error, page_number, refuse
from referrals.extensions import db
from referrals.models import Organisation, OrganisationKind, Role, User
from referrals.permissions import roles_required
from referrals.services import ServiceError, accounts
from referrals.services.accounts import listings


def get_organisation_or_404(organisation_id: int) -> Organisation:
    return db.get_or_404(Organisation, organisation_id)


def get_user_or_404(user_id: int) -> User:
    return db.get_or_404(User, user_id)


@bp.get("/organisations")
@roles_required(Role.ADMIN)
def organisations():
    kind = request.args.get("kind", "")
    chosen = OrganisationKind(kind) if kind in {k.value for k in OrganisationKind} else None
    page = page_number(request.args)
    rows, has_next, total = listings.organisations_page(
        chosen, page, current_app.config["ADMIN_PAGE_SIZE"]
    )
    return render_template(
        "admin/organisations.html",
        organisations=rows,
        kind_labels=KIND_LABELS,
        kind=kind if chosen else "",
        page=page,
        has_next=has_next,
        total=total,
    )


@bp.route("/organisations/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_organisation():
    form = OrganisationForm()
    if form.validate_on_submit():
        try:
            organisation = accounts.create_organisation(
                kind=OrganisationKind(form.kind.data), name=form.name.data, code=form.code.data
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Organisation %(name)s created.", name=organisation.name), "success")
            return redirect(url_for("admin.organisations"))
    return render_template("admin/organisation_form.html", form=form, organisation=None)


@bp.route("/organisations/<int:organisation_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_organisation(organisation_id: int):
    organisation = get_organisation_or_404(organisation_id)
    form = OrganisationEditForm(obj=organisation)
    if form.validate_on_submit():
        try:
            accounts.update_organisation(organisation, name=form.name.data, code=form.code.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Organisation %(name)s saved.", name=organisation.name), "success")
            return redirect(url_for("admin.organisations"))
    return render_template(
        "admin/organisation_form.html",
        form=form,
        organisation=organisation,
        kind_labels=KIND_LABELS,
    )


@bp.post("/organisations/<int:organisation_id>/active")
@roles_required(Role.ADMIN)
def set_organisation_active(organisation_id: int):
    organisation = get_organisation_or_404(organisation_id)
    if organisation.id == current_user.organisation_id:
        flash(_("You cannot deactivate your own organisation."), "error")
        return redirect(url_for("admin.edit_organisation", organisation_id=organisation.id))
    active = request.form.get("active") == "1"
    accounts.set_organisation_active(organisation, active)
    if active:
        flash(_("Organisation %(name)s is active again.", name=organisation.name), "success")
    else:
        flash(
            _(
                "Organisation %(name)s is deactivated; its users are logged out.",
                name=organisation.name,
            ),
            "success",
        )
    return redirect(url_for("admin.edit_organisation", organisation_id=organisation.id))


@bp.get("/users")
@roles_required(Role.ADMIN)
def users():
    organisation_id = request.args.get("organisation", type=int)
    role = request.args.get("role", "")
    chosen = Role(role) if role in {r.value for r in Role} else None
    page = page_number(request.args)
    users, has_next, total = listings.users_page(
        organisation_id=organisation_id,
        role=chosen,
        page=page,
        size=current_app.config["ADMIN_PAGE_SIZE"],
    )
    return render_template(
        "admin/users.html",
        users=users,
        organisations=listings.all_organisations(),
        organisation_id=organisation_id,
        role=role if chosen else "",
        role_labels=ROLE_LABELS,
        page=page,
        has_next=has_next,
        total=total,
    )


def _organisation_choices() -> list[SelectChoice]:
    rows = listings.all_organisations(active_only=True)
    return [SelectChoice(o.id, f"{o.name} ({KIND_LABELS[o.kind]})") for o in rows]


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_user():
    form = UserForm()
    form.organisation_id.choices = _organisation_choices()
    if request.method == "GET" and request.args.get("organisation", type=int):
        form.organisation_id.data = request.args.get("organisation", type=int)
    if form.validate_on_submit():
        organisation = db.session.get(Organisation, form.organisation_id.data)  # a chosen id
        try:
            accounts.check_password_strength(
                form.password.data, current_app.config["PASSWORD_MIN_LENGTH"], field="password"
            )
            user = accounts.create_user(
                organisation=organisation,
                email=form.email.data,
                name=form.name.data,
                role=Role(form.role.data),
                password=form.password.data,
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Account for %(name)s created.", name=user.name), "success")
            return redirect(url_for("admin.users", organisation=organisation.id))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_user(user_id: int):
    user = get_user_or_404(user_id)
    form = UserEditForm(obj=user)
    if form.validate_on_submit():
        try:
            accounts.update_user(
                user, email=form.email.data, name=form.name.data, role=Role(form.role.data)
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Account of %(name)s saved.", name=user.name), "success")
            return redirect(url_for("admin.users", organisation=user.organisation_id))
    return render_template(
        "admin/user_form.html", form=form, user=user, password_form=TemporaryPasswordForm()
    )


@bp.post("/users/<int:user_id>/deactivate")
@roles_required(Role.ADMIN)
def deactivate_user(user_id: int):
    user = get_user_or_404(user_id)
    try:
        accounts.deactivate_user(user, actor=current_user)
    except ServiceError as error:
        refuse(error)
    else:
        flash(_("Account of %(name)s deactivated and logged out.", name=user.name), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.post("/users/<int:user_id>/reactivate")
@roles_required(Role.ADMIN)
def reactivate_user(user_id: int):
    user = get_user_or_404(user_id)
    accounts.reactivate_user(user)
    flash(_("Account of %(name)s is active again.", name=user.name), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.post("/users/<int:user_id>/reset-second-factor")
@roles_required(Role.ADMIN)
def reset_second_factor(user_id: int):
    user = get_user_or_404(user_id)
    accounts.reset_second_factor(user)
    flash(
        _("%(name)s will set up a new authenticator app at the next login.", name=user.name),
        "success",
    )
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.post("/users/<int:user_id>/password")
@roles_required(Role.ADMIN)
def set_temporary_password(user_id: int):
    user = get_user_or_404(user_id)
    form = TemporaryPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.set_password_by_admin(
                user, form.password.data, current_app.config["PASSWORD_MIN_LENGTH"]
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Temporary password set; %(name)s must change it.", name=user.name), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template(
        "admin/user_form.html", form=UserEditForm(obj=user), user=user, password_form=form
    )
