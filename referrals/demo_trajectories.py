"""Demo trajectories in the Noordwijk programme: referrals from De Duinen that Eva Smit runs.

Everything goes through the services, as a therapist's clicks would: the GP refers, the
coordinator offers, Eva accepts, records the intakes and the questionnaires, puts three
participants in "Dinsdaggroep Noordwijk", logs the weekly sessions and closes one trajectory
as completed (with consent, so a closing letter waits for the GP). One referral stays in the
coordinator's queue. Dates lie a few weeks back from the day the demo is loaded.

Before them lies a half year of earlier referrals from both GP practices that the coordinator
rejected or the GP withdrew, 6 to 9 a month: enough that the officer's month chart may show its
bars (a month with 1 to 4 is withheld as "<5").

The set is loaded once: when any of its participants exists, nothing is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import (
    LOCAL_ZONE,
    Attendance,
    Moment,
    Outcome,
    Participant,
    Programme,
    Referral,
    ReferralState,
    RejectionReason,
    Therapist,
    TrainingGroup,
    Trajectory,
    User,
    Weekday,
    local_today,
)
from referrals.services.closing import close_trajectory
from referrals.services.referrals.intake import (
    ParticipantDetails,
    ReferralDetails,
    reject_referral,
    submit_referral,
    withdraw_referral,
)
from referrals.services.referrals.offers import accept_offer, offer_referral
from referrals.services.trajectories import record_intake
from referrals.services.trajectories.groups import add_member, create_group
from referrals.services.trajectories.outcomes import record_response
from referrals.services.trajectories.training_sessions import (
    AttendanceEntry,
    log_session,
    planned_on,
)

PROGRAMME = "Runningtherapie op recept Noordwijk"
REFERRER = "huisarts@deduinen.example"
OTHER_REFERRER = "poh@hetbos.example"
COORDINATOR = "coordinator@noordwijk.example"
THERAPIST = "eva@runningtherapiekust.example"
GROUP_NAME = "Dinsdaggroep Noordwijk"
GROUP_SESSIONS = 4
CLOSING_ADVICE = (
    "Sluit aan bij de beginnersgroep van AV Noordwijk; twee keer per week 30 minuten "
    "hardlopen is een goed doel."
)

P, E, A = Attendance.PRESENT, Attendance.EXCUSED, Attendance.ABSENT


@dataclass(frozen=True)
class DemoParticipant:
    first_name: str
    last_name: str
    born: date
    postcode: str
    reasons: tuple[str, ...]
    description: str
    intake_days_ago: int | None  # None: still waiting in the coordinator's queue
    can_walk_min: int = 30
    can_run_min: int = 1
    # The group sessions, oldest first; empty: not in the group.
    attendance: tuple[Attendance, ...] = ()
    borg: int = 13
    k10: tuple[int, ...] = ()  # intake answers, 1-5
    mhc_sf: tuple[int, ...] = ()  # intake answers, 0-5
    closes: bool = False


# Names that occur nowhere else in the demo (accounts, therapists) or in the browser tests.
PARTICIPANTS = [
    DemoParticipant(
        "Ilse",
        "Vermeulen",
        date(1979, 3, 12),
        "2201 AD",
        ("stress", "low_mood"),
        "Piekert veel en slaapt onrustig sinds de scheiding; wil buiten bewegen.",
        intake_days_ago=40,
        attendance=(P, P, P, P),
        borg=13,
        k10=(3, 3, 2, 2, 3, 2, 3, 3, 2, 1),
        mhc_sf=(2, 3, 2, 1, 2, 1, 3, 2, 2, 3, 3, 2, 2, 2),
    ),
    DemoParticipant(
        "Bram",
        "Kuipers",
        date(1991, 11, 2),
        "2202 KA",
        ("burnout",),
        "Thuis met een burn-out, wil structuur in de week en weer conditie opbouwen.",
        intake_days_ago=38,
        can_walk_min=20,
        attendance=(P, E, P, P),
        borg=15,
        k10=(4, 3, 3, 3, 3, 2, 3, 4, 3, 2),
        mhc_sf=(1, 2, 1, 1, 1, 1, 2, 1, 2, 2, 2, 1, 1, 1),
    ),
    DemoParticipant(
        "Noor",
        "Hoekstra",
        date(1968, 7, 30),
        "2204 BN",
        ("low_mood",),
        "Sombere klachten na het overlijden van haar partner; komt weinig buiten.",
        intake_days_ago=36,
        attendance=(P, P, A, E),
        borg=12,
        k10=(3, 2, 2, 3, 2, 1, 4, 3, 3, 2),
        mhc_sf=(2, 2, 2, 1, 2, 1, 3, 2, 3, 3, 2, 2, 3, 2),
    ),
    DemoParticipant(
        "Gerrit",
        "Brouwer",
        date(1959, 1, 21),
        "2211 GB",
        ("stress", "low_mood"),
        "Gespannen en somber sinds zijn pensionering; wil een vaste bezigheid.",
        intake_days_ago=42,
        can_run_min=2,
        attendance=(P, P, P, P),
        borg=14,
        k10=(3, 3, 2, 2, 3, 2, 3, 3, 2, 2),
        mhc_sf=(2, 2, 2, 1, 2, 2, 3, 2, 2, 3, 3, 2, 2, 2),
        closes=True,
    ),
    DemoParticipant(
        "Yara",
        "Mol",
        date(1996, 5, 8),
        "2203 VM",
        ("stress",),
        "Veel spanning door studie en werk; heeft hardlopen eerder als ontspanning ervaren.",
        intake_days_ago=6,
        can_walk_min=40,
        can_run_min=3,
    ),
    DemoParticipant(
        "Tess",
        "Verbeek",
        date(1988, 9, 14),
        "2210 TV",
        ("low_mood", "burnout"),
        "Somberheid en uitputting na een lange ziekteperiode; wil rustig opbouwen.",
        intake_days_ago=None,
    ),
]
# The earlier referrals: made-up names that occur nowhere else, combined per month.
BACKLOG_MONTHS = 6
BACKLOG_FIRST_NAMES = (
    "Anouk",
    "Bas",
    "Cor",
    "Dewi",
    "Elif",
    "Floor",
    "Gijs",
    "Hanna",
    "Imre",
    "Joost",
)
BACKLOG_LAST_NAMES = ("van Dam", "Mulder", "Bosman", "de Ridder", "Kok", "Wijnen")
BACKLOG_POSTCODES = ("2201 BC", "2202 CD", "2203 EF", "2204 GH", "2211 JK")
BACKLOG_REASONS = (("stress",), ("low_mood",), ("burnout", "stress"), ("anxiety",))
WITHDRAW_REASON = "Kiest na overleg toch voor begeleiding door de POH-GGZ."

# What the completed trajectory's end questionnaires say: better than at the intake.
END_K10 = (2, 2, 1, 1, 2, 1, 2, 2, 1, 1)
END_MHC_SF = (4, 4, 3, 2, 3, 2, 4, 3, 4, 4, 4, 3, 3, 4)


@dataclass
class _Cast:
    referrer: User
    coordinator: User
    therapist: Therapist
    programme: Programme
    other_referrer: User | None = None

    @property
    def eva(self) -> User:
        return self.therapist.user


def demo_trajectories_exist() -> bool:
    names = [(p.first_name, p.last_name) for p in PARTICIPANTS]
    query = sa.select(Participant.id).where(
        sa.tuple_(Participant.first_name, Participant.last_name).in_(names)
    )
    return db.session.scalar(query.limit(1)) is not None


def load_demo_trajectories() -> int:
    """Add the demo referrals and trajectories unless they exist; returns referrals added."""
    if demo_trajectories_exist():
        return 0
    cast = _cast()
    if cast is None:
        return 0
    today = local_today()
    trajectories = {}
    for spec in PARTICIPANTS:
        referral = _refer(cast, spec)
        if spec.intake_days_ago is not None:
            trajectories[spec] = _accept_with_intake(cast, referral, spec, today)
        _backdate(referral, spec, today)
    members = [spec for spec in PARTICIPANTS if spec.attendance]
    group = create_group(
        cast.therapist,
        actor=cast.eva,
        name=GROUP_NAME,
        weekday=Weekday.TUESDAY,
        starts_at=time(18, 30),
        meeting_place="Parkeerplaats De Zuid, Noordwijk aan Zee",
        max_size=8,
    )
    for spec in members:
        add_member(group, trajectories[spec], actor=cast.eva)
    _log_group_sessions(cast, group, {spec: trajectories[spec] for spec in members}, today)
    for spec in PARTICIPANTS:
        if spec.closes:
            _complete(cast, trajectories[spec])
    return len(PARTICIPANTS) + _load_backlog(cast, today)


def _cast() -> _Cast | None:
    def user(email: str) -> User | None:
        return db.session.scalar(sa.select(User).where(User.email == email))

    therapist = db.session.scalar(sa.select(Therapist).join(User).where(User.email == THERAPIST))
    programme = db.session.scalar(sa.select(Programme).where(Programme.name == PROGRAMME))
    cast = _Cast(user(REFERRER), user(COORDINATOR), therapist, programme, user(OTHER_REFERRER))
    if None in (cast.referrer, cast.coordinator, cast.therapist, cast.programme):
        return None
    return cast


def _refer(cast: _Cast, spec: DemoParticipant, referrer: User | None = None) -> Referral:
    return submit_referral(
        referrer=referrer or cast.referrer,
        programme=cast.programme,
        participant=ParticipantDetails(
            first_name=spec.first_name,
            last_name=spec.last_name,
            date_of_birth=spec.born,
            postcode=spec.postcode,
            phone="06 98765432",
        ),
        details=ReferralDetails(
            reasons=list(spec.reasons),
            description=spec.description,
            preferred_form="group",
            preferred_days=["tue", "thu"],
            consent_to_refer=True,
            consent_share_progress=True,
        ),
    )


def _accept_with_intake(
    cast: _Cast, referral: Referral, spec: DemoParticipant, today: date
) -> Trajectory:
    offer = offer_referral(referral, cast.therapist, actor=cast.coordinator)
    accept_offer(offer, actor=cast.eva)
    trajectory = db.session.scalars(
        sa.select(Trajectory).where(Trajectory.referral_id == referral.id)
    ).one()
    intake_on = today - timedelta(days=spec.intake_days_ago)
    record_intake(
        trajectory,
        actor=cast.eva,
        intake_on=intake_on,
        can_walk_min=spec.can_walk_min,
        can_run_min=spec.can_run_min,
        remarks="",
        template="standard",
    )
    for key, answers in (("k10", spec.k10), ("mhc_sf", spec.mhc_sf)):
        if answers:
            _questionnaire(cast, trajectory, key, Moment.INTAKE, intake_on, answers)
    return trajectory


def _backdate(referral: Referral, spec: DemoParticipant, today: date) -> None:
    """The services stamp everything with the current time; a demo that has run for weeks
    needs its referral, offer and acceptance to lie before the intake: submitted 9 days
    before it, offered 2 days later, accepted the day after (a waiting referral: 2 days ago)."""
    days_back = (spec.intake_days_ago or 0) + 9 if spec.intake_days_ago is not None else 2
    submitted = datetime.combine(today - timedelta(days=days_back), time(10), LOCAL_ZONE)
    moments = {
        ReferralState.SUBMITTED: submitted,
        ReferralState.OFFERED: submitted + timedelta(days=2),
        ReferralState.ACCEPTED: submitted + timedelta(days=3),
    }
    referral.submitted_at = submitted
    for event in referral.events:
        if event.to_state in moments:
            event.occurred_at = moments[event.to_state]
    for offer in referral.offers:
        offer.offered_at = moments[ReferralState.OFFERED]
        offer.deadline_at = offer.offered_at + timedelta(days=7)
        if offer.responded_at is not None:
            offer.responded_at = moments[ReferralState.ACCEPTED]
    trajectory = db.session.scalar(
        sa.select(Trajectory).where(Trajectory.referral_id == referral.id)
    )
    if trajectory is not None:
        trajectory.started_at = moments[ReferralState.ACCEPTED]
    db.session.flush()


def _questionnaire(cast, trajectory, key: str, moment: Moment, taken_on: date, answers) -> None:
    record_response(
        trajectory,
        instrument_key=key,
        moment=moment,
        taken_on=taken_on,
        answers={n: value for n, value in enumerate(answers, start=1)},
        actor=cast.eva,
    )


def group_session_dates(today: date) -> list[date]:
    """The last GROUP_SESSIONS Tuesdays before today, oldest first."""
    last = today - timedelta(days=(today.weekday() - 1) % 7 or 7)
    return [last - timedelta(weeks=n) for n in reversed(range(GROUP_SESSIONS))]


def _log_group_sessions(
    cast: _Cast, group: TrainingGroup, members: dict[DemoParticipant, Trajectory], today: date
) -> None:
    for index, held_on in enumerate(group_session_dates(today)):
        entries = []
        for spec, trajectory in members.items():
            attendance = spec.attendance[index]
            entry = AttendanceEntry(trajectory=trajectory, attendance=attendance)
            if attendance is Attendance.PRESENT:
                planned = planned_on(trajectory, held_on)
                entry.done_run_min = planned.run_min
                entry.done_total_min = planned.total_min
                entry.borg = spec.borg - (1 if index == 3 else 0)
            entries.append(entry)
        log_session(cast.therapist, actor=cast.eva, held_on=held_on, entries=entries, group=group)


def _complete(cast: _Cast, trajectory: Trajectory) -> None:
    last_session = group_session_dates(local_today())[-1]
    _questionnaire(cast, trajectory, "k10", Moment.END, last_session, END_K10)
    _questionnaire(cast, trajectory, "mhc_sf", Moment.END, last_session, END_MHC_SF)
    close_trajectory(trajectory, actor=cast.eva, outcome=Outcome.COMPLETED, advice=CLOSING_ADVICE)


def _load_backlog(cast: _Cast, today: date) -> int:
    """The earlier referrals, month by month, each closed two days after it came in."""
    added = 0
    this_month = today.replace(day=1)
    for months_back in range(BACKLOG_MONTHS, 0, -1):
        year, month = divmod(this_month.year * 12 + this_month.month - 1 - months_back, 12)
        first_day = date(year, month + 1, 1)
        for n in range(6 + months_back % 4):
            number = months_back * 10 + n
            spec = DemoParticipant(
                BACKLOG_FIRST_NAMES[number % len(BACKLOG_FIRST_NAMES)],
                BACKLOG_LAST_NAMES[(number // len(BACKLOG_FIRST_NAMES)) % len(BACKLOG_LAST_NAMES)],
                date(1960 + number % 40, 1 + number % 12, 1 + number % 28),
                BACKLOG_POSTCODES[number % len(BACKLOG_POSTCODES)],
                BACKLOG_REASONS[number % len(BACKLOG_REASONS)],
                "Eerder verwezen; zie het verloop van de verwijzing.",
                intake_days_ago=None,
            )
            referrer = cast.other_referrer if n % 2 and cast.other_referrer else cast.referrer
            referral = _refer(cast, spec, referrer)
            if n % 3 == 2:
                withdraw_referral(referral, actor=referrer, reason=WITHDRAW_REASON)
            else:
                reason = RejectionReason.OTHER_CARE if n % 2 else RejectionReason.NOT_ELIGIBLE
                reject_referral(referral, actor=cast.coordinator, reason=reason)
            submitted = datetime.combine(first_day + timedelta(days=1 + 3 * n), time(9), LOCAL_ZONE)
            _backdate_closed(referral, submitted, submitted + timedelta(days=2))
            added += 1
    return added


def _backdate_closed(referral: Referral, submitted: datetime, closed: datetime) -> None:
    referral.submitted_at = submitted
    referral.closed_at = closed
    for event in referral.events:
        event.occurred_at = submitted if event.to_state is ReferralState.SUBMITTED else closed
    db.session.flush()
