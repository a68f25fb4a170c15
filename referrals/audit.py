"""record(): the one way to write an access-log row (NEN 7513)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from flask_login import current_user
from limits import parse

from referrals.extensions import db, limiter
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
    actor = _actor(actor)
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


def _actor(actor: User | None | object) -> User | None:
    if actor is CURRENT_USER:
        actor = None
        if has_request_context() and current_user.is_authenticated:
            actor = current_user._get_current_object()
    return actor


def record_many(
    action: AuditAction,
    shown: Iterable[tuple[object, int | None]],
    *,
    actor: User | None | object = CURRENT_USER,
    detail: str | None = None,
) -> int:
    """One row per (object, participant id) pair in `shown`, all with the same action, actor,
    time and detail, written in one INSERT with a fixed number of parameters: a list page
    logs each participant it shows (as record() would, row for row) at the cost of one
    statement. Objects are model instances (their table name and id are taken) or
    (table name, id) pairs, for rows changed in bulk without loading them. Returns the
    number of rows; the caller's commit makes them permanent, its rollback undoes them."""
    pairs = [
        (
            *(
                (obj[0], str(obj[1]))
                if isinstance(obj, tuple)
                else (obj.__table__.name, str(obj.id))
            ),
            participant_id,
        )
        for obj, participant_id in shown
    ]
    if not pairs:
        return 0
    actor = _actor(actor)
    table = AuditEvent.__table__
    common = {
        "occurred_at": utcnow(),
        "user_id": actor.id if actor else None,
        "user_role": actor.role.value if actor else None,
        "organisation_id": actor.organisation_id if actor else None,
        "action": action,
        "ip_address": client_address(),
        "detail": detail[:255] if detail else None,
    }
    if db.session.get_bind().dialect.name == "postgresql":
        # INSERT ... SELECT over three arrays: the same statement and parameters for 1 or 500
        # rows, so PostgreSQL plans it once per connection.
        from sqlalchemy.dialects.postgresql import ARRAY

        types, ids, participants = (list(column) for column in zip(*pairs, strict=True))
        unnested = [
            sa.func.unnest(sa.bindparam(name, values, type_=ARRAY(type_))).label(name)
            for name, values, type_ in (
                ("object_type", types, sa.String),
                ("object_id", ids, sa.String),
                ("participant_id", participants, sa.Integer),
            )
        ]
        constants = [
            sa.literal(value, table.c[name].type).label(name) for name, value in common.items()
        ]
        select = sa.select(*constants, *unnested)
        db.session.execute(
            sa.insert(table).from_select(
                [*common, "object_type", "object_id", "participant_id"], select
            )
        )
    else:  # SQLite is in the process: executemany is as cheap
        db.session.execute(
            sa.insert(table),
            [
                {**common, "object_type": t, "object_id": i, "participant_id": p}
                for t, i, p in pairs
            ],
        )
    return len(pairs)


# The URL arguments that name an object holding participant data, and its table.
PARTICIPANT_OBJECTS = {
    "referral_id": "referrals",
    "closed_referral_id": "referrals",
    "trajectory_id": "trajectories",
    "closed_trajectory_id": "trajectories",
    "offer_id": "offers",
    "session_id": "training_sessions",
    "group_id": "training_groups",
}


def record_refused_access(status: int) -> AuditEvent | None:
    """A logged-in user was refused (403) or not shown (404) a participant object named in the
    URL: one REFUSED row with the object's id, so that trying ids one after another shows in
    the log. At most REFUSED_ACCESS_LIMIT rows per user; the first refusal over it writes one
    row saying that more were not recorded, so that nobody can flood the log. The caller
    commits (the request's own changes are rolled back first: the answer is an error)."""
    if not (has_request_context() and current_user.is_authenticated):
        return None
    named = [(k, v) for k, v in (request.view_args or {}).items() if k in PARTICIPANT_OBJECTS]
    if not named:
        return None
    # The last one in the URL is the object asked for: /groups/1/members/7/remove names 7.
    argument, object_id = named[-1]
    if _within_refusal_limit():
        return record(
            AuditAction.REFUSED,
            object_type=PARTICIPANT_OBJECTS[argument],
            object_id=object_id,
            detail=f"{status} {request.endpoint}",
        )
    if _first_over_refusal_limit():
        return record(AuditAction.REFUSED, detail="more refusals in this period not recorded")
    return None


def _refusal_hit(namespace: str, amount: int | None = None) -> bool:
    item = parse(current_app.config["REFUSED_ACCESS_LIMIT"])
    if amount is not None:
        item = type(item)(amount, item.multiples)
    try:
        return limiter.limiter.hit(item, namespace, str(current_user.id))
    except Exception:  # the counter's store is away: log rather than lose the trace
        return namespace == "refused"


def _within_refusal_limit() -> bool:
    return _refusal_hit("refused")


def _first_over_refusal_limit() -> bool:
    return _refusal_hit("refused-over", amount=1)
