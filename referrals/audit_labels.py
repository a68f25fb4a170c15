"""The access log in plain words, in the reader's language.

Audit rows keep their detail as written: short English machine text, never participant data,
and never changed (the log is append-only). The audit log page says in a sentence what
happened to what ("Referral RT-2026-000123 opened"), from the row's action, its object (named
by services.accounts.audit_names) and the known detail patterns below. A detail no pattern
knows is shown as stored after the sentence, marked as English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from referrals.labels import OUTCOME_LABELS, STATE_LABELS
from referrals.models import AuditAction, Outcome, ReferralState

if TYPE_CHECKING:
    from referrals.models import AuditEvent
    from referrals.services.accounts.audit_names import AuditNames, Named

# By the stored value, so that an action added later (access_refused) has its label already.
ACTION_LABELS = {
    "create": _l("create"),
    "read": _l("read"),
    "update": _l("update"),
    "delete": _l("delete"),
    "export": _l("export"),
    "print": _l("print"),
    "search": _l("search"),
    "login": _l("login"),
    "login_failed": _l("failed login"),
    "logout": _l("logout"),
    "refused": _l("access refused"),
}


def action_label(action: str | None) -> str:
    """The action's name; one without a label reads as its stored value in words."""
    value = str(action or "")
    return str(ACTION_LABELS[value]) if value in ACTION_LABELS else value.replace("_", " ")


def action_choices() -> list[tuple[str, object]]:
    """(value, label) of every action the log knows, for the filter."""
    return [(a.value, ACTION_LABELS.get(a.value, a.value)) for a in AuditAction]


# The old labels of the stored details, still used where a detail is shown on its own.
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
_PLAN_CHANGE = re.compile(r"^plan change: (\w+) week (\d+)$")
_QUESTIONNAIRE_FORM = re.compile(r"^questionnaire form (\w+) (\w+)$")
_EXPORT = re.compile(r"^uptake (\w+) (\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_IMPORT_PART = re.compile(r"^(added|changed|unchanged|rejected|end dates shortened|kept) (\d+)$")
_PAGE = re.compile(r"^page=(\d+)$")
_DATE_MOVED = re.compile(r"^session date changed from (\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2})$")
_SESSION_DELETED = re.compile(
    r"^session deleted: held on (\d{4}-\d{2}-\d{2}), group (\w+), (\d+) attendance rows$"
)
_REFUSED = re.compile(r"^(403|404) [\w.]+$")


def _state(value: str) -> str:
    try:
        return str(STATE_LABELS[ReferralState(value)])
    except ValueError:
        return value


# --- Naming the object -------------------------------------------------------------------

INSTRUMENT_NAMES = {"mhc_sf": "MHC-SF", "k10": "K10", "who5": "WHO-5"}
MOMENT_NAMES = {"intake": _l("intake"), "midway": _l("midway"), "end": _l("end")}


def _day(value: date | None) -> str:
    if value is None:
        return "?"
    locale = get_locale()
    return format_date(value, "d-M-yyyy" if locale and locale.language == "nl" else "d MMM yyyy")


def period(start: date | None, end: date | None) -> str:
    return _("%(start)s to %(end)s", start=_day(start), end=_day(end))


def _instrument(key: str | None) -> str:
    return INSTRUMENT_NAMES.get(key or "", (key or "?").upper())


def _moment(key: str | None) -> str:
    return str(MOMENT_NAMES[key]) if key in MOMENT_NAMES else (key or "?")


def _report(named: Named, object_id: str) -> str:
    if named.kind == "closing_letter" and named.reference:
        return _("closing letter %(reference)s", reference=named.reference)
    if named.name is not None:
        return _(
            "report '%(programme)s', %(period)s",
            programme=named.name,
            period=period(named.start, named.end),
        )
    return _("report %(id)s", id=object_id)


def _session(named: Named, object_id: str) -> str:
    if named.kind == "group":
        return _("a session of group '%(name)s'", name=named.name)
    return _("an individual session")


# How each kind of object is named when its name is known, and (second) by its id alone.
def _named_phrases():
    return {
        "referrals": lambda n, i: _("referral %(reference)s", reference=n.reference or i),
        "offers": lambda n, i: _("offer for %(reference)s", reference=n.reference),
        "trajectories": lambda n, i: _("trajectory %(reference)s", reference=n.reference),
        "questionnaire_responses": lambda n, i: _(
            "questionnaire %(instrument)s (%(moment)s) of %(reference)s",
            instrument=_instrument(n.instrument),
            moment=_moment(n.moment),
            reference=n.reference,
        ),
        "reports": _report,
        "report_jobs": _report,
        "training_groups": lambda n, i: _("group '%(name)s'", name=n.name),
        "training_sessions": _session,
        "programmes": lambda n, i: _("programme '%(name)s'", name=n.name),
        "users": lambda n, i: _("user %(name)s", name=n.name),
        "organisations": lambda n, i: _("organisation '%(name)s'", name=n.name),
        "therapists": lambda n, i: _("therapist %(name)s", name=n.name),
        "register_imports": lambda n, i: _("register file '%(name)s'", name=n.name),
    }


def _id_phrases():
    return {
        "referrals": lambda i: _("referral %(reference)s", reference=i),
        "offers": lambda i: _("offer %(id)s", id=i),
        "trajectories": lambda i: _("trajectory %(id)s", id=i),
        "questionnaire_responses": lambda i: _("questionnaire %(id)s", id=i),
        "reports": lambda i: _("report %(id)s", id=i),
        "report_jobs": lambda i: _("report request %(id)s", id=i),
        "training_groups": lambda i: _("group %(id)s", id=i),
        "training_sessions": lambda i: _("session %(id)s", id=i),
        "programmes": lambda i: _("programme %(id)s", id=i),
        "users": lambda i: _("user %(id)s", id=i),
        "organisations": lambda i: _("organisation %(id)s", id=i),
        "therapists": lambda i: _("therapist %(id)s", id=i),
        "register_imports": lambda i: _("register import %(id)s", id=i),
    }


def object_phrase(object_type: str | None, object_id: str | None, named: Named | None) -> str:
    """The object in words, lower case, as it stands inside a sentence."""
    if object_type == "audit_log":
        return _("the audit log")
    if object_type is None:
        return _("an unnamed item")
    if named is not None and object_type in (phrases := _named_phrases()):
        return phrases[object_type](named, object_id)
    if object_id is not None and object_type in (by_id := _id_phrases()):
        return by_id[object_type](object_id)
    if object_id is not None:
        return _("item %(id)s (%(kind)s)", id=object_id, kind=object_type)
    return _("items (%(kind)s)", kind=object_type)


def participant_phrase(participant_id: int, names: AuditNames) -> str:
    reference = names.references.get(participant_id)
    if reference:
        return _(
            "participant %(number)s (%(reference)s)", number=participant_id, reference=reference
        )
    return _("participant %(number)s", number=participant_id)


# --- The sentence ------------------------------------------------------------------------

GENERIC = {
    "create": _l("%(object)s created"),
    "read": _l("%(object)s opened"),
    "update": _l("%(object)s changed"),
    "delete": _l("%(object)s deleted"),
    "export": _l("%(object)s exported"),
    "print": _l("%(object)s downloaded"),
    "search": _l("%(object)s found in a search"),
    "refused": _l("Access to %(object)s refused"),
}
WITHOUT_OBJECT = {
    "login": _l("Logged in"),
    "logout": _l("Logged out"),
    "login_failed": _l("Login failed"),
}
# A new object of these kinds is said to be made in its own words.
CREATED = {
    "referrals": _l("%(object)s submitted"),
    "offers": _l("%(object)s made"),
    "trajectories": _l("%(object)s started"),
    "register_imports": _l("%(object)s uploaded"),
}
# Known (action, detail) pairs. %(object)s is the object in words; %(reference)s the referral
# it belongs to (or the object in words when there is none).
SENTENCES = {
    ("read", "list"): _l("%(object)s shown in the referral list"),
    ("search", "list"): _l("%(object)s found by a search in the referral list"),
    ("read", "triage queue"): _l("%(object)s shown in the triage queue"),
    ("read", "inbox"): _l("%(object)s shown in the overview of offered referrals"),
    ("read", "matching"): _l("Matching for %(object)s opened"),
    ("read", "withdraw"): _l("Form to withdraw %(object)s opened"),
    ("read", "reject"): _l("Form to reject %(object)s opened"),
    ("read", "decline"): _l("Form to decline %(object)s opened"),
    ("search", "duplicate check"): _l("%(object)s shown as a possible duplicate referral"),
    ("read", "closing form"): _l("Closing form of %(object)s opened"),
    ("read", "closing check"): _l("Check before closing %(object)s opened"),
    ("read", "session form"): _l("Form to log a session for %(object)s opened"),
    ("read", "session correction form"): _l("Form to correct %(object)s opened"),
    ("read", "group page"): GENERIC["read"],
    ("read", "group page: participant to add"): _l(
        "%(object)s opened, with this participant among those who can be added"
    ),
    ("print", "training plan PDF"): _l("Training plan of %(reference)s downloaded"),
    ("print", "progress report PDF"): _l("Progress report of %(reference)s downloaded"),
    ("print", "closing letter PDF"): GENERIC["print"],
    ("print", "programme progress report"): GENERIC["print"],
    ("create", "closing letter"): _l("%(object)s made"),
    ("create", "programme progress report"): _l("%(object)s made"),
    ("create", "report requested"): _l("%(object)s requested"),
    ("create", "training group"): GENERIC["create"],
    ("update", "training group"): GENERIC["update"],
    ("update", "intake recorded, plan generated"): _l(
        "%(object)s: intake recorded, training plan made"
    ),
    ("update", "added to training group"): _l("%(object)s added to a training group"),
    ("update", "removed from training group"): _l("%(object)s taken out of a training group"),
    ("create", "session attendance logged"): _l("Attendance at %(object)s logged"),
    ("update", "session attendance corrected"): _l("Attendance at %(object)s corrected"),
    ("update", "session date changed"): _l("Date of %(object)s changed"),
    ("delete", "session attendance deleted"): _l("Attendance at %(object)s deleted"),
    ("refused", "more refusals in this period not recorded"): _l(
        "More refused access in this period, not recorded one by one"
    ),
    ("create", "entered"): _l("%(object)s entered"),
    ("update", "corrected"): _l("%(object)s corrected"),
    ("update", "availability"): _l("Availability of %(object)s changed"),
    ("update", "activated"): _l("%(object)s activated"),
    ("update", "deactivated"): _l("%(object)s deactivated"),
    ("update", "reactivated"): _l("%(object)s activated again"),
    ("update", "role changed"): _l("Role of %(object)s changed"),
    ("update", "second factor reset"): _l(
        "Authenticator app of %(object)s unlinked: a new one is set up at the next login"
    ),
    ("update", "password set by admin"): _l(
        "Temporary password for %(object)s set by an administrator"
    ),
    ("update", "authenticator enrolled"): _l("Authenticator app linked to %(object)s"),
    ("update", "password changed"): _l("Password of %(object)s changed"),
    ("login_failed", "unknown or inactive account"): _l(
        "Login failed: unknown or inactive account"
    ),
    ("login_failed", "account locked"): _l("Login failed: the account is locked"),
    ("login_failed", "wrong password"): _l("Login failed: wrong password"),
    ("login_failed", "no authenticator"): _l("Login failed: no authenticator app linked"),
    ("login_failed", "wrong or reused code"): _l("Login failed: wrong or already used code"),
}
# A repeat is stored with the number of the new week, the one that repeats its predecessor.
PLAN_CHANGES = {
    "repeat": _l("week %(week)s repeats the week before"),
    "step_back": _l("stepped back a level in week %(week)s"),
    "edit": _l("week %(week)s adjusted"),
}
IMPORT_PARTS = {
    "added": _l("%(count)s added"),
    "changed": _l("%(count)s changed"),
    "unchanged": _l("%(count)s unchanged"),
    "rejected": _l("%(count)s refused"),
    "end dates shortened": _l("%(count)s with an earlier end date"),
    "kept": _l("%(count)s with their end date kept"),
}


@dataclass(frozen=True)
class AuditText:
    """A row in words: the sentence, and the stored detail when no known pattern covers it
    (shown after the sentence as it is, in English)."""

    text: str
    stored: str | None = None


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _outcome(value: str) -> str:
    label = str(OUTCOME_LABELS[Outcome(value)])
    return label[:1].lower() + label[1:]


def _patterned(action: str, detail: str, words: dict) -> str | None:
    """The sentence for a detail with values in it (a transition, a plan change, ...)."""
    if action == "update" and (match := _TRANSITION.match(detail)):
        return _(
            "%(object)s: %(from_state)s → %(to_state)s",
            object=words["object"],
            from_state=_state(match[2]),
            to_state=_state(match[3]),
        )
    if action == "update" and (match := _CLOSED.match(detail)):
        try:
            return _(
                "%(object)s closed: %(outcome)s", object=words["object"], outcome=_outcome(match[1])
            )
        except ValueError:
            return None
    if action == "update" and (match := _PLAN_CHANGE.match(detail)):
        change = PLAN_CHANGES.get(match[1])
        change = change % {"week": match[2]} if change else _("week %(week)s", week=match[2])
        return _(
            "Training plan of %(reference)s changed: %(change)s",
            reference=words["reference"],
            change=change,
        )
    if action == "read" and (match := _QUESTIONNAIRE_FORM.match(detail)):
        return _(
            "Form for questionnaire %(instrument)s (%(moment)s) of %(reference)s opened",
            instrument=_instrument(match[1]),
            moment=_moment(match[2]),
            reference=words["reference"],
        )
    if action == "search" and (match := _FOUND.match(detail)):
        return _("Referrals searched: %(count)s found", count=match[1])
    if action == "export" and (match := _EXPORT.match(detail)):
        return _(
            "Uptake figures of %(object)s for %(period)s exported as %(format)s",
            object=words["object"],
            period=period(date.fromisoformat(match[2]), date.fromisoformat(match[3])),
            format=match[1].upper(),
        )
    if action == "update" and (match := _DATE_MOVED.match(detail)):
        return _(
            "Date of %(object)s changed from %(old)s to %(new)s",
            object=words["object"],
            old=_day(date.fromisoformat(match[1])),
            new=_day(date.fromisoformat(match[2])),
        )
    if action == "delete" and (match := _SESSION_DELETED.match(detail)):
        return _(
            "Session of %(day)s deleted, with its %(count)s attendance rows",
            day=_day(date.fromisoformat(match[1])),
            count=match[3],
        )
    if action == "refused" and (match := _REFUSED.match(detail)):
        if match[1] == "403":
            return _("Access to %(object)s refused: not allowed for this role", **words)
        return _("Access to %(object)s refused: not found or not visible to this user", **words)
    if action == "update" and detail.startswith("added "):
        return _register_import(detail, words)
    return None


def _register_import(detail: str, words: dict) -> str | None:
    parts = []
    for part in detail.split(", "):
        match = _IMPORT_PART.match(part)
        if match is None:
            return None
        parts.append(str(IMPORT_PARTS[match[1]] % {"count": match[2]}))
    return _("%(object)s applied: %(counts)s", object=words["object"], counts=", ".join(parts))


def _audit_log_text(action: str, detail: str | None, names: AuditNames) -> AuditText:
    """The log's own rows: which filters and searches were used, and the page."""
    parts, page, unknown = [], None, []
    for token in (detail or "").split():
        key, _sep, value = token.partition("=")
        if _PAGE.match(token):
            page = value
        elif part := _filter_words(key, value, names):
            parts.append(part)
        else:
            unknown.append(token)
    stored = " ".join(unknown) or None
    page = page or "1"
    if unknown == ["shown"] and not parts:
        return AuditText(
            _("Rows about this participant seen in the audit log, page %(page)s", page=page)
        )
    if not parts and action == "search":
        return AuditText(_("Audit log searched, page %(page)s", page=page), stored)
    if not parts:
        return AuditText(_("Audit log opened, page %(page)s", page=page), stored)
    return AuditText(
        _("Audit log searched for %(filters)s, page %(page)s", filters=", ".join(parts), page=page),
        stored,
    )


def _filter_words(key: str, value: str, names: AuditNames) -> str | None:
    if key == "user":
        return object_phrase("users", value, names.of("users", value))
    if key == "participant" and value.isdigit():
        return participant_phrase(int(value), names)
    if key == "action":
        return _("action '%(action)s'", action=action_label(value))
    if key in ("from", "to"):
        try:
            day = _day(date.fromisoformat(value))
        except ValueError:
            return None
        return _("from %(start)s", start=day) if key == "from" else _("up to %(end)s", end=day)
    if key == "reference":
        return _("referral %(reference)s", reference=value)
    if key == "name-matches":
        if value == "none":
            return _("a name that no participant has")
        if value == "many":
            return _("a name too many participants have")
        ids = [int(i) for i in value.split(",") if i.isdigit()]
        return _(
            "a name (%(participants)s)",
            participants=", ".join(participant_phrase(i, names) for i in ids),
        )
    return None


def describe(event: AuditEvent, names: AuditNames) -> AuditText:
    """What the row says happened to what, in the reader's language."""
    action = str(event.action)
    detail = event.detail or None
    if event.object_type == "audit_log" and action in ("read", "search"):
        return _audit_log_text(action, detail, names)
    named = names.of(event.object_type, event.object_id)
    thing = object_phrase(event.object_type, event.object_id, named)
    words = {"object": thing, "reference": (named.reference if named else None) or thing}
    if detail is not None:
        sentence = SENTENCES.get((action, detail))
        if sentence is not None:
            return AuditText(_capitalised(sentence % words))
        if (text := _patterned(action, detail, words)) is not None:
            return AuditText(_capitalised(text))
    if action in WITHOUT_OBJECT:
        return AuditText(str(WITHOUT_OBJECT[action]), detail)
    if action == "create" and detail is None and event.object_type in CREATED:
        return AuditText(_capitalised(CREATED[event.object_type] % words))
    if action in GENERIC:
        return AuditText(_capitalised(GENERIC[action] % words), detail)
    return AuditText(
        _capitalised(_("%(object)s: %(action)s", object=thing, action=action_label(action))),
        detail,
    )
