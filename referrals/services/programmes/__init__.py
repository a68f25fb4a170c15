"""Programmes: creation and changes by administrators."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    ROLES_BY_KIND,
    AuditAction,
    Organisation,
    OrganisationKind,
    PostcodeArea,
    Programme,
    Questionnaire,
    Role,
    Therapist,
    User,
)
from referrals.services import ServiceError

FUNDER_KINDS = frozenset({OrganisationKind.MUNICIPALITY, OrganisationKind.FUNDER})
_AREA = re.compile(r"^(\d{4})(?:-(\d{4}))?$")


def parse_postcode_areas(text: str) -> list[tuple[int, int]]:
    """Read "2201-2204, 2211" into [(2201, 2204), (2211, 2211)]; refuse anything else."""
    areas = []
    text = re.sub(r"\s*-\s*", "-", text or "")
    for part in re.split(r"[,;\s]+", text):
        if not part:
            continue
        match = _AREA.match(part)
        if not match:
            raise ServiceError(
                _("'%(part)s' is not a PC4 code or range like 2201-2204.", part=part),
                "postcode_areas",
            )
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if low < 1000 or high < low:
            raise ServiceError(
                _("'%(part)s' is not a valid range of PC4 codes (1000-9999).", part=part),
                "postcode_areas",
            )
        areas.append((low, high))
    if not areas:
        raise ServiceError(_("Enter at least one PC4 code or range."), "postcode_areas")
    return sorted(set(areas))


@dataclass
class ProgrammeDetails:
    """What an administrator fills in for a programme."""

    name: str
    funder: Organisation
    starts_on: date
    ends_on: date | None
    referrer_organisations: list[Organisation]
    coordinators: list[User]
    postcode_areas: str
    min_age: int
    funded_places: int
    trajectory_weeks: int
    supervised_sessions: int
    tariff_cents: int
    questionnaires: list[str]
    therapists: list[Therapist] = field(default_factory=list)
    offer_deadline_days: int = 5
    auto_offer: bool = False
    follow_up_months: int | None = None


FOLLOW_UP_MONTHS = (None, 3, 6, 12)


def _check(details: ProgrammeDetails) -> list[tuple[int, int]]:
    if details.funder.kind not in FUNDER_KINDS:
        raise ServiceError(_("A funder is a municipality or a funder organisation."), "funder_id")
    if details.ends_on is not None and details.ends_on < details.starts_on:
        raise ServiceError(_("The end date lies before the start date."), "ends_on")
    for organisation in details.referrer_organisations:
        if Role.REFERRER not in ROLES_BY_KIND[organisation.kind]:
            raise ServiceError(
                _("%(name)s cannot refer.", name=organisation.name), "referrer_organisations"
            )
    for user in details.coordinators:
        if user.role is not Role.COORDINATOR:
            raise ServiceError(_("%(name)s is not a coordinator.", name=user.name), "coordinators")
    if details.follow_up_months not in FOLLOW_UP_MONTHS:
        raise ServiceError(_("Choose a follow-up from the list."), "follow_up_months")
    known = {q.value for q in Questionnaire}
    if not set(details.questionnaires) <= known:
        raise ServiceError(_("Unknown questionnaire."), "questionnaires")
    return parse_postcode_areas(details.postcode_areas)


def _apply(programme: Programme, details: ProgrammeDetails, areas: list[tuple[int, int]]) -> None:
    programme.name = details.name.strip()
    programme.funder = details.funder
    programme.starts_on = details.starts_on
    programme.ends_on = details.ends_on
    programme.referrer_organisations = list(details.referrer_organisations)
    programme.coordinators = list(details.coordinators)
    programme.therapists = list(details.therapists)
    programme.min_age = details.min_age
    programme.funded_places = details.funded_places
    programme.trajectory_weeks = details.trajectory_weeks
    programme.supervised_sessions = details.supervised_sessions
    programme.tariff_cents = details.tariff_cents
    programme.offer_deadline_days = details.offer_deadline_days
    programme.auto_offer = details.auto_offer
    programme.follow_up_months = details.follow_up_months
    programme.questionnaires = sorted(set(details.questionnaires))
    programme.postcode_areas = [PostcodeArea(pc4_from=low, pc4_to=high) for low, high in areas]


def create_programme(details: ProgrammeDetails) -> Programme:
    """Create a programme after checking its funder, members and postcode areas; audited."""
    areas = _check(details)
    programme = Programme(active=True)
    _apply(programme, details, areas)
    db.session.add(programme)
    db.session.flush()
    audit.record(AuditAction.CREATE, obj=programme)
    return programme


def update_programme(programme: Programme, details: ProgrammeDetails) -> Programme:
    areas = _check(details)
    _apply(programme, details, areas)
    db.session.flush()
    audit.record(AuditAction.UPDATE, obj=programme)
    return programme


def set_programme_active(programme: Programme, active: bool) -> Programme:
    """(De)activate a programme: a deactivated one takes no new referrals; referrals and
    trajectories already in it go on to their end."""
    programme.active = active
    db.session.flush()
    audit.record(AuditAction.UPDATE, obj=programme, detail="activated" if active else "deactivated")
    return programme
