"""Who may do what. For each kind of tenanted object one module holds both the object predicate
and the query filter, so that a list and a detail page can never disagree:

- referrals: `can_view_referral` and `referrals_visible_to`, `referral_for`
- programmes: `can_view_figures` and `programmes_visible_to`, `programme_for`
- therapy (a therapist's own offers, trajectories, groups and sessions): `can_view_offer` and
  `offers_visible_to`, `offer_for`; likewise for trajectories, groups and sessions

`*_for(user, id)` loads through the filter and returns None for what the user may not see; the
views turn that into a 404. tests/test_permissions.py proves each predicate and its filter
agree, for users of every role in two tenants. `roles_required` guards whole views.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Flask, abort, current_app
from flask_login import current_user

from referrals.models import Role
from referrals.permissions.programmes import can_view_figures, programme_for, programmes_visible_to
from referrals.permissions.referrals import (
    can_follow,
    can_reject,
    can_triage,
    can_view_referral,
    can_withdraw,
    referral_for,
    referrals_visible_to,
)
from referrals.permissions.therapy import (
    can_view_group,
    can_view_offer,
    can_view_session,
    can_view_trajectory,
    closed_offer_state,
    group_for,
    groups_visible_to,
    offer_for,
    offers_visible_to,
    session_for,
    sessions_visible_to,
    trajectories_visible_to,
    trajectory_for,
)

__all__ = [
    "Role",
    "closed_offer_state",
    "can_follow",
    "can_reject",
    "can_triage",
    "can_view_figures",
    "can_view_group",
    "can_view_offer",
    "can_view_referral",
    "can_view_session",
    "can_view_trajectory",
    "can_withdraw",
    "group_for",
    "groups_visible_to",
    "offer_for",
    "offers_visible_to",
    "programme_for",
    "programmes_visible_to",
    "referral_for",
    "may_open",
    "referrals_visible_to",
    "register_template_predicates",
    "roles_required",
    "session_for",
    "sessions_visible_to",
    "trajectories_visible_to",
    "trajectory_for",
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


def may_open(endpoint: str) -> bool:
    """Whether the current user may open `endpoint`: the same rule `roles_required` enforces,
    so a link is shown exactly when following it would not give a 403."""
    if not current_user.is_authenticated:
        return False
    view = current_app.view_functions.get(endpoint)
    allowed = getattr(view, "allowed_roles", None)
    return view is not None and (allowed is None or current_user.role in allowed)


def register_template_predicates(app: Flask) -> None:
    """Templates ask the same predicates as the views, never `role == "..."`."""
    app.jinja_env.globals.update(
        may_open=may_open,
        can_follow=can_follow,
        can_triage=can_triage,
        can_withdraw=can_withdraw,
        can_reject=can_reject,
    )
