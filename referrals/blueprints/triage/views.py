"""Coordinators: the queue of referrals waiting for triage, and rejection with a reason."""

from __future__ import annotations

import re

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user

from referrals.blueprints.common import drop_changes, refuse
from referrals.blueprints.intake.views import get_referral_or_404
from referrals.blueprints.offers.forms import OfferForm
from referrals.blueprints.triage import bp
from referrals.blueprints.triage.forms import RejectForm
from referrals.extensions import db
from referrals.models import (
    RejectionReason,
    Therapist,
    utcnow,
)
from referrals.permissions import Role, can_reject, roles_required
from referrals.services import Cursor, ServiceError, states
from referrals.services.referrals import intake, lists, offers


@bp.get("/triage")
@roles_required(Role.COORDINATOR)
def queue():
    """Referrals in the coordinator's programmes that wait for triage, oldest first; each
    list paged on its own (waiting_after/_before, offered_after/_before)."""

    def cursors(name: str) -> tuple[Cursor | None, Cursor | None]:
        return Cursor.parse(request.args.get(f"{name}_after")), Cursor.parse(
            request.args.get(f"{name}_before")
        )

    queue = lists.triage_queue(
        current_user,
        waiting=cursors("waiting"),
        offered=cursors("offered"),
        size=current_app.config["TRIAGE_PAGE_SIZE"],
    )
    return render_template(
        "triage/queue.html",
        queue=queue,
        referrals=queue.waiting.rows,
        offered=queue.offered.rows,
        now=utcnow(),
        # Each list's links keep the other list's place.
        kept={
            name: {
                f"{other}_{side}": request.args[f"{other}_{side}"]
                for side in ("after", "before")
                if request.args.get(f"{other}_{side}")
            }
            for name, other in (("waiting", "offered"), ("offered", "waiting"))
        },
    )


@bp.get("/triage/<int:referral_id>/match")
@roles_required(Role.COORDINATOR)
def match(referral_id: int):
    """The programme's therapists for this referral, ranked, each with why; and who is out."""
    page = lists.match_page(current_user, referral_id)
    if page is None:
        abort(404)
    return render_template(
        "triage/match.html",
        referral=page.referral,
        result=page.result,
        form=OfferForm(),
        warnings=page.warnings,
        can_offer=page.can_offer,
        overdue=page.overdue,
        returned=page.returned,
    )


@bp.post("/triage/<int:referral_id>/offer")
@roles_required(Role.COORDINATOR)
def offer(referral_id: int):
    referral = get_referral_or_404(referral_id)
    form = OfferForm()
    therapist = None
    if form.validate_on_submit() and re.fullmatch(r"[0-9]{1,9}", form.therapist_id.data):
        therapist = db.session.get(Therapist, int(form.therapist_id.data))
    if therapist is None:
        flash(_("Choose a therapist from the list."), "error")
        return redirect(url_for("triage.match", referral_id=referral.id))
    try:
        made = offers.offer_referral(referral, therapist, actor=current_user)
    except ServiceError as error:
        refuse(error)
        return redirect(url_for("triage.match", referral_id=referral.id))
    flash(
        _(
            "Referral %(reference)s offered to %(name)s; answer expected by %(deadline)s.",
            reference=referral.reference,
            name=therapist.name,
            deadline=format_datetime(made.deadline_at, "medium"),
        ),
        "success",
    )
    return redirect(url_for("triage.queue"))


@bp.route("/triage/<int:referral_id>/reject", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR, Role.REFERRER)
def reject(referral_id: int):
    referral = get_referral_or_404(referral_id)
    if not can_reject(current_user, referral):
        abort(403)
    form = RejectForm()
    if form.validate_on_submit():
        try:
            intake.reject_referral(
                referral,
                actor=current_user,
                reason=RejectionReason(form.reason.data),
                note=form.note.data or "",
            )
        except states.TransitionRefused as error:
            refuse(error)
            return redirect(url_for("intake.referral", referral_id=referral.id))
        except ServiceError as error:
            drop_changes()
            getattr(form, error.field or "note").errors.append(error.message)
        else:
            flash(_("Referral %(reference)s rejected.", reference=referral.reference), "success")
            return redirect(url_for("triage.queue"))
    lists.referral_page(current_user, referral.id, detail="reject")
    return render_template("triage/reject.html", form=form, referral=referral)
