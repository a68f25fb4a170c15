"""Keyword-only helpers that make valid objects through the services."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pyotp

from referrals.extensions import db
from referrals.models import (
    ROLES_BY_KIND,
    Organisation,
    OrganisationKind,
    Programme,
    Role,
    Therapist,
    User,
    local_today,
)
from referrals.services import accounts

PASSWORD = "correct horse battery"  # noqa: S105
_sequence = itertools.count(1)

# The organisation kind each role gets by default.
DEFAULT_KIND = {
    Role.REFERRER: OrganisationKind.GP_PRACTICE,
    Role.COORDINATOR: OrganisationKind.MUNICIPALITY,
    Role.THERAPIST: OrganisationKind.THERAPIST_PRACTICE,
    Role.OFFICER: OrganisationKind.MUNICIPALITY,
    Role.ADMIN: OrganisationKind.OPERATOR,
}


def _code(kind: OrganisationKind, n: int) -> str | None:
    if kind is OrganisationKind.MUNICIPALITY:
        return f"GM{n % 10000:04d}"
    if kind is OrganisationKind.SCHOOL:
        return f"{n % 100:02d}AB"
    if kind is OrganisationKind.OPERATOR:
        return None
    return f"{10000000 + n:08d}"


def make_organisation(
    *, kind: OrganisationKind = OrganisationKind.GP_PRACTICE, name: str | None = None
) -> Organisation:
    n = next(_sequence)
    organisation = accounts.create_organisation(
        kind=kind, name=name or f"{kind.value} {n}", code=_code(kind, n)
    )
    db.session.flush()
    return organisation


def make_user(
    *,
    role: Role = Role.REFERRER,
    organisation: Organisation | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    enrolled: bool = True,
    must_change_password: bool = False,
) -> User:
    if organisation is None:
        organisation = make_organisation(kind=DEFAULT_KIND[role])
    assert role in ROLES_BY_KIND[organisation.kind]
    n = next(_sequence)
    user = accounts.create_user(
        organisation=organisation,
        email=email or f"user{n}@example.org",
        name=f"Test {role.value} {n}",
        role=role,
        password=password,
        must_change_password=must_change_password,
        totp_secret=pyotp.random_base32() if enrolled else None,
    )
    db.session.flush()
    return user


def make_programme(
    *,
    funder: Organisation | None = None,
    referrers: list[Organisation] | None = None,
    coordinators: list[User] | None = None,
    areas: str = "2200-2299",
    min_age: int = 18,
    name: str | None = None,
):
    """A programme open today, by default for PC4 2200-2299 and people of 18 and older."""
    from datetime import date

    from referrals.services.programmes import ProgrammeDetails, create_programme

    funder = funder or make_organisation(kind=OrganisationKind.MUNICIPALITY)
    programme = create_programme(
        ProgrammeDetails(
            name=name or f"Programme {next(_sequence)}",
            funder=funder,
            starts_on=date(2020, 1, 1),
            ends_on=None,
            referrer_organisations=referrers or [],
            coordinators=coordinators or [],
            postcode_areas=areas,
            min_age=min_age,
            funded_places=20,
            trajectory_weeks=12,
            supervised_sessions=12,
            tariff_cents=4500,
            questionnaires=["k10"],
        )
    )
    db.session.flush()
    return programme


def participant_details(**changes):
    from datetime import date

    from referrals.services.referrals.intake import ParticipantDetails

    values = {
        "first_name": "Sanne",
        "last_name": "Visser",
        "date_of_birth": date(1985, 6, 15),
        "postcode": "2201ab",
        "phone": "06 12345678",
        "email": None,
        "bsn": None,
    }
    values.update(changes)
    return ParticipantDetails(**values)


def referral_details(**changes):
    from referrals.services.referrals.intake import ReferralDetails

    values = {
        "reasons": ["stress", "low_mood"],
        "description": "Sleeps badly since a reorganisation at work.",
        "preferred_form": "group",
        "preferred_days": ["tue", "thu"],
        "consent_to_refer": True,
        "consent_share_progress": True,
    }
    values.update(changes)
    return ReferralDetails(**values)


def make_referral(*, programme=None, referrer: User | None = None, **participant_changes):
    """A submitted referral by `referrer` (a new GP referrer by default) into `programme`."""
    from referrals.services.referrals.intake import submit_referral

    if referrer is None:
        referrer = make_user(role=Role.REFERRER)
    if programme is None:
        programme = make_programme(referrers=[referrer.organisation])
    referral = submit_referral(
        referrer=referrer,
        programme=programme,
        participant=participant_details(**participant_changes),
        details=referral_details(),
        confirm_duplicate=True,
    )
    db.session.flush()
    return referral


def make_therapist(
    *,
    user: User | None = None,
    postcode: str = "2201 AB",
    brtn_number: str | None = None,
    name: str | None = None,
    email: str | None = None,
    registered_until=None,
    capacity: int = 8,
    active_participants: int = 0,
    travel_radius_km: int = 15,
    offers_group: bool = True,
    offers_individual: bool = True,
    languages: tuple[str, ...] = ("nl",),
    weekdays: tuple[str, ...] = ("tue", "thu"),
    accepting_referrals: bool = True,
    programmes=(),
):
    """A register entry valid for a year, optionally linked to `user` and in `programmes`."""
    from datetime import timedelta

    n = next(_sequence)
    therapist = Therapist(
        brtn_number=brtn_number or f"{100000 + n}",
        name=name or (user.name if user else f"Therapist {n}"),
        email=email or (user.email if user else None),
        registered_until=registered_until or local_today() + timedelta(days=365),
        postcode=postcode,
        user=user,
        capacity=capacity,
        active_participants=active_participants,
        travel_radius_km=travel_radius_km,
        offers_group=offers_group,
        offers_individual=offers_individual,
        languages=list(languages),
        weekdays=list(weekdays),
        accepting_referrals=accepting_referrals,
    )
    db.session.add(therapist)
    for programme in programmes:
        programme.therapists.append(therapist)
    db.session.flush()
    return therapist


@dataclass
class World:
    """A municipality's programme fed by one GP practice, with its coordinator and GP, and
    (optionally) the municipality's social team and a therapist of the programme."""

    municipality: Organisation
    gp_practice: Organisation
    coordinator: User
    gp: User
    programme: Programme
    social_worker: User | None = None
    therapist_user: User | None = None
    therapist: Therapist | None = None


def make_world(
    *,
    name: str | None = None,
    areas: str = "2200-2299",
    social_team: bool = False,
    therapist: bool = True,
    therapist_name: str | None = None,
    capacity: int = 8,
    therapist_postcode: str = "2201 AB",
) -> World:
    """The organisations, people and programme most tests start from.

    `name` names the municipality ("Gemeente <name>"), the GP practice and the programme, so
    that two worlds side by side can be told apart in a page.
    """
    municipality = make_organisation(
        kind=OrganisationKind.MUNICIPALITY, name=f"Gemeente {name}" if name else None
    )
    gp_practice = make_organisation(
        kind=OrganisationKind.GP_PRACTICE, name=f"Huisartsenpraktijk {name}" if name else None
    )
    coordinator = make_user(role=Role.COORDINATOR, organisation=municipality)
    gp = make_user(role=Role.REFERRER, organisation=gp_practice)
    social_worker = (
        make_user(role=Role.REFERRER, organisation=municipality) if social_team else None
    )
    programme = make_programme(
        funder=municipality,
        referrers=[gp_practice, municipality] if social_team else [gp_practice],
        coordinators=[coordinator],
        areas=areas,
        name=f"Programma {name}" if name else None,
    )
    world = World(municipality, gp_practice, coordinator, gp, programme, social_worker)
    if therapist:
        world.therapist_user = make_user(role=Role.THERAPIST)
        world.therapist = make_therapist(
            user=world.therapist_user,
            name=therapist_name,
            postcode=therapist_postcode,
            capacity=capacity,
            programmes=[programme],
        )
    return world
