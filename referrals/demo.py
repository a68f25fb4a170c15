"""Demo organisations, accounts and programmes: two municipalities, two GP practices, every role.

Loading is idempotent: what already exists (by organisation name, e-mail or programme name) is
left alone. The demo referrals and trajectories come from referrals.demo_trajectories.
The TOTP secrets are fixed so a person can add them to an authenticator app once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from referrals.demo_trajectories import load_demo_trajectories
from referrals.extensions import db
from referrals.models import (
    Organisation,
    OrganisationKind,
    Programme,
    Questionnaire,
    Role,
    Therapist,
    User,
    local_today,
)
from referrals.services import accounts
from referrals.services.programmes import ProgrammeDetails, create_programme
from referrals.services.therapists import create_therapist, update_availability

DEMO_PASSWORD = "Hardlopen-is-gezond-2026"  # noqa: S105 - printed for demo use on purpose


@dataclass(frozen=True)
class DemoOrganisation:
    key: str
    kind: OrganisationKind
    name: str
    code: str | None


@dataclass(frozen=True)
class DemoAccount:
    organisation: str
    role: Role
    name: str
    email: str
    totp_secret: str


ORGANISATIONS = [
    DemoOrganisation("operator", OrganisationKind.OPERATOR, "Runningtherapie Servicebureau", None),
    DemoOrganisation("noordwijk", OrganisationKind.MUNICIPALITY, "Gemeente Noordwijk", "GM0575"),
    DemoOrganisation("lelystad", OrganisationKind.MUNICIPALITY, "Gemeente Lelystad", "GM0995"),
    DemoOrganisation(
        "duinen", OrganisationKind.GP_PRACTICE, "Huisartsenpraktijk De Duinen", "01234567"
    ),
    DemoOrganisation("bos", OrganisationKind.GP_PRACTICE, "Huisartsenpraktijk Het Bos", "01987654"),
    DemoOrganisation(
        "kust", OrganisationKind.THERAPIST_PRACTICE, "Runningtherapie Kust", "70123456"
    ),
    DemoOrganisation("polder", OrganisationKind.THERAPIST_PRACTICE, "Loopgroep Polder", "70654321"),
]

ACCOUNTS = [
    DemoAccount(
        "operator",
        Role.ADMIN,
        "Anna Beheer",
        "beheer@servicebureau.example",
        "JBSWY3DPEHPK3PXPADMINAAAAAAAAAAA",
    ),
    DemoAccount(
        "duinen",
        Role.REFERRER,
        "Dr. Sanne de Vries",
        "huisarts@deduinen.example",
        "JBSWY3DPEHPK3PXPDUINENAAAAAAAAAA",
    ),
    DemoAccount(
        "bos",
        Role.REFERRER,
        "Mehmet Yilmaz (POH-GGZ)",
        "poh@hetbos.example",
        "JBSWY3DPEHPK3PXPBOSAAAAAAAAAAAAA",
    ),
    DemoAccount(
        "noordwijk",
        Role.REFERRER,
        "Lotte Jansen (sociaal team)",
        "sociaalteam@noordwijk.example",
        "JBSWY3DPEHPK3PXPNWREFAAAAAAAAAAA",
    ),
    DemoAccount(
        "noordwijk",
        Role.COORDINATOR,
        "Pieter Bakker",
        "coordinator@noordwijk.example",
        "JBSWY3DPEHPK3PXPNWCOORDAAAAAAAAA",
    ),
    DemoAccount(
        "noordwijk",
        Role.OFFICER,
        "Fatima El Amrani",
        "welzijn@noordwijk.example",
        "JBSWY3DPEHPK3PXPNWOFFAAAAAAAAAAA",
    ),
    DemoAccount(
        "lelystad",
        Role.REFERRER,
        "Kees Visser (sociaal team)",
        "sociaalteam@lelystad.example",
        "JBSWY3DPEHPK3PXPLSREFAAAAAAAAAAA",
    ),
    DemoAccount(
        "lelystad",
        Role.COORDINATOR,
        "Ingrid Mulder",
        "coordinator@lelystad.example",
        "JBSWY3DPEHPK3PXPLSCOORDAAAAAAAAA",
    ),
    DemoAccount(
        "lelystad",
        Role.OFFICER,
        "Johan de Boer",
        "welzijn@lelystad.example",
        "JBSWY3DPEHPK3PXPLSOFFAAAAAAAAAAA",
    ),
    DemoAccount(
        "kust",
        Role.THERAPIST,
        "Eva Smit",
        "eva@runningtherapiekust.example",
        "JBSWY3DPEHPK3PXPKUSTAAAAAAAAAAAA",
    ),
    DemoAccount(
        "polder",
        Role.THERAPIST,
        "Ruud Hendriks",
        "ruud@loopgroeppolder.example",
        "JBSWY3DPEHPK3PXPPOLDERAAAAAAAAAA",
    ),
    # Two more therapists near Noordwijk, so the coordinator's matching has a ranking to show.
    DemoAccount(
        "kust",
        Role.THERAPIST,
        "Marieke van Dijk",
        "marieke@duinloop.example",
        "JBSWY3DPEHPK3PXPMARIEKEAAAAAAAAA",
    ),
    DemoAccount(
        "kust",
        Role.THERAPIST,
        "Anouk Bos",
        "anouk@bollenstreekloopt.example",
        "JBSWY3DPEHPK3PXPANOUKAAAAAAAAAAA",
    ),
]


@dataclass(frozen=True)
class DemoProgramme:
    name: str
    funder: str  # organisation key
    referrers: tuple[str, ...]  # organisation keys
    coordinators: tuple[str, ...]  # e-mail addresses
    postcode_areas: str
    funded_places: int
    weeks: int
    sessions: int
    tariff_cents: int
    questionnaires: tuple[Questionnaire, ...]
    starts_on: date
    ends_on: date | None
    therapists: tuple[str, ...] = ()  # BRTN numbers
    follow_up_months: int | None = None


# Demo periods follow the calendar, so the demo (and the browser tests on it) never runs out.
_THIS_YEAR = local_today().year

# One programme fed by GP practices, one by a municipal social team.
PROGRAMMES = [
    DemoProgramme(
        name="Runningtherapie op recept Noordwijk",
        funder="noordwijk",
        referrers=("duinen", "bos"),
        coordinators=("coordinator@noordwijk.example",),
        postcode_areas="2200-2204, 2210-2211",
        funded_places=40,
        weeks=12,
        sessions=12,
        tariff_cents=4500,
        questionnaires=(Questionnaire.MHC_SF, Questionnaire.K10),
        # Running since last year: the half year of earlier referrals lies inside it.
        starts_on=date(_THIS_YEAR - 1, 1, 1),
        ends_on=date(_THIS_YEAR + 1, 12, 31),
        therapists=("102345", "104410", "105521", "106632", "107743", "108854"),
        follow_up_months=3,
    ),
    DemoProgramme(
        # The social team's referrer account belongs to the municipality itself.
        name="Welzijn op recept Lelystad: in beweging",
        funder="lelystad",
        referrers=("lelystad",),
        coordinators=("coordinator@lelystad.example",),
        postcode_areas="8211-8245",
        funded_places=25,
        weeks=10,
        sessions=10,
        tariff_cents=3850,
        questionnaires=(Questionnaire.WHO5, Questionnaire.K10),
        starts_on=date(_THIS_YEAR - 1, 1, 1),
        ends_on=None,
        therapists=("108712", "109965", "110076", "111187"),
    ),
]


@dataclass(frozen=True)
class DemoTherapist:
    brtn_number: str
    name: str
    email: str | None
    postcode: str
    days_registered: int  # from the day the demo is loaded; negative: already expired
    radius_km: int
    capacity: int
    forms: str  # "group", "individual" or both
    weekdays: str
    languages: str
    accepting: bool = True
    linked: bool = False  # linked to the demo account with the same e-mail address


# Register entries around Noordwijk/Leiden and Lelystad: two belong to the demo therapist
# accounts; some registrations end within 30 days, one has ended, one takes no referrals now.
# fmt: off
THERAPISTS = [
    # BRTN, name, e-mail, postcode, days registered,
    #     radius km, capacity, forms, weekdays, languages
    DemoTherapist("102345", "Eva Smit", "eva@runningtherapiekust.example", "2201 CK", 700,
                  15, 8, "group individual", "tue thu sat", "nl en", linked=True),
    DemoTherapist("108712", "Ruud Hendriks", "ruud@loopgroeppolder.example", "8232 BA", 540,
                  20, 6, "group", "mon wed", "nl", linked=True),
    DemoTherapist("104410", "Marieke van Dijk", "marieke@duinloop.example", "2202 LN", 400,
                  10, 6, "group individual", "mon wed fri", "nl", linked=True),
    DemoTherapist("105521", "Youssef Amrani", "youssef@rennenleiden.example", "2311 EZ", 12,
                  12, 5, "individual", "tue thu", "nl ar fr"),
    DemoTherapist("106632", "Sophie de Graaf", None, "2225 LB", 300,
                  8, 4, "group", "sat", "nl", accepting=False),
    DemoTherapist("107743", "Joost Willems", "joost@loopfit.example", "2316 XB", -20,
                  15, 8, "group individual", "wed sat", "nl"),
    DemoTherapist("108854", "Anouk Bos", "anouk@bollenstreekloopt.example", "2211 AD", 25,
                  20, 6, "group individual", "mon thu", "nl de", linked=True),
    DemoTherapist("109965", "Henk Dijkstra", "henk@flevoloop.example", "8224 DK", 450,
                  25, 8, "group individual", "tue thu", "nl"),
    DemoTherapist("110076", "Priya Ramdin", "priya@beweeglelystad.example", "8243 PM", 20,
                  15, 6, "group individual", "mon fri", "nl en"),
    DemoTherapist("111187", "Wim Koster", None, "8251 HC", 600,
                  30, 5, "individual", "wed sat", "nl"),
]
# fmt: on


def _therapist(spec: DemoTherapist) -> Therapist:
    existing = db.session.scalar(
        sa.select(Therapist).where(Therapist.brtn_number == spec.brtn_number)
    )
    if existing is not None:
        return existing
    user = None
    if spec.linked:
        user = db.session.scalar(sa.select(User).where(User.email == spec.email))
    therapist = create_therapist(
        brtn_number=spec.brtn_number,
        name=spec.name,
        email=spec.email,
        registered_until=local_today() + timedelta(days=spec.days_registered),
        postcode=spec.postcode,
        user=user,
    )
    update_availability(
        therapist,
        accepting_referrals=spec.accepting,
        weekdays=spec.weekdays.split(),
        travel_radius_km=spec.radius_km,
        capacity=spec.capacity,
        offers_group="group" in spec.forms,
        offers_individual="individual" in spec.forms,
        languages=spec.languages.split(),
    )
    return therapist


def _organisation(spec: DemoOrganisation) -> Organisation:
    query = sa.select(Organisation).where(
        Organisation.kind == spec.kind, Organisation.name == spec.name
    )
    existing = db.session.scalar(query)
    if existing is not None:
        return existing
    return accounts.create_organisation(kind=spec.kind, name=spec.name, code=spec.code)


def load_demo_data() -> int:
    """Create what is missing of the demo set; returns how many accounts were created."""
    organisations = {spec.key: _organisation(spec) for spec in ORGANISATIONS}
    created = 0
    for account in ACCOUNTS:
        if db.session.scalar(sa.select(User.id).where(User.email == account.email)):
            continue
        accounts.create_user(
            organisation=organisations[account.organisation],
            email=account.email,
            name=account.name,
            role=account.role,
            password=DEMO_PASSWORD,
            must_change_password=False,
            totp_secret=account.totp_secret,
        )
        created += 1
    db.session.flush()
    therapists = {spec.brtn_number: _therapist(spec) for spec in THERAPISTS}
    for spec in PROGRAMMES:
        _programme(spec, organisations, therapists)
    db.session.flush()
    _need()
    load_demo_trajectories()
    return created


# The need in the Noordwijk programme's area, as an officer would enter it. Example figures,
# labelled so: not the municipality's own.
DEMO_NEED = dict(
    adult_residents=21_500,
    residents_source="Voorbeeldcijfer (demo), naar CBS Kerncijfers wijken en buurten",
    residents_year=_THIS_YEAR - 1,
    k10_low_percent=58.0,
    k10_moderate_percent=30.6,
    k10_high_percent=11.4,
    k10_source="Voorbeeldcijfer (demo), naar de GGD-gezondheidsmonitor",
    k10_year=2022,
    pc4_residents={2201: 6200, 2202: 5400, 2203: 3100, 2204: 2900, 2210: 2300, 2211: 1600},
    pc4_source="Voorbeeldcijfer (demo)",
    pc4_year=_THIS_YEAR - 1,
)


def _need() -> None:
    from referrals.services.uptake.reach import NeedInput, load_need, save_need

    programme = db.session.scalar(sa.select(Programme).where(Programme.name == PROGRAMMES[0].name))
    officer = db.session.scalar(sa.select(User).where(User.email == "welzijn@noordwijk.example"))
    if programme is None or officer is None or load_need(programme.id).adult_residents:
        return
    save_need(programme, NeedInput(**DEMO_NEED), actor=officer)


def _programme(
    spec: DemoProgramme,
    organisations: dict[str, Organisation],
    therapists: dict[str, Therapist],
) -> None:
    if db.session.scalar(sa.select(Programme.id).where(Programme.name == spec.name)):
        return
    coordinators = db.session.scalars(sa.select(User).where(User.email.in_(spec.coordinators)))
    create_programme(
        ProgrammeDetails(
            name=spec.name,
            funder=organisations[spec.funder],
            starts_on=spec.starts_on,
            ends_on=spec.ends_on,
            referrer_organisations=[organisations[key] for key in spec.referrers],
            coordinators=list(coordinators),
            postcode_areas=spec.postcode_areas,
            min_age=18,
            funded_places=spec.funded_places,
            trajectory_weeks=spec.weeks,
            supervised_sessions=spec.sessions,
            tariff_cents=spec.tariff_cents,
            questionnaires=[q.value for q in spec.questionnaires],
            therapists=[therapists[number] for number in spec.therapists],
            follow_up_months=spec.follow_up_months,
        )
    )
