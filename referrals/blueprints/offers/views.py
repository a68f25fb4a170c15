"""Therapists: the inbox of offers, answering them, and the referrals they accepted."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from referrals.blueprints.common import apply_service_error, drop_changes, refuse
from referrals.blueprints.offers import bp
from referrals.blueprints.offers.forms import DeclineForm
from referrals.models import DeclineReason, Offer, OfferState, utcnow
from referrals.permissions import Role, closed_offer_state, offer_for, roles_required
from referrals.services import Cursor, ServiceError
from referrals.services.referrals import offers
from referrals.services.referrals.inbox import OfferPage, area_of, offer_page, therapist_inbox

GONE_MESSAGES = {
    OfferState.WITHDRAWN: _l(
        "This offer was withdrawn a moment ago (the referrer withdrew the referral, or the "
        "coordinator offered it again). Nothing was accepted."
    ),
    OfferState.EXPIRED: _l("The deadline of this offer has passed. Nothing was accepted."),
    OfferState.DECLINED: _l("You declined this offer earlier."),
}


class OfferGone(Exception):
    """The therapist's own offer is no longer open to answer; says what happened to it."""

    def __init__(self, state: OfferState):
        super().__init__(state.value)
        self.message = GONE_MESSAGES[state]


def get_offer_or_404(offer_id: int) -> Offer:
    """Only the therapist's own offers, and only while open or after they accepted it. Their
    own offer that was withdrawn, expired or declined raises OfferGone (answered with what
    happened and the inbox); anything else is a 404."""
    offer = offer_for(current_user, offer_id)
    if offer is None:
        state = closed_offer_state(current_user, offer_id)
        if state is not None:
            raise OfferGone(state)
        abort(404)
    return offer


@bp.errorhandler(OfferGone)
def offer_gone(error: OfferGone):
    drop_changes()
    flash(error.message, "error")
    return redirect(url_for("offers.inbox"))


def offer_page_or_404(offer_id: int, *, detail: str | None = None) -> OfferPage:
    page = offer_page(current_user, offer_id, detail=detail)
    if page is None:
        state = closed_offer_state(current_user, offer_id)
        if state is not None:
            raise OfferGone(state)
        abort(404)
    return page


@bp.get("/offers")
@roles_required(Role.THERAPIST)
def inbox():
    """Open offers, the therapist's participants, and the closed trajectories, newest first,
    a page at a time (closed_after / closed_before)."""
    inbox = therapist_inbox(
        current_user,
        closed_cursors=(
            Cursor.parse(request.args.get("closed_after")),
            Cursor.parse(request.args.get("closed_before")),
        ),
        closed_size=current_app.config["INBOX_CLOSED_PAGE_SIZE"],
    )
    return render_template(
        "offers/inbox.html",
        therapist=inbox.therapist,
        open_offers=inbox.open_offers,
        accepted=inbox.accepted,
        warning=inbox.warning,
        closed=inbox.closed,
        closed_count=inbox.closed_count,
    )


@bp.get("/offers/<int:offer_id>")
@roles_required(Role.THERAPIST)
def offer(offer_id: int):
    page = offer_page_or_404(offer_id)
    return render_template(
        "offers/offer.html",
        offer=page.offer,
        referral=page.referral,
        now=utcnow(),
        full_details=page.full_details,
        trajectory=page.trajectory,
        decline_form=DeclineForm(),
        place_of=area_of,
    )


@bp.post("/offers/<int:offer_id>/accept")
@roles_required(Role.THERAPIST)
def accept(offer_id: int):
    offer = get_offer_or_404(offer_id)
    try:
        offers.accept_offer(offer, actor=current_user)
    except ServiceError as error:
        refuse(error)
        return redirect(url_for("offers.inbox"))
    flash(
        _("You accepted the referral. The referrer and the coordinator have been told."), "success"
    )
    return redirect(url_for("offers.offer", offer_id=offer.id))


@bp.route("/offers/<int:offer_id>/decline", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def decline(offer_id: int):
    offer = get_offer_or_404(offer_id)
    form = DeclineForm()
    if form.validate_on_submit():
        try:
            offers.decline_offer(
                offer,
                actor=current_user,
                reason=DeclineReason(form.reason.data),
                note=form.note.data or "",
            )
        except offers.OfferRefused as error:
            refuse(error)
            return redirect(url_for("offers.inbox"))
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(
                _("You declined the offer. The coordinator will offer it to someone else."),
                "success",
            )
            return redirect(url_for("offers.inbox"))
    page = offer_page_or_404(offer_id, detail="decline")
    return render_template(
        "offers/decline.html", form=form, offer=page.offer, referral=page.referral
    )
