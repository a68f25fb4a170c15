"""Therapist profiles: the register fields (admins) and availability (the therapist themself).

The register import (`referrals.services.register_import`) uses the same readers for
registration numbers, dates and postcodes, so a value the import accepts is one the admin
form accepts too.
"""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.nl import postcode as stdnum_postcode

from referrals import audit
from referrals.extensions import db
from referrals.models import AuditAction, Role, Therapist, User, Weekday, local_today
from referrals.services import ServiceError

# Coordinators and the therapist are warned this many days before the registration ends.
EXPIRY_WARNING_DAYS = 30
MAX_CAPACITY = 200
MAX_TRAVEL_RADIUS_KM = 300
# Languages a therapist can run sessions in; the register does not say, the therapist does.
LANGUAGE_LABELS = {
    "nl": _l("Dutch"),
    "en": _l("English"),
    "de": _l("German"),
    "fr": _l("French"),
    "tr": _l("Turkish"),
    "ar": _l("Arabic"),
    "pl": _l("Polish"),
}

# "12345", "BRTN 12345", "brtn-12345", "BRTN12345": 3 to 10 digits after an optional prefix.
_BRTN_NUMBER = re.compile(r"(?:BRTN[\s\-_.:]*)?([0-9]{3,10})", re.IGNORECASE)
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_DUTCH_DATE = re.compile(r"([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4})")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def parse_brtn_number(value: str) -> str:
    """`BRTN 012345` -> `012345`: 3 to 10 digits, leading zeros kept; ValueError otherwise."""
    match = _BRTN_NUMBER.fullmatch(re.sub(r"\s+", " ", (value or "").strip()))
    if not match:
        raise ValueError(value)
    return match.group(1)


def parse_register_date(value: str) -> date:
    """`2026-12-31` or `31-12-2026` (also with / or .) -> a date; ValueError otherwise."""
    value = (value or "").strip()
    if match := _ISO_DATE.fullmatch(value):
        year, month, day = match.groups()
    elif match := _DUTCH_DATE.fullmatch(value):
        day, month, year = match.groups()
    else:
        raise ValueError(value)
    return date(int(year), int(month), int(day))  # ValueError for 31-02-2026


def parse_postcode(value: str) -> str:
    """`2201ck` -> `2201 CK`; ValueError for anything that is not a Dutch postcode."""
    try:
        return stdnum_postcode.validate(value or "")
    except StdnumError:
        raise ValueError(value) from None


def is_email_address(value: str) -> bool:
    return len(value) <= 254 and _EMAIL.fullmatch(value) is not None


def expiry_warning(therapist: Therapist, today: date) -> str | None:
    """A warning from 30 days before the registration ends; None while more days are left."""
    return registration_notice(therapist.name, therapist.registered_until, today)


def registration_notice(name: str, registered_until: date, today: date) -> str | None:
    """What to say about a registration that ends within 30 days or has ended."""
    days_left = (registered_until - today).days
    until = format_date(registered_until, "long")
    if days_left < 0:
        return _(
            "The BRTN registration of %(name)s expired on %(date)s. No referrals are offered "
            "until it is renewed.",
            name=name,
            date=until,
        )
    if days_left == 0:
        return _(
            "The BRTN registration of %(name)s ends today (%(date)s). Renew it to keep "
            "receiving referrals.",
            name=name,
            date=until,
        )
    if days_left <= EXPIRY_WARNING_DAYS:
        return ngettext(
            "The BRTN registration of %(name)s ends on %(date)s, in %(num)d day. Renew it to "
            "keep receiving referrals.",
            "The BRTN registration of %(name)s ends on %(date)s, in %(num)d days. Renew it to "
            "keep receiving referrals.",
            days_left,
            name=name,
            date=until,
        )
    return None


def therapist_of(user: User) -> Therapist | None:
    """The register entry linked to `user`, if any."""
    if not user.is_authenticated or user.role is not Role.THERAPIST:
        return None
    return db.session.scalar(sa.select(Therapist).where(Therapist.user_id == user.id))


def therapist_users(include: User | None = None) -> list[User]:
    """Active therapist accounts not yet linked to a register entry (plus `include`)."""
    linked = sa.select(Therapist.user_id).where(Therapist.user_id.is_not(None))
    available = sa.and_(User.active, User.id.not_in(linked))
    if include is not None:
        available = sa.or_(available, User.id == include.id)
    query = sa.select(User).where(User.role == Role.THERAPIST, available).order_by(User.name)
    return list(db.session.scalars(query))


def _check_availability(
    therapist: Therapist,
    *,
    accepting_referrals: bool,
    weekdays: list[str],
    travel_radius_km: int,
    capacity: int,
    offers_group: bool,
    offers_individual: bool,
    languages: list[str],
) -> None:
    if not 0 <= travel_radius_km <= MAX_TRAVEL_RADIUS_KM:
        raise ServiceError(
            _("Enter a travel radius from 0 to %(max)d km.", max=MAX_TRAVEL_RADIUS_KM),
            "travel_radius_km",
        )
    if not 0 <= capacity <= MAX_CAPACITY:
        raise ServiceError(
            _("Enter a capacity from 0 to %(max)d participants.", max=MAX_CAPACITY), "capacity"
        )
    if capacity < therapist.active_participants:
        raise ServiceError(
            ngettext(
                "There is %(num)d active participant; the capacity cannot be lower.",
                "There are %(num)d active participants; the capacity cannot be lower.",
                therapist.active_participants,
            ),
            "capacity",
        )
    if not (offers_group or offers_individual):
        raise ServiceError(
            _("Choose group sessions, individual sessions or both."), "session_forms"
        )
    if not set(weekdays) <= {day.value for day in Weekday}:
        raise ServiceError(_("Choose days from the list."), "weekdays")
    if accepting_referrals and not weekdays:
        raise ServiceError(
            _("Choose at least one day, or stop taking new referrals for now."), "weekdays"
        )
    if not languages or not set(languages) <= LANGUAGE_LABELS.keys():
        raise ServiceError(_("Choose at least one language from the list."), "languages")


def _apply_availability(therapist: Therapist, **availability) -> None:
    """Set the availability fields; capacity by a conditional UPDATE so that it never drops
    below a participant count that an acceptance raised in the meantime."""
    _check_availability(therapist, **availability)
    therapist.accepting_referrals = availability["accepting_referrals"]
    therapist.weekdays = [d.value for d in Weekday if d.value in set(availability["weekdays"])]
    therapist.travel_radius_km = availability["travel_radius_km"]
    therapist.offers_group = availability["offers_group"]
    therapist.offers_individual = availability["offers_individual"]
    therapist.languages = [code for code in LANGUAGE_LABELS if code in availability["languages"]]
    db.session.flush()
    capacity = availability["capacity"]
    result = db.session.execute(
        sa.update(Therapist)
        .where(Therapist.id == therapist.id, Therapist.active_participants <= capacity)
        .values(capacity=capacity)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(therapist, ["capacity", "active_participants"])
    if result.rowcount != 1:
        raise ServiceError(
            _("There are more active participants than this capacity; enter a higher number."),
            "capacity",
        )


def update_availability(
    therapist: Therapist,
    *,
    accepting_referrals: bool,
    weekdays: list[str],
    travel_radius_km: int,
    capacity: int,
    offers_group: bool,
    offers_individual: bool,
    languages: list[str],
) -> Therapist:
    """The therapist's own settings: new referrals, days, distance, capacity, forms, languages."""
    _apply_availability(
        therapist,
        accepting_referrals=accepting_referrals,
        weekdays=weekdays,
        travel_radius_km=travel_radius_km,
        capacity=capacity,
        offers_group=offers_group,
        offers_individual=offers_individual,
        languages=languages,
    )
    audit.record(AuditAction.UPDATE, obj=therapist, detail="availability")
    return therapist


def _check_user(therapist: Therapist, user: User | None) -> None:
    if user is None or user.id == therapist.user_id:
        return
    if user.role is not Role.THERAPIST:
        raise ServiceError(
            _("%(name)s does not have the therapist role.", name=user.name), "user_id"
        )
    other = db.session.scalar(
        sa.select(Therapist).where(Therapist.user_id == user.id, Therapist.id != therapist.id)
    )
    if other is not None:
        raise ServiceError(
            _("This account is already linked to %(name)s.", name=other.name), "user_id"
        )


def _register_fields(
    therapist: Therapist, *, brtn_number: str, name: str, email: str | None, postcode: str
) -> dict:
    try:
        number = parse_brtn_number(brtn_number)
    except ValueError:
        raise ServiceError(
            _("Enter 3 to 10 digits, optionally after BRTN, like BRTN 12345."), "brtn_number"
        ) from None
    taken = db.session.scalar(
        sa.select(Therapist.id).where(Therapist.brtn_number == number, Therapist.id != therapist.id)
    )
    if taken is not None:
        raise ServiceError(_("Another therapist has this registration number."), "brtn_number")
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ServiceError(_("Enter a name of at most 200 characters."), "name")
    email = (email or "").strip().lower() or None
    if email is not None and not is_email_address(email):
        raise ServiceError(_("Enter a valid e-mail address, like name@example.nl."), "email")
    try:
        postcode = parse_postcode(postcode)
    except ValueError:
        raise ServiceError(
            _("Enter a Dutch postcode of 4 digits and 2 letters, like 1234 AB."), "postcode"
        ) from None
    return {"brtn_number": number, "name": name, "email": email, "postcode": postcode}


def create_therapist(
    *,
    brtn_number: str,
    name: str,
    email: str | None,
    registered_until: date,
    postcode: str,
    user: User | None = None,
) -> Therapist:
    """A register entry made by hand (demo data, tests); the import adds entries in bulk."""
    therapist = Therapist(registered_until=registered_until)
    fields = _register_fields(
        therapist, brtn_number=brtn_number, name=name, email=email, postcode=postcode
    )
    _check_user(therapist, user)
    for key, value in fields.items():
        setattr(therapist, key, value)
    therapist.user = user
    db.session.add(therapist)
    db.session.flush()
    audit.record(AuditAction.CREATE, obj=therapist)
    return therapist


def update_therapist(
    therapist: Therapist,
    *,
    brtn_number: str,
    name: str,
    email: str | None,
    registered_until: date,
    postcode: str,
    user: User | None,
    accepting_referrals: bool,
    weekdays: list[str],
    travel_radius_km: int,
    capacity: int,
    offers_group: bool,
    offers_individual: bool,
    languages: list[str],
) -> Therapist:
    """An administrator's change to any profile field, including the linked account."""
    fields = _register_fields(
        therapist, brtn_number=brtn_number, name=name, email=email, postcode=postcode
    )
    _check_user(therapist, user)
    for key, value in fields.items():
        setattr(therapist, key, value)
    therapist.registered_until = registered_until
    therapist.user = user
    _apply_availability(
        therapist,
        accepting_referrals=accepting_referrals,
        weekdays=weekdays,
        travel_radius_km=travel_radius_km,
        capacity=capacity,
        offers_group=offers_group,
        offers_individual=offers_individual,
        languages=languages,
    )
    audit.record(AuditAction.UPDATE, obj=therapist)
    return therapist


def is_expired(therapist: Therapist, today: date | None = None) -> bool:
    return not therapist.is_registered_on(today or local_today())
