"""Organisations and user accounts: creation, changes, deactivation."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask_babel import gettext as _
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.nl import brin

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    ROLES_BY_KIND,
    AuditAction,
    Organisation,
    OrganisationKind,
    Role,
    SessionEndReason,
    User,
    utcnow,
)
from referrals.services import ServiceError
from referrals.services.accounts.login_sessions import end_all_sessions, forget_login_failures
from referrals.services.accounts.passwords import hash_password

_EIGHT_DIGITS = re.compile(r"\d{8}")
_CBS_CODE = re.compile(r"GM\d{4}")


def normalise_organisation_code(kind: OrganisationKind, code: str | None) -> str | None:
    """Check and normalise the identifier an organisation of `kind` carries."""
    code = (code or "").strip().upper().replace(" ", "") or None
    if kind is OrganisationKind.OPERATOR:
        return None
    if code is None:
        if kind is OrganisationKind.GP_PRACTICE:
            raise ServiceError(_("A GP practice needs its AGB code."), "code")
        if kind is OrganisationKind.MUNICIPALITY:
            raise ServiceError(_("A municipality needs its CBS code, for example GM0575."), "code")
        return None
    if kind is OrganisationKind.MUNICIPALITY:
        if not _CBS_CODE.fullmatch(code):
            raise ServiceError(
                _("A CBS code is GM followed by 4 digits, for example GM0575."), "code"
            )
    elif kind is OrganisationKind.SCHOOL:
        try:
            code = brin.validate(code)
        except StdnumError:
            raise ServiceError(
                _("A BRIN code is 2 digits and 2 letters, e.g. 00AA."), "code"
            ) from None
    elif not _EIGHT_DIGITS.fullmatch(code):
        if kind is OrganisationKind.GP_PRACTICE:
            raise ServiceError(_("An AGB code has exactly 8 digits."), "code")
        raise ServiceError(_("This code must have exactly 8 digits (AGB or KvK number)."), "code")
    return code


def _check_code_unique(kind: OrganisationKind, code: str | None, exclude_id: int | None) -> None:
    if code is None:
        return
    query = sa.select(Organisation.id).where(Organisation.kind == kind, Organisation.code == code)
    if exclude_id is not None:
        query = query.where(Organisation.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise ServiceError(_("Another organisation of this kind already has this code."), "code")


def create_organisation(*, kind: OrganisationKind, name: str, code: str | None) -> Organisation:
    """Create an organisation after checking its code; audited."""
    code = normalise_organisation_code(kind, code)
    _check_code_unique(kind, code, None)
    organisation = Organisation(kind=kind, name=name.strip(), code=code, active=True)
    db.session.add(organisation)
    db.session.flush()
    audit.record(AuditAction.CREATE, obj=organisation)
    return organisation


def update_organisation(organisation: Organisation, *, name: str, code: str | None) -> Organisation:
    """Change name and code; the kind is fixed once created because users' roles depend on it."""
    code = normalise_organisation_code(organisation.kind, code)
    _check_code_unique(organisation.kind, code, organisation.id)
    organisation.name = name.strip()
    organisation.code = code
    db.session.flush()
    audit.record(AuditAction.UPDATE, obj=organisation)
    return organisation


def set_organisation_active(organisation: Organisation, active: bool) -> Organisation:
    """(De)activate an organisation; deactivating ends every session of its users at once."""
    organisation.active = active
    if not active:
        for user in organisation.users:
            end_all_sessions(user, SessionEndReason.DEACTIVATED)
    db.session.flush()
    audit.record(
        AuditAction.UPDATE, obj=organisation, detail="activated" if active else "deactivated"
    )
    return organisation


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _check_role_fits(organisation: Organisation, role: Role) -> None:
    if role not in ROLES_BY_KIND[organisation.kind]:
        raise ServiceError(_("This role does not exist in an organisation of this kind."), "role")


def _check_email_free(email: str, exclude_id: int | None) -> None:
    query = sa.select(User.id).where(User.email == email)
    if exclude_id is not None:
        query = query.where(User.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise ServiceError(_("Another account already uses this e-mail address."), "email")


def check_password_strength(password: str, min_length: int, field: str = "new_password") -> None:
    if len(password) < min_length:
        raise ServiceError(_("A password needs at least %(n)d characters.", n=min_length), field)


def create_user(
    *,
    organisation: Organisation,
    email: str,
    name: str,
    role: Role,
    password: str,
    must_change_password: bool = True,
    totp_secret: str | None = None,
) -> User:
    """Create an account. Without `totp_secret` the user enrols an authenticator at first login."""
    email = normalise_email(email)
    _check_role_fits(organisation, role)
    _check_email_free(email, None)
    now = utcnow()
    user = User(
        organisation=organisation,
        email=email,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
        password_changed_at=now,
        must_change_password=must_change_password,
        totp_secret=totp_secret,
        totp_confirmed_at=now if totp_secret else None,
        active=True,
    )
    db.session.add(user)
    db.session.flush()
    audit.record(AuditAction.CREATE, obj=user)
    return user


def update_user(user: User, *, email: str, name: str, role: Role) -> User:
    """Change an account's e-mail, name and role (the role must fit the organisation)."""
    email = normalise_email(email)
    _check_role_fits(user.organisation, role)
    _check_email_free(email, user.id)
    role_changed = user.role is not role
    user.email, user.name, user.role = email, name.strip(), role
    if role_changed:
        # Permissions hang on the role: make the user log in again under the new one.
        end_all_sessions(user, SessionEndReason.DEACTIVATED)
    db.session.flush()
    audit.record(AuditAction.UPDATE, obj=user, detail="role changed" if role_changed else None)
    return user


def deactivate_user(user: User, *, actor: User) -> User:
    """Deactivate an account and end all its sessions at once."""
    if user.id == actor.id:
        raise ServiceError(_("You cannot deactivate your own account."))
    user.active = False
    user.deactivated_at = utcnow()
    end_all_sessions(user, SessionEndReason.DEACTIVATED)
    db.session.flush()
    audit.record(AuditAction.UPDATE, obj=user, detail="deactivated")
    return user


def reactivate_user(user: User) -> User:
    user.active = True
    user.deactivated_at = None
    forget_login_failures(user)
    db.session.flush()
    audit.record(AuditAction.UPDATE, obj=user, detail="reactivated")
    return user


def reset_second_factor(user: User) -> User:
    """Forget the authenticator, so the user enrols a new one at the next login."""
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_counter = None
    end_all_sessions(user, SessionEndReason.SECOND_FACTOR_RESET)
    db.session.flush()
    audit.record(AuditAction.UPDATE, obj=user, detail="second factor reset")
    return user


def set_password_by_admin(user: User, password: str, min_length: int) -> User:
    """Give an account a temporary password, to be changed at the next login."""
    check_password_strength(password, min_length, field="password")
    user.password_hash = hash_password(password)
    forget_login_failures(user)
    user.password_changed_at = utcnow()
    user.must_change_password = True
    end_all_sessions(user, SessionEndReason.PASSWORD_CHANGE)
    db.session.flush()
    audit.record(AuditAction.UPDATE, obj=user, detail="password set by admin")
    return user
