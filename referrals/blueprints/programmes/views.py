"""Admin pages for programmes: the list, creating one and changing one."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms import SelectChoice

from referrals.blueprints.common import apply_service_error, page_number
from referrals.blueprints.programmes import bp
from referrals.blueprints.programmes.forms import ProgrammeForm
from referrals.extensions import db
from referrals.models import Organisation, Programme, Role, Therapist, User
from referrals.permissions import roles_required
from referrals.services import ServiceError
from referrals.services.accounts import listings
from referrals.services.programmes import (
    FUNDER_KINDS,
    ProgrammeDetails,
    create_programme,
    set_programme_active,
    update_programme,
)
from referrals.services.therapists import local_today


def get_programme_or_404(programme_id: int) -> Programme:
    return db.get_or_404(Programme, programme_id)


def _label(name: str, active: bool) -> str:
    return name if active else _("%(name)s (deactivated)", name=name)


def _set_choices(form: ProgrammeForm, programme: Programme | None) -> None:
    """Offer what is active, plus whatever the programme already has (even if deactivated
    since), so that saving an unrelated change never drops a member without being asked."""
    funder_id = programme.funder_id if programme else None
    referrer_ids = [o.id for o in programme.referrer_organisations] if programme else []
    coordinator_ids = [u.id for u in programme.coordinators] if programme else []

    funders = listings.choosable_organisations(FUNDER_KINDS, [funder_id])
    form.funder_id.choices = [SelectChoice("", _("Choose a funder"))] + [
        SelectChoice(o.id, _label(o.name, o.active)) for o in funders
    ]
    referrers = listings.choosable_organisations(listings.REFERRER_KINDS, referrer_ids)
    form.referrer_organisations.choices = [
        SelectChoice(o.id, _label(o.name, o.active)) for o in referrers
    ]
    coordinators = listings.choosable_coordinators(coordinator_ids)
    form.coordinators.choices = [
        SelectChoice(u.id, _label(f"{u.name} ({u.organisation.name})", u.is_active))
        for u in coordinators
    ]
    form.therapists.choices = _therapist_choices()


def _therapist_choices() -> list[SelectChoice]:
    """Every register entry: one whose registration ended stays choosable (it may be renewed),
    marked so, and receives no offers meanwhile."""
    today = local_today()
    therapists = listings.register()
    return [
        SelectChoice(
            t.id,
            f"{t.name} ({t.postcode}, BRTN {t.brtn_number})"
            if t.is_registered_on(today)
            else _("%(name)s (registration expired)", name=f"{t.name} ({t.postcode})"),
        )
        for t in therapists
    ]


def _form_data(programme: Programme) -> dict:
    return {
        "name": programme.name,
        "funder_id": programme.funder_id,
        "starts_on": programme.starts_on,
        "ends_on": programme.ends_on,
        "referrer_organisations": [o.id for o in programme.referrer_organisations],
        "coordinators": [u.id for u in programme.coordinators],
        "therapists": [t.id for t in programme.therapists],
        "postcode_areas": ", ".join(str(area) for area in programme.postcode_areas),
        "min_age": programme.min_age,
        "funded_places": programme.funded_places,
        "trajectory_weeks": programme.trajectory_weeks,
        "supervised_sessions": programme.supervised_sessions,
        "tariff": programme.tariff_cents,
        "questionnaires": list(programme.questionnaires),
        "offer_deadline_days": programme.offer_deadline_days,
        "auto_offer": programme.auto_offer,
        "follow_up_months": programme.follow_up_months,
    }


def _details(form: ProgrammeForm) -> ProgrammeDetails:
    return ProgrammeDetails(
        name=form.name.data,
        funder=db.session.get(Organisation, form.funder_id.data),  # a chosen id
        starts_on=form.starts_on.data,
        ends_on=form.ends_on.data,
        referrer_organisations=listings.by_ids(Organisation, form.referrer_organisations.data),
        coordinators=listings.by_ids(User, form.coordinators.data),
        therapists=listings.by_ids(Therapist, form.therapists.data),
        postcode_areas=form.postcode_areas.data,
        min_age=form.min_age.data,
        funded_places=form.funded_places.data,
        trajectory_weeks=form.trajectory_weeks.data,
        supervised_sessions=form.supervised_sessions.data,
        tariff_cents=form.tariff.data,
        questionnaires=form.questionnaires.data,
        offer_deadline_days=form.offer_deadline_days.data,
        auto_offer=bool(form.auto_offer.data),
        follow_up_months=form.follow_up_months.data,
    )


@bp.get("")
@roles_required(Role.ADMIN)
def index():
    page = page_number(request.args)
    rows, has_next, total = listings.programmes_page(page, current_app.config["ADMIN_PAGE_SIZE"])
    return render_template(
        "programmes/index.html", programmes=rows, page=page, has_next=has_next, total=total
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new():
    form = ProgrammeForm()
    _set_choices(form, None)
    if form.validate_on_submit():
        try:
            programme = create_programme(_details(form))
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Programme %(name)s created.", name=programme.name), "success")
            return redirect(url_for("programmes.index"))
    return render_template("programmes/programme_form.html", form=form, programme=None)


@bp.route("/<int:programme_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit(programme_id: int):
    programme = get_programme_or_404(programme_id)
    form = ProgrammeForm(data=_form_data(programme))
    _set_choices(form, programme)
    if form.validate_on_submit():
        try:
            update_programme(programme, _details(form))
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Programme %(name)s saved.", name=programme.name), "success")
            return redirect(url_for("programmes.index"))
    return render_template("programmes/programme_form.html", form=form, programme=programme)


@bp.post("/<int:programme_id>/active")
@roles_required(Role.ADMIN)
def set_active(programme_id: int):
    programme = get_programme_or_404(programme_id)
    active = request.form.get("active") == "1"
    set_programme_active(programme, active)
    if active:
        flash(_("Programme %(name)s takes referrals again.", name=programme.name), "success")
    else:
        flash(
            _(
                "Programme %(name)s is deactivated: it takes no new referrals; running"
                " trajectories go on.",
                name=programme.name,
            ),
            "success",
        )
    return redirect(url_for("programmes.edit", programme_id=programme.id))
