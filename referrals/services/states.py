"""The referral state machine: its table of transitions, and the one function that moves a
referral along it. Intake, offers, training sessions and closing all change a referral's state
through `apply_transition`; views ask `allows` whether an action is possible now.

    submitted -> offered -> accepted -> active -> completed
    accepted | active -> dropped_out
    offered -> (declined | expired) -> submitted
    submitted -> rejected;  submitted | offered -> withdrawn

Each transition is one conditional UPDATE (`WHERE state IN (...)`), so of two simultaneous
attempts exactly one succeeds, on SQLite and PostgreSQL alike; it records the event and an
audit row.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from referrals import audit
from referrals.extensions import db
from referrals.labels import STATE_LABELS
from referrals.models import AuditAction, Referral, ReferralEvent, ReferralState, User, utcnow
from referrals.services import ServiceError


class TransitionRefused(ServiceError):
    """The referral's state does not allow this change (any more)."""


def record_event(referral, actor, from_state, to_state, *, reason, note) -> ReferralEvent:
    """The referral's history line (which the referrer reads): who moved it, when and why."""
    event = ReferralEvent(
        referral=referral,
        occurred_at=utcnow(),
        actor=actor,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        note=note,
    )
    db.session.add(event)
    return event


# Transition name -> (states it may start from, state it leads to).
TRANSITIONS: dict[str, tuple[frozenset[ReferralState], ReferralState]] = {
    "withdraw": (
        frozenset({ReferralState.SUBMITTED, ReferralState.OFFERED}),
        ReferralState.WITHDRAWN,
    ),
    "reject": (frozenset({ReferralState.SUBMITTED}), ReferralState.REJECTED),
    "offer": (frozenset({ReferralState.SUBMITTED}), ReferralState.OFFERED),
    "accept": (frozenset({ReferralState.OFFERED}), ReferralState.ACCEPTED),
    "decline": (frozenset({ReferralState.OFFERED}), ReferralState.SUBMITTED),
    "expire": (frozenset({ReferralState.OFFERED}), ReferralState.SUBMITTED),
    # The first session the participant attends makes the referral active.
    "start": (frozenset({ReferralState.ACCEPTED}), ReferralState.ACTIVE),
    # Closing a trajectory: completed (also when moving on to regular sport) or dropped out.
    "complete": (frozenset({ReferralState.ACTIVE}), ReferralState.COMPLETED),
    "drop_out": (
        frozenset({ReferralState.ACCEPTED, ReferralState.ACTIVE}),
        ReferralState.DROPPED_OUT,
    ),
}

REFUSALS = {
    "withdraw": lambda state: _(
        "Withdrawing is no longer possible: this referral now has the state '%(state)s'.",
        state=state,
    ),
    "reject": lambda state: _(
        "Rejecting is no longer possible: this referral now has the state '%(state)s'.",
        state=state,
    ),
    "offer": lambda state: _(
        "Offering is not possible: this referral now has the state '%(state)s'.", state=state
    ),
    "accept": lambda state: _(
        "Accepting is no longer possible: this referral now has the state '%(state)s'.",
        state=state,
    ),
    "decline": lambda state: _(
        "Declining is no longer possible: this referral now has the state '%(state)s'.",
        state=state,
    ),
    "expire": lambda state: _(
        "This offer can no longer expire: the referral now has the state '%(state)s'.",
        state=state,
    ),
    "start": lambda state: _(
        "The trajectory cannot start: the referral now has the state '%(state)s'.", state=state
    ),
    "complete": lambda state: _(
        "Completing is not possible: the referral has the state '%(state)s'; a trajectory"
        " completes after at least one attended session.",
        state=state,
    ),
    "drop_out": lambda state: _(
        "Closing as dropped out is not possible: the referral now has the state '%(state)s'.",
        state=state,
    ),
}


def apply_transition(
    referral: Referral, name: str, actor: User, *, reason=None, note=None, **values
):
    """Move `referral` along transition `name`, atomically; refuse with a clear message."""
    allowed_from, to_state = TRANSITIONS[name]
    from_state = referral.state
    result = db.session.execute(
        sa.update(Referral)
        .where(Referral.id == referral.id, Referral.state.in_(allowed_from))
        .values(state=to_state, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(referral)
    if result.rowcount != 1:
        raise TransitionRefused(REFUSALS[name](STATE_LABELS[referral.state]))
    record_event(referral, actor, from_state, to_state, reason=reason, note=note)
    audit.record(
        AuditAction.UPDATE,
        actor=actor,
        obj=referral,
        participant_id=referral.participant_id,
        detail=f"{name}: {from_state.value} -> {to_state.value}",
    )
    db.session.flush()
    return referral


def apply_transition_many(
    referral_ids: list[int], name: str, actor: User | None, *, reason=None
) -> list[tuple[int, int]]:
    """apply_transition for many referrals at once, in a fixed number of statements: one
    conditional UPDATE moves those still in an allowed state (the others are left as they
    are, as apply_transition would refuse them), then their history lines and audit rows
    are written in one INSERT each. Returns (referral id, participant id) of those moved.
    The caller expires or reloads any Referral it holds (the session is not synchronised)."""
    if not referral_ids:
        return []
    allowed_from, to_state = TRANSITIONS[name]
    (from_state,) = allowed_from  # a bulk move records one from-state per transition
    now = utcnow()
    moved = db.session.execute(
        sa.update(Referral)
        .where(Referral.id.in_(referral_ids), Referral.state == from_state)
        .values(state=to_state, updated_at=now)
        .returning(Referral.id, Referral.participant_id)
        .execution_options(synchronize_session=False)
    ).all()
    if not moved:
        return []
    db.session.execute(
        sa.insert(ReferralEvent.__table__),
        [
            dict(
                referral_id=referral_id,
                occurred_at=now,
                actor_id=actor.id if actor else None,
                from_state=from_state,
                to_state=to_state,
                reason=reason,
                note=None,
            )
            for referral_id, _participant in moved
        ],
    )
    audit.record_many(
        AuditAction.UPDATE,
        [(("referrals", referral_id), participant_id) for referral_id, participant_id in moved],
        actor=actor,
        detail=f"{name}: {from_state.value} -> {to_state.value}",
    )
    return [tuple(row) for row in moved]


def allows(referral: Referral, name: str) -> bool:
    """Whether transition `name` may start from the referral's current state."""
    return referral.state in TRANSITIONS[name][0]
