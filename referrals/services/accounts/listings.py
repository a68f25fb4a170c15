"""What the operator's admin pages list: organisations, users, programmes, the therapist
register, and the choices their forms offer. Admin only, and no participant data here."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, selectinload

from referrals.extensions import db
from referrals.models import (
    ROLES_BY_KIND,
    Organisation,
    OrganisationKind,
    Programme,
    RegisterImport,
    Role,
    Therapist,
    User,
    programme_referrers,
)
from referrals.services import page_of

REFERRER_KINDS = frozenset(kind for kind, roles in ROLES_BY_KIND.items() if Role.REFERRER in roles)


def organisations_page(
    kind: OrganisationKind | None, page: int, size: int
) -> tuple[list[tuple[Organisation, int]], bool, int]:
    """One page of the organisations by kind and name, each with its number of accounts;
    whether a next page follows; how many organisations match."""
    accounts = (
        sa.select(sa.func.count(User.id))
        .where(User.organisation_id == Organisation.id)
        .correlate(Organisation)
        .scalar_subquery()
    )
    query = sa.select(Organisation, accounts).order_by(
        Organisation.kind, Organisation.name, Organisation.id
    )
    counted = sa.select(sa.func.count()).select_from(Organisation)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
        counted = counted.where(Organisation.kind == kind)
    rows = db.session.execute(query.offset((page - 1) * size).limit(size + 1)).all()
    return [tuple(row) for row in rows[:size]], len(rows) > size, db.session.scalar(counted)


def all_organisations(*, active_only: bool = False) -> list[Organisation]:
    query = sa.select(Organisation).order_by(Organisation.name)
    if active_only:
        query = query.where(Organisation.active)
    return list(db.session.scalars(query))


def users_page(
    *, organisation_id: int | None, role: Role | None, page: int, size: int
) -> tuple[list[User], bool, int]:
    """One page of the accounts by organisation and name; whether a next page follows; how
    many accounts match."""
    query = (
        sa.select(User)
        .join(User.organisation)
        .order_by(Organisation.name, User.name, User.id)
        .options(contains_eager(User.organisation))
    )
    counted = sa.select(sa.func.count()).select_from(User)
    if organisation_id:
        query = query.where(User.organisation_id == organisation_id)
        counted = counted.where(User.organisation_id == organisation_id)
    if role is not None:
        query = query.where(User.role == role)
        counted = counted.where(User.role == role)
    rows, has_next = page_of(query, page, size)
    return rows, has_next, db.session.scalar(counted)


def programmes_page(page: int, size: int) -> tuple[list[tuple[Programme, int]], bool, int]:
    """One page of the programmes by name, each with its funder loaded and its number of
    referring organisations counted in the same query; whether a next page follows; how many
    programmes there are."""
    referrers = (
        sa.select(sa.func.count())
        .select_from(programme_referrers)
        .where(programme_referrers.c.programme_id == Programme.id)
        .correlate(Programme)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(Programme, referrers)
        .join(Programme.funder)
        .options(contains_eager(Programme.funder))
        .order_by(Programme.name, Programme.id)
        .offset((page - 1) * size)
        .limit(size + 1)
    ).all()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Programme))
    return [tuple(row) for row in rows[:size]], len(rows) > size, total


def register() -> list[Therapist]:
    """The whole therapist register, by name, with the linked accounts."""
    return list(
        db.session.scalars(
            sa.select(Therapist).order_by(Therapist.name).options(selectinload(Therapist.user))
        )
    )


def register_page(page: int, size: int) -> tuple[list[Therapist], bool, int]:
    """One page of the register by name (then id), whether a next page follows, and how many
    therapists it holds: some hundreds nationally, so numbered pages are cheap."""
    query = (
        sa.select(Therapist)
        .order_by(Therapist.name, Therapist.id)
        .options(selectinload(Therapist.user).selectinload(User.organisation))
    )
    rows, has_next = page_of(query, page, size)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Therapist))
    return rows, has_next, total


def register_imports(limit: int) -> list[RegisterImport]:
    """The latest uploaded register files, newest first."""
    query = sa.select(RegisterImport).order_by(RegisterImport.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def choosable_organisations(kinds, keep_ids: list[int]) -> list[Organisation]:
    """Active organisations of `kinds`, and those already chosen even if deactivated."""
    return list(
        db.session.scalars(
            sa.select(Organisation)
            .where(Organisation.kind.in_(kinds))
            .where(sa.or_(Organisation.active, Organisation.id.in_(keep_ids)))
            .order_by(Organisation.name)
        )
    )


def choosable_coordinators(keep_ids: list[int]) -> list[User]:
    """Active coordinators of active organisations, and those already chosen."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(User.organisation)
            .where(User.role == Role.COORDINATOR)
            .where(sa.or_(sa.and_(User.active, Organisation.active), User.id.in_(keep_ids)))
            .order_by(User.name)
            .options(contains_eager(User.organisation))
        )
    )


def by_ids(model, ids: list[int]) -> list:
    """The rows of `model` with these ids (the members a form chose)."""
    return list(db.session.scalars(sa.select(model).where(model.id.in_(ids))))
