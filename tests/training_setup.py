"""Shared set-up for the groups, session and plan tests: a therapist with participants."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta

import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import TrainingGroup, Trajectory, User, Weekday, local_today
from referrals.services.referrals import offers
from referrals.services.trajectories import record_intake
from tests import factories

INTAKE_DAYS_AGO = 28
NAMES = ("Femke", "Daan", "Noor", "Bram", "Lotte", "Sem", "Julia", "Luuk", "Tess", "Milan")


@dataclass
class Practice:
    user: User
    therapist: object
    programme: object
    coordinator: User
    referrer: User
    trajectories: list[Trajectory] = field(default_factory=list)

    def participant(self, *, intake: bool = True) -> Trajectory:
        """One more accepted referral of this therapist, with the intake recorded."""
        n = len(self.trajectories)
        referral = factories.make_referral(
            programme=self.programme,
            referrer=self.referrer,
            first_name=NAMES[n % len(NAMES)],
            last_name=f"Achternaam{n}",
            postcode=f"22{10 + n} AB",
        )
        offers.accept_offer(
            offers.offer_referral(referral, self.therapist, actor=self.coordinator),
            actor=self.user,
        )
        trajectory = db.session.scalars(
            sa.select(Trajectory).where(Trajectory.referral_id == referral.id)
        ).one()
        if intake:
            record_intake(
                trajectory,
                actor=self.user,
                intake_on=local_today() - timedelta(days=INTAKE_DAYS_AGO),
                can_walk_min=40,
                can_run_min=1,
                remarks="",
                template="standard",
            )
        self.trajectories.append(trajectory)
        db.session.commit()
        return trajectory

    def group(self, *members: Trajectory, name: str = "Dinsdaggroep", max_size: int = 8):
        group = TrainingGroup(
            therapist=self.therapist,
            name=name,
            weekday=Weekday.TUESDAY,
            starts_at=time(9, 30),
            meeting_place="Ingang Vondelpark",
            max_size=max_size,
            members=list(members),
        )
        db.session.add(group)
        db.session.commit()
        return group


def make_practice(*, participants: int = 0) -> Practice:
    world = factories.make_world(therapist_name="Eva Smit", capacity=30)
    practice = Practice(
        world.therapist_user, world.therapist, world.programme, world.coordinator, world.gp
    )
    for _ in range(participants):
        practice.participant()
    db.session.commit()
    return practice
