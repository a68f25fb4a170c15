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


def notification_text(kind: NotificationKind, referral: Referral) -> tuple[str, str]:
    """Subject and body in the installation's default language (the recipient's is unknown)."""
    link = link_to("intake.referral", referral_id=referral.id)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        if kind is NotificationKind.NEW_REFERRAL:
            subject = _("New referral to triage")
            lead = _(
                "A new referral (%(reference)s) is waiting for triage in %(programme)s.",
                reference=referral.reference,
                programme=referral.programme.name,
            )
        elif kind is NotificationKind.REFERRAL_REJECTED:
            subject = _("A referral was not accepted")
            lead = _(
                "Referral %(reference)s was not accepted into the programme. "
                "The reason is on the referral's page.",
                reference=referral.reference,
            )
        else:
            subject = _("A referral was withdrawn")
            lead = _("Referral %(reference)s was withdrawn.", reference=referral.reference)
        body = "\n\n".join(
            [
                lead,
                _("Log in to see it: %(link)s", link=link),
                _("This message contains no personal details on purpose. Do not reply to it."),
            ]
        )
    return subject, body
