"""Keyword-only helpers that make valid objects through the services."""

from __future__ import annotations

import itertools

import pyotp

from referrals.extensions import db
from referrals.models import ROLES_BY_KIND, Organisation, OrganisationKind, Role, User
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
