"""record(): the one way to write an access-log row (NEN 7513)."""

from __future__ import annotations

from flask import has_request_context, request
from flask_login import current_user

from referrals.extensions import db
from referrals.models import AuditAction, AuditEvent, User, utcnow

# The default actor of record(): whoever is logged in for this request.
CURRENT_USER = object()


def client_address() -> str | None:
    """The client's address as the WSGI server saw it (behind a proxy, configure ProxyFix)."""
    if not has_request_context():
        return None
    return (request.remote_addr or "")[:45] or None


def record(
    action: AuditAction,
    *,
    actor: User | None | object = CURRENT_USER,
    obj: object | None = None,
    object_type: str | None = None,
    object_id: object | None = None,
    participant_id: int | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """Add one audit row to the session; the caller's commit makes it permanent.

    The actor defaults to the logged-in user; `actor=None` records the system (a worker, an
    automatic step) so that nobody is credited with what they did not do. The object may be
    given as a model instance (its table name and id are taken) or as an explicit type and id.
    `detail` must never hold health data or a participant's identity: it is for filters,
    reasons and the like.
    """
    if actor is CURRENT_USER:
        actor = None
        if has_request_context() and current_user.is_authenticated:
            actor = current_user._get_current_object()
    if obj is not None:
        object_type = object_type or obj.__table__.name
        object_id = object_id if object_id is not None else obj.id
    event = AuditEvent(
        occurred_at=utcnow(),
        user_id=actor.id if actor else None,
        user_role=actor.role.value if actor else None,
        organisation_id=actor.organisation_id if actor else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        participant_id=participant_id,
        ip_address=client_address(),
        detail=detail[:255] if detail else None,
    )
    db.session.add(event)
    return event
