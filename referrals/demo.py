"""Demo organisations and accounts: two municipalities, two GP practices, every role.

Loading is idempotent: what already exists (by organisation code or e-mail) is left alone.
The TOTP secrets are fixed so a person can add them to an authenticator app once.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import Organisation, OrganisationKind, Role, User
from referrals.services import accounts

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
]


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
    return created
