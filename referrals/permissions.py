"""Who may do what: the Role enum, can_<verb>(user, obj) predicates and @roles_required."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user

from referrals.models import Role, User

__all__ = [
    "Role",
    "can_manage_accounts",
    "can_read_audit_log",
    "can_reject",
    "can_view_referral",
    "can_withdraw",
    "is_programme_coordinator",
    "roles_required",
]


def roles_required(*roles: Role) -> Callable:
    """Allow the view only to logged-in users with one of `roles`; others get 403.

    Anonymous users never reach a view: the app-wide login check redirects them first.
    """
    allowed = frozenset(roles)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated or current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = allowed
        return wrapped

    return decorator


def can_manage_accounts(user: User) -> bool:
    return user.is_authenticated and user.role is Role.ADMIN


def can_read_audit_log(user: User) -> bool:
    return user.is_authenticated and user.role is Role.ADMIN


def is_programme_coordinator(user: User, programme) -> bool:
    return user.role is Role.COORDINATOR and any(c.id == user.id for c in programme.coordinators)


def can_view_referral(user: User, referral) -> bool:
    """Referrers see their organisation's referrals; coordinators those in their programmes."""
    if not user.is_authenticated:
        return False
    if user.role is Role.REFERRER:
        return referral.referring_organisation_id == user.organisation_id
    if user.role is Role.COORDINATOR:
        return is_programme_coordinator(user, referral.programme)
    return False


def can_withdraw(user: User, referral) -> bool:
    return user.role is Role.REFERRER and can_view_referral(user, referral)


def can_reject(user: User, referral) -> bool:
    return user.role is Role.COORDINATOR and can_view_referral(user, referral)
