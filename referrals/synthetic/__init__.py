"""A synthetic, realistic data set at national scale, for benchmarks (never for demos).

`flask synthetic-data --referrals 200000 --programmes 300` builds what every municipality's
programme would hold: organisations, referrers, therapists, participants, referrals in all
states, offers, trajectories with weekly group sessions and attendance, questionnaires at
intake and at the end, closings. The first programme is the largest (`largest` referrals, by
default 10,000); the others share the rest.

Rows go in with bulk INSERTs of explicit ids (a few seconds per 100,000 rows), not through the
services: nothing here is audited or notified, and no account can log in (the password hashes
are not valid argon2 hashes). Names are made up; no real person is in it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import (
    GROUP_MAX_SIZE,
    Attendance,
    DropoutReason,
    Moment,
    Offer,
    OfferState,
    Organisation,
    Outcome,
    Participant,
    Programme,
    QuestionnaireResponse,
    Referral,
    ReferralState,
    RegularSport,
    RejectionReason,
    SessionAttendance,
    Therapist,
    TrainingGroup,
    TrainingSession,
    Trajectory,
    User,
    Weekday,
    local_today,
    programme_referrers,
    programme_therapists,
)
from referrals.synthetic.network import Ids, build_network

SYNTHETIC_ADVICE = "Synthetisch advies: blijf twee keer per week hardlopen."
FIRST_NAMES = ["Anna", "Bram", "Cor", "Daan", "Eva", "Fleur", "Gijs", "Iris", "Joost", "Lotte"]
LAST_NAMES = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos"]
REASONS = ["stress", "burnout", "depression", "anxiety", "low_mood", "other"]
BATCH = 5000
# How referrals end up, roughly as in running-therapy programmes (1 in 7 to regular sport).
STATES = [
    (ReferralState.SUBMITTED, 4),
    (ReferralState.OFFERED, 3),
    (ReferralState.REJECTED, 4),
    (ReferralState.WITHDRAWN, 3),
    (ReferralState.ACCEPTED, 6),
    (ReferralState.ACTIVE, 20),
    ("completed", 35),
    ("regular_sport", 10),
    (ReferralState.DROPPED_OUT, 15),
]


@dataclass(frozen=True)
class Built:
    programmes: int
    referrals: int
    attendances: int
    largest_programme_id: int
    smallest_programme_id: int


def _insert(model_or_table, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        table = getattr(model_or_table, "__table__", model_or_table)
        db.session.execute(sa.insert(table), rows[start : start + BATCH])


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def build(
    *, referrals: int = 200_000, programmes: int = 300, largest: int = 10_000, seed: int = 2026
) -> Built:
    """Add the data set to the database (committed in batches by the caller's commit)."""
    if programmes < 1 or referrals < 1:
        raise ValueError("at least one programme and one referral")
    largest = min(largest, referrals)
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    ids = Ids()
    today = local_today()
    period_start = today - timedelta(days=2 * 365)
    now = datetime.now(UTC)

    network = build_network(
        programmes, rng=rng, ids=ids, today=today, period_start=period_start, now=now
    )
    (
        organisations,
        users,
        programme_rows,
        therapists,
        referrer_links,
        therapist_links,
        programme_referrer_ids,
        programme_therapist_ids,
        therapist_user,
    ) = network.parts()

    # Referrals: `largest` in the first programme, the rest spread over the others.
    # and the last one small (100), so benchmarks can compare the two ends.
    counts = [largest] + [0] * (programmes - 1)
    rest = referrals - largest
    if programmes > 2:
        counts[-1] = min(100, rest)
        rest -= counts[-1]
    for n in range(rest):
        counts[1 + n % (programmes - 2 if programmes > 2 else 1) if programmes > 1 else 0] += 1
    states, weights = zip(*STATES, strict=True)
    participants, referral_rows, offers, trajectories = [], [], [], []
    sessions: dict[tuple[int, date], int] = {}
    session_rows, attendance_rows, responses = [], [], []
    active_count: dict[int, int] = {}
    for p, count in enumerate(counts):
        programme_id = programme_rows[p]["id"]
        for _ in range(count):
            submitted = now - timedelta(days=rng.uniform(0, 700), minutes=rng.randint(0, 1440))
            state = rng.choices(states, weights)[0]
            organisation_id, referrer_id = rng.choice(programme_referrer_ids[p])
            participant_id, referral_id = ids.take(Participant), ids.take(Referral)
            participants.append(
                dict(
                    id=participant_id,
                    first_name=rng.choice(FIRST_NAMES),
                    last_name=rng.choice(LAST_NAMES),
                    date_of_birth=date(rng.randint(1950, 2006), rng.randint(1, 12), 15),
                    postcode=f"{rng.randint(1000, 9999)} AB",
                    phone="06 12345678",
                )
            )
            reached_offer = state not in (
                ReferralState.SUBMITTED,
                ReferralState.REJECTED,
                ReferralState.WITHDRAWN,
            )
            accepted = reached_offer and state is not ReferralState.OFFERED
            therapist_id = rng.choice(programme_therapist_ids[p]) if reached_offer else None
            # Nothing after now: an offer, an acceptance or a closing in the future would be
            # data no real installation has (and the dashboard would count it).
            offered_at = min(submitted + timedelta(hours=rng.uniform(2, 24 * 12)), now)
            accepted_at = min(offered_at + timedelta(hours=rng.uniform(1, 24 * 5)), now)
            first_session = (accepted_at + timedelta(days=rng.randint(3, 21))).date()
            if state in (ReferralState.ACCEPTED,) or first_session > today:
                first_session = None
            referral_state = {
                "completed": ReferralState.COMPLETED,
                "regular_sport": ReferralState.COMPLETED,
            }.get(state, state)
            if first_session is None and referral_state in (
                ReferralState.ACTIVE,
                ReferralState.COMPLETED,
            ):
                referral_state = ReferralState.ACCEPTED
                state = ReferralState.ACCEPTED
            weeks = 12
            closed_on = None
            if state in ("completed", "regular_sport", ReferralState.DROPPED_OUT):
                if first_session is None:
                    weeks = 0
                else:
                    weeks = 12 if state != ReferralState.DROPPED_OUT else rng.randint(1, 8)
                closed_on = (first_session or accepted_at.date()) + timedelta(weeks=weeks)
                if closed_on > today:
                    state = referral_state = ReferralState.ACTIVE
                    closed_on = None
            closed_at = None
            if referral_state in (ReferralState.REJECTED, ReferralState.WITHDRAWN):
                closed_at = min(submitted + timedelta(days=rng.uniform(1, 10)), now)
            elif closed_on is not None:
                closed_at = min(_at(closed_on), now)
            referral_rows.append(
                dict(
                    id=referral_id,
                    reference=f"SY-{referral_id:09d}",
                    programme_id=programme_id,
                    participant_id=participant_id,
                    referring_organisation_id=organisation_id,
                    referrer_id=referrer_id,
                    reasons=rng.sample(REASONS, rng.randint(1, 2)),
                    description="Synthetische verwijzing.",
                    preferred_form="either",
                    preferred_days=[],
                    consent_to_refer=True,
                    consent_share_progress=rng.random() < 0.8,
                    state=referral_state,
                    submitted_at=submitted,
                    closed_at=closed_at,
                    rejection_reason=RejectionReason.NOT_ELIGIBLE
                    if referral_state is ReferralState.REJECTED
                    else None,
                    therapist_id=therapist_id if accepted else None,
                )
            )
            if not reached_offer:
                continue
            offers.append(
                dict(
                    id=ids.take(Offer),
                    referral_id=referral_id,
                    therapist_id=therapist_id,
                    offered_at=offered_at,
                    deadline_at=offered_at + timedelta(days=7),
                    state=OfferState.ACCEPTED if accepted else OfferState.OPEN,
                    responded_at=accepted_at if accepted else None,
                )
            )
            if not accepted:
                continue
            trajectory_id = ids.take(Trajectory)
            outcome = {
                "completed": Outcome.COMPLETED,
                "regular_sport": Outcome.REGULAR_SPORT,
                ReferralState.DROPPED_OUT: Outcome.DROPPED_OUT,
            }.get(state)
            intake_on = accepted_at.date() + timedelta(days=2)
            trajectories.append(
                dict(
                    id=trajectory_id,
                    referral_id=referral_id,
                    programme_id=programme_id,
                    therapist_id=therapist_id,
                    started_at=accepted_at,
                    intake_on=min(intake_on, today),
                    can_walk_min=rng.randint(10, 60),
                    can_run_min=rng.randint(0, 3),
                    first_session_on=first_session,
                    closed_at=closed_at if outcome else None,
                    outcome=outcome,
                    dropout_reason=rng.choice(list(DropoutReason))
                    if outcome is Outcome.DROPPED_OUT
                    else None,
                    # As closing_trajectory asks: where they go on running, and the advice.
                    regular_sport=RegularSport.RUNNING_CLUB
                    if outcome is Outcome.REGULAR_SPORT
                    else None,
                    closing_note=SYNTHETIC_ADVICE
                    if outcome in (Outcome.COMPLETED, Outcome.REGULAR_SPORT)
                    else None,
                )
            )
            if outcome is None:
                active_count[therapist_id] = active_count.get(therapist_id, 0) + 1
            recorder = therapist_user[therapist_id]
            k10_before = rng.randint(16, 40)
            mhc_before = round(rng.uniform(1.0, 3.5), 2)
            for instrument, value in (("k10", k10_before), ("mhc_sf", mhc_before)):
                responses.append(
                    dict(
                        id=ids.take(QuestionnaireResponse),
                        trajectory_id=trajectory_id,
                        instrument=instrument,
                        moment=Moment.INTAKE,
                        taken_on=min(intake_on, today),
                        answers={},
                        score=value,
                        subscores={},
                        category=_k10_band(value) if instrument == "k10" else None,
                        recorded_by_id=recorder,
                    )
                )
            if outcome in (Outcome.COMPLETED, Outcome.REGULAR_SPORT):
                k10_after = max(10, k10_before - rng.randint(-3, 12))
                mhc_after = min(5.0, round(mhc_before + rng.uniform(-0.3, 1.2), 2))
                for instrument, value in (("k10", k10_after), ("mhc_sf", mhc_after)):
                    responses.append(
                        dict(
                            id=ids.take(QuestionnaireResponse),
                            trajectory_id=trajectory_id,
                            instrument=instrument,
                            moment=Moment.END,
                            taken_on=closed_on,
                            answers={},
                            score=value,
                            subscores={},
                            category=_k10_band(value) if instrument == "k10" else None,
                            recorded_by_id=recorder,
                        )
                    )
            if first_session is None:
                continue
            last = closed_on or min(today, first_session + timedelta(weeks=12))
            day, week = first_session, 1
            while day <= last and week <= weeks:
                key = (therapist_id, day)
                if key not in sessions:
                    sessions[key] = ids.take(TrainingSession)
                    session_rows.append(
                        dict(
                            id=sessions[key],
                            therapist_id=therapist_id,
                            held_on=day,
                            logged_by_id=recorder,
                        )
                    )
                status = rng.choices(list(Attendance), [85, 10, 5])[0] if week > 1 else None
                present = status in (None, Attendance.PRESENT)
                attendance_rows.append(
                    dict(
                        session_id=sessions[key],
                        trajectory_id=trajectory_id,
                        programme_id=programme_id,
                        held_on=day,
                        attendance=Attendance.PRESENT if present else status,
                        week_number=week,
                        planned_run_min=min(2 * week + 4, 30),
                        planned_total_min=40,
                        done_run_min=min(2 * week + 4, 30) if present else None,
                        done_total_min=40 if present else None,
                        borg=rng.randint(9, 15) if present else None,
                    )
                )
                day, week = day + timedelta(weeks=1), week + 1
    for row in therapists:
        row["active_participants"] = active_count.get(row["id"], 0)
        row["capacity"] = max(row["capacity"], row["active_participants"])
    groups = _groups(therapists, trajectories, session_rows, ids)
    _insert(Organisation, organisations)
    _insert(User, users)
    _insert(Programme, programme_rows)
    _insert(Therapist, therapists)
    _insert(programme_referrers, referrer_links)
    _insert(programme_therapists, therapist_links)
    _insert(Participant, participants)
    _insert(Referral, referral_rows)
    _insert(Offer, offers)
    _insert(TrainingGroup, groups)
    _insert(Trajectory, trajectories)
    _insert(TrainingSession, session_rows)
    _insert(SessionAttendance, attendance_rows)
    _insert(QuestionnaireResponse, responses)
    _fix_sequences()
    return Built(
        programmes,
        len(referral_rows),
        len(attendance_rows),
        programme_rows[0]["id"],
        programme_rows[-1]["id"],
    )


def _groups(
    therapists: list[dict], trajectories: list[dict], session_rows: list[dict], ids: Ids
) -> list[dict]:
    """One weekly group per therapist, holding (up to its size) their open trajectories and
    their sessions; the rest of their participants train individually."""
    weekdays = list(Weekday)[:5]
    groups, group_of, members = [], {}, {}
    for row in therapists:
        group_id = ids.take(TrainingGroup)
        group_of[row["id"]] = group_id
        groups.append(
            dict(
                id=group_id,
                therapist_id=row["id"],
                name=f"Groep {row['id']}",
                weekday=weekdays[row["id"] % len(weekdays)],
                starts_at=time(18 + row["id"] % 3, 30),
                meeting_place="Parkingang, bij de fietsenstalling",
                max_size=GROUP_MAX_SIZE,
            )
        )
    for row in trajectories:
        therapist_id = row["therapist_id"]
        if row["closed_at"] is None and members.get(therapist_id, 0) < GROUP_MAX_SIZE:
            row["group_id"] = group_of[therapist_id]
            members[therapist_id] = members.get(therapist_id, 0) + 1
        else:
            row["group_id"] = None
    for row in session_rows:
        row["group_id"] = group_of[row["therapist_id"]]
    return groups


def _k10_band(score: float) -> str:
    return "low" if score < 16 else "moderate" if score < 30 else "high"


def _fix_sequences() -> None:
    """PostgreSQL: move each id sequence past the ids written here."""
    if db.engine.dialect.name != "postgresql":
        return
    for model in (
        Organisation,
        User,
        Programme,
        Therapist,
        Participant,
        Referral,
        Offer,
        TrainingGroup,
        Trajectory,
        TrainingSession,
        SessionAttendance,
        QuestionnaireResponse,
    ):
        table = model.__tablename__  # our own table names, not input
        statement = (
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
            f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
        )
        db.session.execute(sa.text(statement))
