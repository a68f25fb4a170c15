"""Texts of notification e-mails: a pointer to something to look at, never health details."""

from __future__ import annotations

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from referrals.models import NotificationKind, Referral


def link_to(endpoint: str, **values) -> str:
    """An absolute link for an e-mail: BASE_URL if set, else the current request's host."""
    base = current_app.config.get("BASE_URL")
    if has_request_context() and not base:
        return url_for(endpoint, _external=True, **values)
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return (base or "").rstrip("/") + path


def _lead(kind: NotificationKind, referral: Referral) -> tuple[str, str]:
    reference, programme = referral.reference, referral.programme.name
    if kind is NotificationKind.NEW_REFERRAL:
        return _("New referral to triage"), _(
            "A new referral (%(reference)s) is waiting for triage in %(programme)s.",
            reference=reference,
            programme=programme,
        )
    if kind is NotificationKind.REFERRAL_REJECTED:
        return _("A referral was not accepted"), _(
            "Referral %(reference)s was not accepted into the programme. "
            "The reason is on the referral's page.",
            reference=reference,
        )
    if kind is NotificationKind.NEW_OFFER:
        return _("A referral is offered to you"), _(
            "Referral %(reference)s in %(programme)s is offered to you. Please answer before "
            "the deadline shown with the offer.",
            reference=reference,
            programme=programme,
        )
    if kind is NotificationKind.OFFER_DEADLINE_NEAR:
        return _("An offer to you ends soon"), _(
            "The offer of referral %(reference)s to you ends within a day. Please accept or "
            "decline it before the deadline shown with the offer.",
            reference=reference,
        )
    if kind is NotificationKind.OFFER_ACCEPTED:
        return _("A therapist accepted a referral"), _(
            "Referral %(reference)s has been accepted by a running therapist.", reference=reference
        )
    if kind is NotificationKind.OFFER_DECLINED:
        return _("An offer was declined"), _(
            "The offer of referral %(reference)s was declined; it is back in the triage queue.",
            reference=reference,
        )
    if kind is NotificationKind.OFFER_EXPIRED:
        return _("An offer was not answered in time"), _(
            "The offer of referral %(reference)s passed its deadline; it is back in the triage "
            "queue.",
            reference=reference,
        )
    if kind is NotificationKind.TRAJECTORY_CLOSED:
        if referral.consent_share_progress:
            return _("Running therapy ended: closing letter available"), _(
                "The running therapy of referral %(reference)s has ended. The therapist's "
                "closing letter is on the referral's page.",
                reference=reference,
            )
        return _("Running therapy ended"), _(
            "The running therapy of referral %(reference)s has ended.", reference=reference
        )
    return _("A referral was withdrawn"), _(
        "Referral %(reference)s was withdrawn.", reference=reference
    )


def notification_text(kind: NotificationKind, referral: Referral) -> tuple[str, str]:
    """Subject and body in the installation's default language (the recipient's is unknown)."""
    if kind in (NotificationKind.NEW_OFFER, NotificationKind.OFFER_DEADLINE_NEAR):
        link = link_to("offers.inbox")
    else:
        link = link_to("intake.referral", referral_id=referral.id)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject, lead = _lead(kind, referral)
        body = "\n\n".join(
            [
                lead,
                _("Log in to see it: %(link)s", link=link),
                _("This message contains no personal details on purpose. Do not reply to it."),
            ]
        )
    return subject, body
