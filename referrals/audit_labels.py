"""The audit log's detail texts, shown in the reader's language.

Audit rows keep their detail as written (short English, never participant data); the audit
log page translates the known ones when it shows them. An unknown detail is shown as stored.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from referrals.labels import OUTCOME_LABELS, STATE_LABELS
from referrals.models import Outcome, ReferralState

DETAILS = {
    "activated": _l("activated"),
    "deactivated": _l("deactivated"),
    "reactivated": _l("reactivated"),
    "added to training group": _l("added to a training group"),
    "removed from training group": _l("removed from a training group"),
    "training group": _l("training group"),
    "authenticator enrolled": _l("authenticator enrolled"),
    "availability": _l("availability"),
    "closing form": _l("closing form"),
    "closing letter": _l("closing letter"),
    "closing letter PDF": _l("closing letter (PDF)"),
    "corrected": _l("corrected"),
    "entered": _l("entered"),
    "inbox": _l("inbox"),
    "intake recorded, plan generated": _l("intake recorded, plan made"),
    "matching": _l("matching"),
    "password changed": _l("password changed"),
    "password set by admin": _l("password set by an administrator"),
    "programme progress report": _l("programme progress report"),
    "progress report PDF": _l("progress report (PDF)"),
    "report requested": _l("report requested"),
    "role changed": _l("role changed"),
    "second factor reset": _l("second factor reset"),
    "session attendance corrected": _l("session attendance corrected"),
    "session attendance logged": _l("session attendance logged"),
    "training plan PDF": _l("training plan (PDF)"),
}
_TRANSITION = re.compile(r"^(\w+): (\w+) -> (\w+)$")
_CLOSED = re.compile(r"^closed: (\w+)$")
_FOUND = re.compile(r"^(\d+) found$")


def _state(value: str) -> str:
    try:
        return str(STATE_LABELS[ReferralState(value)])
    except ValueError:
        return value


def audit_detail(detail: str | None) -> str:
    """The stored detail in the reader's language, when it is one we know."""
    if not detail:
        return ""
    if detail in DETAILS:
        return str(DETAILS[detail])
    if match := _CLOSED.match(detail):
        try:
            return _("closed: %(outcome)s", outcome=OUTCOME_LABELS[Outcome(match[1])])
        except ValueError:
            return detail
    if match := _TRANSITION.match(detail):
        return _(
            "%(from_state)s → %(to_state)s",
            from_state=_state(match[2]),
            to_state=_state(match[3]),
        )
    if match := _FOUND.match(detail):
        return _("%(count)s found", count=match[1])
    return detail
