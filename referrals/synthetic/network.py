"""The synthetic data set's organisations and people: per programme a municipality (the funder,
whose social team refers too), five GP practices with a referrer each, and a therapist practice
with its therapists (8, or 40 in the first and largest programme)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import Organisation, OrganisationKind, Programme, Role, Therapist, User


class Ids:
    """Explicit ids after what the table holds already."""

    def __init__(self):
        self.next: dict[type, int] = {}

    def take(self, model) -> int:
        if model not in self.next:
            current = db.session.scalar(sa.select(sa.func.max(model.id))) or 0
            self.next[model] = current + 1
        value = self.next[model]
        self.next[model] += 1
        return value


@dataclass
class Network:
    """Rows to insert, and who belongs to which programme (by position in `programme_rows`)."""

    organisations: list
    users: list
    programme_rows: list
    therapists: list
    referrer_links: list
    therapist_links: list
    programme_referrer_ids: list
    programme_therapist_ids: list
    therapist_user: dict

    def parts(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__dataclass_fields__)


def build_network(
    programmes: int, *, rng: random.Random, ids: Ids, today: date, period_start: date, now: datetime
) -> Network:
    """The rows of the programmes and everyone in them, drawn from `rng` in a fixed order."""
    organisations, users, programme_rows, therapists = [], [], [], []
    referrer_links, therapist_links = [], []
    programme_referrer_ids: list[list[tuple[int, int]]] = []  # (organisation, user) per programme
    programme_therapist_ids: list[list[int]] = []
    therapist_user: dict[int, int] = {}
    code_base = ids.take(Organisation) * 10  # unique codes next to existing ones
    for p in range(programmes):
        municipality_id = ids.take(Organisation)
        organisations.append(
            dict(
                id=municipality_id,
                kind=OrganisationKind.MUNICIPALITY,
                name=f"Gemeente Synthetisch {p + 1}",
                code=f"GM{(code_base + p) % 10000:04d}" if p < 9000 else None,
            )
        )
        programme_id = ids.take(Programme)
        programme_rows.append(
            dict(
                id=programme_id,
                name=f"Runningtherapie synthetisch {p + 1}",
                funder_id=municipality_id,
                starts_on=period_start,
                ends_on=None,
                funded_places=rng.randint(20, 400) if p else 1200,
                trajectory_weeks=12,
                supervised_sessions=12,
                tariff_cents=rng.choice([3500, 4000, 4500, 5000]),
                questionnaires=["mhc_sf", "k10"],
            )
        )
        pairs = []
        # Five GP practices and the municipality's social team refer.
        for g in range(6):
            if g < 5:
                organisation_id = ids.take(Organisation)
                organisations.append(
                    dict(
                        id=organisation_id,
                        kind=OrganisationKind.GP_PRACTICE,
                        name=f"Huisartsenpraktijk Synthetisch {p + 1}-{g + 1}",
                        code=f"{90000000 + code_base + p * 5 + g:08d}"[-8:],
                    )
                )
            else:
                organisation_id = municipality_id
            user_id = ids.take(User)
            users.append(
                dict(
                    id=user_id,
                    organisation_id=organisation_id,
                    email=f"verwijzer-{user_id}@synthetisch.invalid",
                    name=f"Verwijzer {user_id}",
                    role=Role.REFERRER,
                    password_hash="!synthetic",  # noqa: S106 - no valid hash: no login
                    password_changed_at=now,
                )
            )
            referrer_links.append(dict(programme_id=programme_id, organisation_id=organisation_id))
            pairs.append((organisation_id, user_id))
        programme_referrer_ids.append(pairs)
        practice_id = ids.take(Organisation)
        organisations.append(
            dict(
                id=practice_id,
                kind=OrganisationKind.THERAPIST_PRACTICE,
                name=f"Runningtherapie Synthetisch {p + 1}",
                code=None,
            )
        )
        team = []
        for _ in range(8 if p else 40):
            user_id, therapist_id = ids.take(User), ids.take(Therapist)
            users.append(
                dict(
                    id=user_id,
                    organisation_id=practice_id,
                    email=f"therapeut-{user_id}@synthetisch.invalid",
                    name=f"Therapeut {user_id}",
                    role=Role.THERAPIST,
                    password_hash="!synthetic",  # noqa: S106 - no valid hash: no login
                    password_changed_at=now,
                )
            )
            therapists.append(
                dict(
                    id=therapist_id,
                    brtn_number=f"SY{therapist_id:07d}",
                    name=f"Therapeut {user_id}",
                    registered_until=today + timedelta(days=365),
                    postcode="2201 AB",
                    user_id=user_id,
                    capacity=rng.randint(8, 40),
                    active_participants=0,
                    languages=["nl"],
                    weekdays=["tue", "thu"],
                )
            )
            therapist_links.append(dict(programme_id=programme_id, therapist_id=therapist_id))
            therapist_user[therapist_id] = user_id
            team.append(therapist_id)
        programme_therapist_ids.append(team)

    return Network(
        organisations,
        users,
        programme_rows,
        therapists,
        referrer_links,
        therapist_links,
        programme_referrer_ids,
        programme_therapist_ids,
        therapist_user,
    )
