"""What the access log page calls the objects its rows mention, loaded for a whole page at once.

Audit rows hold a table name and an id; the page names the object instead ("referral
RT-2026-000123", "report 'Programme', period"). One query per kind of object on the page (and
one for the participants' references), never one per row. Nothing is loaded that the page may
not show: references, names of programmes, groups, organisations, users, therapists and files,
report periods, questionnaire instruments and moments; never a participant's name, a score,
an attendance or a note.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import (
    AuditEvent,
    Offer,
    Organisation,
    Programme,
    QuestionnaireResponse,
    Referral,
    RegisterImport,
    Report,
    ReportJob,
    Therapist,
    TrainingGroup,
    TrainingSession,
    Trajectory,
    User,
)

# The audit log's own search rows name a user and a participant by id (`user=12`); the page
# names them too.
_USER_FILTER = re.compile(r"(?:^| )user=(\d+)(?= |$)")
_PARTICIPANT_FILTER = re.compile(r"(?:^| )(?:participant|name-matches)=([\d,]+)(?= |$)")


@dataclass(frozen=True)
class Named:
    """What the page may say about one object; fields a kind does not have stay None."""

    reference: str | None = None  # the referral's reference, for everything that belongs to one
    participant_id: int | None = None  # that referral's participant
    name: str | None = None  # programme, group, user, organisation, therapist, file
    kind: str | None = None  # reports: closing_letter or progress
    start: date | None = None
    end: date | None = None
    instrument: str | None = None
    moment: str | None = None


@dataclass
class AuditNames:
    """The names for one page: by (object type, object id as stored), and the reference of each
    participant the page mentions (their first referral's)."""

    objects: dict[tuple[str, str], Named] = field(default_factory=dict)
    references: dict[int, str] = field(default_factory=dict)

    def participants_shown(self) -> set[int]:
        """The participants whose reference these names show."""
        shown = {n.participant_id for n in self.objects.values() if n.participant_id}
        return shown | set(self.references)

    def of(self, object_type: str | None, object_id: str | int | None) -> Named | None:
        if object_type is None or object_id is None:
            return None
        return self.objects.get((object_type, str(object_id)))


def _reference_of(model) -> sa.Select:
    return sa.select(model.id, Referral.reference, Referral.participant_id).join(
        Referral, model.referral_id == Referral.id
    )


def _of_referral(row) -> Named:
    return Named(reference=row.reference, participant_id=row.participant_id)


def _programme_period(model) -> sa.Select:
    return sa.select(model.id, Programme.name, model.period_start, model.period_end).outerjoin(
        Programme, model.programme_id == Programme.id
    )


# One loader per object type: a query for (id, ...) and how a row becomes a Named.
_LOADERS = {
    "referrals": (
        lambda: sa.select(Referral.id, Referral.reference, Referral.participant_id),
        _of_referral,
    ),
    "offers": (
        lambda: _reference_of(Offer),
        _of_referral,
    ),
    "trajectories": (
        lambda: _reference_of(Trajectory),
        _of_referral,
    ),
    "questionnaire_responses": (
        lambda: (
            sa.select(
                QuestionnaireResponse.id,
                Referral.reference,
                Referral.participant_id,
                QuestionnaireResponse.instrument,
                QuestionnaireResponse.moment,
            )
            .join(QuestionnaireResponse.trajectory)
            .join(Trajectory.referral)
        ),
        lambda row: Named(
            reference=row.reference,
            participant_id=row.participant_id,
            instrument=row.instrument,
            moment=row.moment.value,
        ),
    ),
    "reports": (
        lambda: (
            sa.select(
                Report.id,
                Report.kind,
                Programme.name,
                Report.period_start,
                Report.period_end,
                Referral.reference,
                Referral.participant_id,
            )
            .outerjoin(Programme, Report.programme_id == Programme.id)
            .outerjoin(Trajectory, Report.trajectory_id == Trajectory.id)
            .outerjoin(Referral, Trajectory.referral_id == Referral.id)
        ),
        lambda row: Named(
            kind=row.kind.value,
            name=row.name,
            start=row.period_start,
            end=row.period_end,
            reference=row.reference,
            participant_id=row.participant_id,
        ),
    ),
    "report_jobs": (
        lambda: _programme_period(ReportJob),
        lambda row: Named(kind="progress", name=row[1], start=row[2], end=row[3]),
    ),
    "training_groups": (
        lambda: sa.select(TrainingGroup.id, TrainingGroup.name),
        lambda row: Named(name=row[1]),
    ),
    # The session's day is left out: with the participant it would tell when they had therapy.
    "training_sessions": (
        lambda: sa.select(TrainingSession.id, TrainingGroup.name).outerjoin(
            TrainingGroup, TrainingSession.group_id == TrainingGroup.id
        ),
        lambda row: Named(name=row[1], kind="group" if row[1] is not None else "individual"),
    ),
    "programmes": (lambda: sa.select(Programme.id, Programme.name), lambda row: Named(name=row[1])),
    "users": (lambda: sa.select(User.id, User.name), lambda row: Named(name=row[1])),
    "organisations": (
        lambda: sa.select(Organisation.id, Organisation.name),
        lambda row: Named(name=row[1]),
    ),
    "therapists": (lambda: sa.select(Therapist.id, Therapist.name), lambda row: Named(name=row[1])),
    "register_imports": (
        lambda: sa.select(RegisterImport.id, RegisterImport.filename),
        lambda row: Named(name=row[1]),
    ),
}
_ID_COLUMN = {
    "referrals": Referral.id,
    "offers": Offer.id,
    "trajectories": Trajectory.id,
    "questionnaire_responses": QuestionnaireResponse.id,
    "reports": Report.id,
    "report_jobs": ReportJob.id,
    "training_groups": TrainingGroup.id,
    "training_sessions": TrainingSession.id,
    "programmes": Programme.id,
    "users": User.id,
    "organisations": Organisation.id,
    "therapists": Therapist.id,
    "register_imports": RegisterImport.id,
}
_MAX_ID = 2**63 - 1


def _numbers(texts: Iterable[str]) -> set[int]:
    return {int(t) for t in texts if t.isascii() and t.isdigit() and int(t) <= _MAX_ID}


def _wanted(events: Iterable[AuditEvent]):
    ids: dict[str, set[int]] = defaultdict(set)
    participants = set()
    for event in events:
        if event.object_type in _LOADERS and event.object_id:
            ids[event.object_type].update(_numbers([event.object_id]))
        if event.participant_id:
            participants.add(event.participant_id)
        if event.object_type == "audit_log" and event.detail:
            ids["users"].update(_numbers(_USER_FILTER.findall(event.detail)))
            for found in _PARTICIPANT_FILTER.findall(event.detail):
                participants.update(_numbers(found.split(",")))
    return ids, participants


def audit_names(events: list[AuditEvent]) -> AuditNames:
    """The names of everything `events` mention: one query per kind of object among them, and
    one for the references of the participants they name."""
    ids, participants = _wanted(events)
    names = AuditNames()
    for object_type, wanted in sorted(ids.items()):
        if not wanted:
            continue
        query, make = _LOADERS[object_type]
        for row in db.session.execute(query().where(_ID_COLUMN[object_type].in_(wanted))):
            names.objects[(object_type, str(row[0]))] = make(row)
    if participants:
        rows = db.session.execute(
            sa.select(Referral.participant_id, Referral.reference)
            .where(Referral.participant_id.in_(participants))
            .order_by(Referral.id.desc())
        )
        names.references = {participant_id: reference for participant_id, reference in rows}
    return names
