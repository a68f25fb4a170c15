"""Closing a trajectory: the rules of an outcome, the check page before confirming, the
referral state, capacity, the letter (its text and its pages) and who may read it."""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from datetime import time, timedelta
from html import unescape
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from referrals.demo_trajectories import CLOSING_ADVICE
from referrals.extensions import db as database
from referrals.models import (
    Attendance,
    AuditAction,
    AuditEvent,
    Moment,
    Notification,
    NotificationKind,
    Outcome,
    QuestionnaireResponse,
    ReferralState,
    Report,
    Role,
    SessionAttendance,
    TrainingGroup,
    TrainingSession,
    Trajectory,
    Weekday,
    local_today,
)
from referrals.services import ServiceError
from referrals.services.closing import close_trajectory
from referrals.services.closing.check import closing_check, completed_minimum
from referrals.services.closing.closing_letter import (
    ClosingChoice,
    letter_params,
    render_closing_letter,
)
from referrals.services.referrals import offers
from referrals.services.states import apply_transition
from referrals.services.trajectories import record_intake
from tests import factories
from tests.helpers import text

NOTE = "Vertelde over ruzie thuis"  # a session note: never outside the therapist's view
ADVICE = "Blijf twee keer per week lopen met de hardloopgroep in het park."


@pytest.fixture
def world(db):
    base = factories.make_world(therapist_name="Eva Smit")
    base.gp.name = "Dr. Jansen"
    base.therapist.brtn_number = "778899"
    user, therapist = base.therapist_user, base.therapist
    referral = factories.make_referral(
        programme=base.programme, referrer=base.gp, first_name="Femke"
    )
    offers.accept_offer(
        offers.offer_referral(referral, therapist, actor=base.coordinator), actor=user
    )
    trajectory = db.session.scalars(sa.select(Trajectory)).one()
    record_intake(
        trajectory,
        actor=user,
        intake_on=local_today() - timedelta(days=80),
        can_walk_min=40,
        can_run_min=1,
        remarks="",
        template="standard",
    )
    db.session.commit()
    return SimpleNamespace(
        trajectory=trajectory,
        referral=referral,
        user=user,
        therapist=therapist,
        gp=base.gp,
        coordinator=base.coordinator,
        municipality=base.municipality,
    )


def log_session(w, attendance=Attendance.PRESENT, *, days_ago=70, run=None, week=None, note=None):
    session = TrainingSession(
        therapist_id=w.therapist.id,
        held_on=local_today() - timedelta(days=days_ago),
        logged_by_id=w.user.id,
    )
    present = attendance is Attendance.PRESENT
    database.session.add(session)
    database.session.add(
        SessionAttendance(
            session=session,
            held_on=session.held_on,
            trajectory=w.trajectory,
            attendance=attendance,
            week_number=week,
            done_run_min=run if present else None,
            done_total_min=(run + 20) if present and run is not None else None,
            note=note,
        )
    )


def add_score(w, moment: Moment, score: float, category: str, days_ago: int, instrument="k10"):
    database.session.add(
        QuestionnaireResponse(
            trajectory_id=w.trajectory.id,
            instrument=instrument,
            moment=moment,
            taken_on=local_today() - timedelta(days=days_ago),
            answers={},
            score=score,
            category=category,
            recorded_by_id=w.user.id,
        )
    )


def started(w, db):
    """The participant attended a first session: the referral is active."""
    apply_transition(w.referral, "start", w.user)
    log_session(w, run=1, week=1, note=NOTE)
    db.session.commit()


def full_trajectory(w, db, *, end_score: bool = True):
    """Five sessions, four attended on different days (the programme's 12 supervised sessions
    ask 4 to close as completed), one missed; K10 at the intake and (`end_score`) at the end."""
    started(w, db)
    log_session(w, days_ago=55, run=5, week=3)
    log_session(w, Attendance.ABSENT, days_ago=40, note=NOTE)
    log_session(w, days_ago=25, run=14, week=7)
    log_session(w, days_ago=10, run=23, week=11, note=NOTE)
    add_score(w, Moment.INTAKE, 31, "high", 80)
    if end_score:
        add_score(w, Moment.END, 17, "moderate", 5)
    db.session.commit()


COMPLETED = {"outcome": "completed", "advice": ADVICE}


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def close_url(w) -> str:
    return f"/trajectories/{w.trajectory.id}/close"


class _Page(HTMLParser):
    """Inside the element with one id (the whole page without one): its text, with a space at
    every tag, its hidden inputs and its checked radio buttons."""

    VOID = {"br", "input", "img", "meta", "hr", "link", "col"}

    def __init__(self, element_id: str | None):
        super().__init__(convert_charrefs=True)
        self.element_id, self.depth, self.parts = element_id, 0, []
        self.hidden, self.checked = {}, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.parts.append(" ")
        inside = self.depth or self.element_id is None
        if tag == "input" and inside:
            if attrs.get("type") == "hidden":
                self.hidden[attrs["name"]] = attrs.get("value") or ""
            elif attrs.get("type") == "radio" and "checked" in attrs:
                self.checked[attrs["name"]] = attrs.get("value") or ""
        if tag in self.VOID:
            return
        if self.depth:
            self.depth += 1
        elif self.element_id and attrs.get("id") == self.element_id:
            self.depth = 1

    def handle_endtag(self, tag):
        if self.depth and tag not in self.VOID:
            self.depth -= 1
            self.parts.append(" ")

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def parsed(html: str, element_id: str | None = None) -> _Page:
    page = _Page(element_id)
    page.feed(html)
    return page


def element_text(html: str, element_id: str) -> str:
    """The words of the element `element_id` on the page, whitespace folded; "" if absent."""
    return " ".join("".join(parsed(html, element_id).parts).split())


def hidden_fields(html: str) -> dict[str, str]:
    """The values the check page's form carries back (csrf_token too, when CSRF is on)."""
    return parsed(html, "closing-confirm").hidden


def field_error(html: str, field: str) -> str:
    return element_text(html, f"{field}-error")


def check_then_confirm(client, w, data: dict):
    """The two steps as a browser takes them: the form posts to the check page, whose hidden
    fields go back with confirm=1. Returns (check page, answer to confirming)."""
    check = client.post(close_url(w), data=data)
    assert check.status_code == 200, text(check)
    page = text(check)
    assert 'name="confirm" value="1"' in page, page
    return page, client.post(close_url(w), data={**hidden_fields(page), "confirm": "1"})


# Written by any request: the login session's last-seen time, and the access log itself.
BOOKKEEPING_TABLES = {"audit_events", "user_sessions"}


def snapshot(db) -> dict[str, list[tuple]]:
    """Every row of every table but the bookkeeping ones, in a stable order."""
    db.session.expire_all()
    tables = {}
    for table in database.metadata.sorted_tables:
        if table.name in BOOKKEEPING_TABLES:
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        rows = db.session.execute(sa.select(table).order_by(*order)).all()
        tables[table.name] = [tuple(map(str, row)) for row in rows]
    return tables


def changed_tables(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


@pytest.mark.parametrize(
    ("data", "state", "dutch_state"),
    [
        (COMPLETED, ReferralState.COMPLETED, "afgerond"),
        (
            {"outcome": "regular_sport", "regular_sport": "start_to_run"},
            ReferralState.COMPLETED,
            "afgerond",
        ),
        (
            {"outcome": "dropped_out", "dropout_reason": "injury_or_illness"},
            ReferralState.DROPPED_OUT,
            "uitgevallen",
        ),
    ],
)
def test_closing_sets_the_outcome_the_referral_state_and_frees_a_place(
    client, db, login_as, world, data, state, dutch_state
):
    full_trajectory(world, db)
    group = TrainingGroup(
        therapist_id=world.therapist.id,
        name="Dinsdagochtend",
        weekday=Weekday.TUESDAY,
        starts_at=time(9, 30),
        meeting_place="Park",
    )
    db.session.add(group)
    world.trajectory.group = group
    db.session.commit()
    places = world.therapist.active_participants
    assert places == 1
    login_as(user=world.user)

    page = text(client.get(close_url(world)))
    assert "Traject afsluiten" in page and "afsluitbrief" in page  # consent: a letter follows
    _check, response = check_then_confirm(client, world, data)

    assert response.status_code == 302
    assert response.headers["Location"] == f"/trajectories/{world.trajectory.id}"
    db.session.refresh(world.trajectory)
    db.session.refresh(world.referral)
    db.session.refresh(world.therapist)
    assert world.trajectory.is_closed and world.trajectory.outcome == Outcome(data["outcome"])
    assert world.trajectory.group_id is None
    assert world.referral.state is state and world.referral.closed_at is not None
    assert world.therapist.active_participants == places - 1
    page = text(client.get(f"/trajectories/{world.trajectory.id}"))
    assert "Het traject is afgesloten." in page
    assert dutch_state in page and "Afgesloten op" in page
    assert "Traject afsluiten" not in page
    # The inbox no longer lists the participant as running, but under the closed trajectories.
    inbox = text(client.get("/offers"))
    assert "Afgesloten trajecten" in inbox
    assert f'href="/trajectories/{world.trajectory.id}"' in inbox.split("Afgesloten trajecten")[1]


def test_capacity_never_goes_below_zero(db, world):
    full_trajectory(world, db)
    world.therapist.active_participants = 0
    db.session.commit()
    close_trajectory(world.trajectory, actor=world.user, outcome=Outcome.COMPLETED, advice=ADVICE)
    db.session.refresh(world.therapist)
    assert world.therapist.active_participants == 0


def assert_nothing_closed(db, w, state=ReferralState.ACTIVE):
    db.session.expire_all()
    assert not db.session.get(Trajectory, w.trajectory.id).is_closed
    assert w.referral.state is state
    assert w.therapist.active_participants == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 0
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.kind == NotificationKind.TRAJECTORY_CLOSED)
        )
        == 0
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "outcome", "Kies hoe het traject is geëindigd."),
        ({"outcome": "dropped_out"}, "dropout_reason", "Kies waarom de deelnemer is gestopt."),
        (
            {"outcome": "dropped_out", "dropout_reason": ""},
            "dropout_reason",
            "Kies waarom de deelnemer is gestopt.",
        ),
        ({"outcome": "regular_sport"}, "regular_sport", "Kies waar de deelnemer verder gaat"),
        ({"outcome": "dropped_out", "dropout_reason": "other"}, "advice", "Andere reden"),
        # WTForms' own message, in Dutch from its catalogue
        ({"outcome": "finished"}, "outcome", "Ongeldige keuze."),
    ],
)
def test_bad_closing_input_is_explained_kept_and_nothing_is_saved(
    client, db, login_as, world, data, field, message
):
    full_trajectory(world, db)
    login_as(user=world.user)
    advice = "" if field == "advice" else "Mijn advies blijft staan"
    response = client.post(close_url(world), data={**data, "advice": advice})
    page = text(response)
    assert response.status_code == 200
    assert field_error(page, field)
    assert message in field_error(page, field)
    assert advice in element_text(page, "advice")
    assert 'name="confirm"' not in page  # the form again, not the check page
    assert_nothing_closed(db, world)


def test_wtforms_own_messages_follow_the_chosen_language(client, db, login_as, world):
    """The catalogue of WTForms' messages is kept per locale: Dutch, then English, then Dutch
    again in one process each read the right one."""
    full_trajectory(world, db)
    login_as(user=world.user)
    expected = {"nl": "Ongeldige keuze.", "en": "Not a valid choice."}
    for language in ("nl", "en", "nl"):
        client.set_cookie("rt_lang", language)
        page = text(client.post(close_url(world), data={"outcome": "finished"}))
        assert field_error(page, "outcome").endswith(": " + expected[language])
    assert_nothing_closed(db, world)


# A closing that contradicts itself: refused next to the field that does not fit, on the
# check step and on confirming alike, and by the service itself.
CONTRADICTIONS = [
    pytest.param(
        {**COMPLETED, "dropout_reason": "motivation"},
        "dropout_reason",
        "hoort alleen bij een deelnemer die is uitgevallen",
        id="dropout-reason-with-completed",
    ),
    pytest.param(
        {"outcome": "regular_sport", "regular_sport": "running_club", "dropout_reason": "moved"},
        "dropout_reason",
        "hoort alleen bij een deelnemer die is uitgevallen",
        id="dropout-reason-with-regular-sport",
    ),
    pytest.param(
        {"outcome": "dropped_out", "dropout_reason": "moved", "regular_sport": "running_club"},
        "regular_sport",
        "hoort alleen bij doorstromen naar reguliere sport",
        id="regular-sport-with-dropout",
    ),
    pytest.param(
        {"outcome": "completed", "advice": ""},
        "advice",
        "bij een afgerond traject is dat de kern van de brief",
        id="completed-without-advice",
    ),
    pytest.param(
        {"outcome": "completed", "advice": " \r\n "},
        "advice",
        "bij een afgerond traject is dat de kern van de brief",
        id="completed-with-blank-advice",
    ),
]


@pytest.mark.parametrize("confirm", [False, True], ids=["check", "confirm"])
@pytest.mark.parametrize(("data", "field", "message"), CONTRADICTIONS)
def test_a_contradicting_closing_is_refused_next_to_its_field(
    client, db, login_as, world, data, field, message, confirm
):
    full_trajectory(world, db)
    login_as(user=world.user)
    before = snapshot(db)
    response = client.post(close_url(world), data={**data, **({"confirm": "1"} if confirm else {})})
    page = text(response)
    assert response.status_code == 200
    assert message in field_error(page, field)
    others = {"outcome", "dropout_reason", "regular_sport", "advice"} - {field}
    assert [f for f in others if field_error(page, f)] == []
    if data.get("advice", "").strip():
        assert data["advice"] in element_text(page, "advice")
    assert 'name="confirm"' not in page
    assert changed_tables(before, snapshot(db)) == []
    assert_nothing_closed(db, world)

    with pytest.raises(ServiceError) as refused:
        close_trajectory(world.trajectory, actor=world.user, **{"advice": "", **data})
    assert set(refused.value.errors) == {field}
    db.session.rollback()


def test_completing_without_an_attended_session_is_refused(client, db, login_as, world):
    login_as(user=world.user)
    for confirm in ({}, {"confirm": "1"}):
        response = client.post(close_url(world), data={**COMPLETED, **confirm})
        page = text(response)
        assert response.status_code == 200
        assert "nog bij geen enkele sessie aanwezig geweest" in field_error(page, "outcome")
        assert ADVICE in element_text(page, "advice")
        assert_nothing_closed(db, world, ReferralState.ACCEPTED)
    # Dropping out before any session is possible.
    _check, response = check_then_confirm(
        client, world, {"outcome": "dropped_out", "dropout_reason": "unreachable"}
    )
    assert response.status_code == 302
    db.session.refresh(world.referral)
    assert world.referral.state is ReferralState.DROPPED_OUT


def test_completing_after_sessions_on_one_day_is_refused(client, db, login_as, world):
    """Four attended sessions, all on one day: a trajectory of one day is not completed."""
    started(world, db)
    for _ in range(3):
        log_session(world, days_ago=70, run=1, week=1)
    db.session.commit()
    login_as(user=world.user)
    response = client.post(close_url(world), data=COMPLETED)
    error = field_error(text(response), "outcome")
    assert "op minstens 4 verschillende dagen" in error and "zijn dat er 1." in error
    assert_nothing_closed(db, world)
    # Three days is still one short; the fourth makes it.
    log_session(world, days_ago=50, run=3, week=3)
    log_session(world, days_ago=30, run=9, week=6)
    db.session.commit()
    error = field_error(text(client.post(close_url(world), data=COMPLETED)), "outcome")
    assert "zijn dat er 3." in error
    log_session(world, days_ago=10, run=20, week=10)
    db.session.commit()
    _check, response = check_then_confirm(client, world, COMPLETED)
    assert response.status_code == 302
    db.session.refresh(world.trajectory)
    assert world.trajectory.outcome is Outcome.COMPLETED


def test_moving_on_to_regular_sport_needs_one_attended_session_not_a_third(
    client, db, login_as, world
):
    started(world, db)
    login_as(user=world.user)
    check, response = check_then_confirm(
        client, world, {"outcome": "regular_sport", "regular_sport": "running_club"}
    )
    assert "Doorgestroomd naar reguliere sport" in element_text(check, "closing-choice")
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("sessions", "minimum"), [(12, 4), (10, 4), (9, 3), (4, 2), (2, 1), (1, 1)]
)
def test_completed_needs_a_third_of_the_supervised_sessions(sessions, minimum):
    assert completed_minimum(SimpleNamespace(supervised_sessions=sessions)) == minimum


def test_the_check_page_shows_the_letter_and_what_is_missing_and_changes_nothing(
    client, db, login_as, world
):
    full_trajectory(world, db, end_score=False)
    login_as(user=world.user)
    before = snapshot(db)
    reads_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))

    response = client.post(close_url(world), data=COMPLETED)

    page = text(response)
    assert response.status_code == 200
    letter = element_text(page, "letter-preview")
    assert "Afsluitbrief runningtherapie" in letter and "Femke Visser" in letter
    assert "Dr. Jansen" in letter and world.referral.reference in letter
    assert "4 van de 5 gehouden sessies (80%)" in letter
    assert "Uitkomst Afgerond." in letter and ADVICE in letter
    assert "Eva Smit" in letter and "778899" in letter
    assert NOTE not in page
    missing = element_text(page, "missing-items")
    assert "5 van de 12 begeleide sessies van het programma zijn vastgelegd" in missing
    assert "K10 heeft geen score bij de intake of geen score daarna" in missing
    assert "Geen samenvatting en advies" not in missing
    assert "Afgerond" in element_text(page, "closing-choice")
    assert hidden_fields(page) == {
        "outcome": "completed",
        "dropout_reason": "",
        "regular_sport": "",
        "advice": ADVICE,
    }
    # Nothing saved: no state, no letter, no notification; only the read row of the page.
    assert changed_tables(before, snapshot(db)) == []
    reads = db.session.scalars(
        sa.select(AuditEvent).order_by(AuditEvent.id).offset(reads_before)
    ).all()
    assert [(r.action, r.detail, r.participant_id) for r in reads] == [
        (AuditAction.READ, "closing check", world.referral.participant_id)
    ]


def test_the_check_page_lists_an_empty_advice_and_the_letter_leaves_its_section_out(
    client, db, login_as, world
):
    full_trajectory(world, db)
    login_as(user=world.user)
    data = {"outcome": "dropped_out", "dropout_reason": "motivation"}
    check, response = check_then_confirm(client, world, data)
    assert "Geen samenvatting en advies" in element_text(check, "missing-items")
    letter = element_text(check, "letter-preview")
    assert "Uitgevallen: motivatie." in letter and "Samenvatting en advies" not in letter
    assert response.status_code == 302
    report = db.session.scalars(sa.select(Report)).one()
    content = " ".join(pdf_text(report.pdf).split())
    assert "Uitgevallen: motivatie." in content
    assert "Samenvatting en advies" not in content and " – Met vriendelijke groet" not in content


def test_without_consent_the_check_page_says_no_letter_is_made(client, db, login_as, world):
    world.referral.consent_share_progress = False
    full_trajectory(world, db)
    login_as(user=world.user)
    page = text(client.post(close_url(world), data=COMPLETED))
    preview = element_text(page, "letter-preview")
    assert preview.startswith("Geen brief") and "Femke" not in preview


def test_going_back_to_edit_keeps_what_was_typed(client, db, login_as, world):
    full_trajectory(world, db)
    login_as(user=world.user)
    advice = "Eerste regel.\r\nTweede regel met <tekens> & zo."
    data = {"outcome": "regular_sport", "regular_sport": "other", "advice": advice}
    check = text(client.post(close_url(world), data=data))
    before = snapshot(db)

    response = client.post(close_url(world), data={**hidden_fields(check), "edit": "1"})

    page = text(response)
    assert response.status_code == 200 and 'name="confirm"' not in page
    assert parsed(page).checked == {
        "outcome": "regular_sport",
        "dropout_reason": "",  # "Not applicable"
        "regular_sport": "other",
    }
    assert unescape(element_text(page, "advice")) == " ".join(advice.split())
    assert "Tweede regel met &lt;tekens&gt; &amp; zo." in page  # escaped, not markup
    assert [f for f in ("outcome", "regular_sport", "advice") if field_error(page, f)] == []
    assert changed_tables(before, snapshot(db)) == []


def test_confirming_sends_the_letter_the_check_page_showed(client, db, login_as, world):
    full_trajectory(world, db)
    login_as(user=world.user)
    advice = "Blijf twee keer per week lopen.\r\nSluit aan bij de hardloopgroep in het park."
    check, response = check_then_confirm(client, world, {"outcome": "completed", "advice": advice})
    assert response.status_code == 302
    db.session.refresh(world.trajectory)
    assert world.trajectory.closing_note == advice  # the line break came through the check
    report = db.session.scalars(sa.select(Report)).one()
    footer = re.compile(rf"{re.escape(world.referral.reference)} · pagina \d+ van \d+")
    sent = footer.sub(" ", pdf_text(report.pdf)).split()
    shown = element_text(check, "letter-preview").split()
    assert Counter(shown) == Counter(sent)


def test_closing_twice_is_refused(client, db, login_as, world):
    full_trajectory(world, db)
    close_trajectory(world.trajectory, actor=world.user, outcome=Outcome.COMPLETED, advice=ADVICE)
    db.session.commit()
    with pytest.raises(ServiceError):
        close_trajectory(
            world.trajectory,
            actor=world.user,
            outcome=Outcome.DROPPED_OUT,
            dropout_reason="motivation",
        )
    db.session.rollback()
    login_as(user=world.user)
    response = client.post(
        close_url(world),
        data={"outcome": "dropped_out", "dropout_reason": "motivation", "confirm": "1"},
        follow_redirects=True,
    )
    assert "Dit traject is al afgesloten." in text(response)
    db.session.refresh(world.trajectory)
    assert world.trajectory.outcome is Outcome.COMPLETED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 1


def test_with_consent_the_letter_is_stored_and_says_what_was_done(client, db, login_as, world):
    full_trajectory(world, db)
    login_as(user=world.user)
    check_then_confirm(
        client,
        world,
        {"outcome": "regular_sport", "regular_sport": "running_club", "advice": ADVICE},
    )
    report = db.session.scalars(sa.select(Report)).one()
    assert report.trajectory_id == world.trajectory.id
    assert report.sha256 == hashlib.sha256(report.pdf).hexdigest()
    assert report.filename == f"afsluitbrief-{world.referral.reference}.pdf"
    assert report.params["sessions"] == {"held": 5, "present": 4, "excused": 0, "absent": 1}
    assert NOTE not in str(report.params) and ADVICE not in str(report.params)

    content = pdf_text(report.pdf)
    flat = " ".join(content.split())
    assert "Afsluitbrief runningtherapie" in flat
    assert "Femke Visser" in flat and world.referral.reference in flat
    assert "Dr. Jansen" in flat
    assert "Stress" in flat and "Sleeps badly since a reorganisation at work." in flat
    assert "4 van de 5 gehouden sessies (80%)" in flat
    assert "K10" in flat and "31" in flat and "17" in flat and "beter" in flat
    assert "Hoog risico op angst of depressie" in flat
    assert "Een hardloopvereniging".lower() in flat
    assert "Blijf twee keer per week lopen" in flat
    assert "Eva Smit" in flat and "778899" in flat
    assert NOTE not in content and "ruzie" not in content
    assert len(PdfReader(io.BytesIO(report.pdf)).pages) == 1  # a typical letter: one page

    # The therapist reads the stored letter; reading it is audited as print.
    response = client.get(f"/trajectories/{world.trajectory.id}/letter.pdf")
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.data == report.pdf
    page = text(client.get(f"/trajectories/{world.trajectory.id}"))
    assert f"/trajectories/{world.trajectory.id}/letter.pdf" in page
    assert "Doorgestroomd naar reguliere sport" in page and "Een hardloopvereniging" in page


def test_a_letter_like_the_demos_fits_on_one_page(app, db, world):
    """As the demo's Gerrit Brouwer: two questionnaires with their bands, wrapped labels, the
    demo's advice. It used to spill its last line onto a second page."""
    full_trajectory(world, db)
    add_score(world, Moment.INTAKE, 2.143, "moderate", 80, instrument="mhc_sf")
    add_score(world, Moment.END, 3.357, "moderate", 5, instrument="mhc_sf")
    database.session.commit()
    choice = ClosingChoice(Outcome.COMPLETED, advice=CLOSING_ADVICE)
    params = letter_params(world.trajectory, choice, local_today())
    with app.test_request_context():
        pdf = render_closing_letter(world.trajectory, params, CLOSING_ADVICE)
    content = " ".join(pdf_text(pdf).split())
    assert "MHC-SF" in content and "Gemiddeld mentaal gezond" in content
    assert " ".join(CLOSING_ADVICE.split()) in content
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


ADVICE_SENTENCE = "Blijf twee keer per week rustig lopen en bouw de duur op naar dertig minuten. "
FOOTER_LINES = 1  # the page number line at the foot of every page
SIGNATURE_LINES = 4  # greeting, name, BRTN number, the consent line
WIDOWS = 3  # lines of a paragraph that a page never starts with fewer of


def text_lines(page) -> int:
    return sum(1 for line in page.extract_text().splitlines() if line.strip()) - FOOTER_LINES


def test_the_letter_never_leaves_a_line_or_two_alone_on_a_page(app, db, world):
    """Advice from a few lines to more than fills the page: the letter is one page, or its
    last page holds the signature with at least three lines of the advice (the signature keeps
    the advice's last lines with it, paragraphs keep three lines together)."""
    full_trajectory(world, db)
    choice = ClosingChoice(Outcome.COMPLETED)
    params = letter_params(world.trajectory, choice, local_today())
    page_counts = []
    with app.test_request_context():
        for sentences in range(4, 14):
            paragraphs = "\n".join(["Tweede alinea."] * (sentences % 3))
            advice = f"{ADVICE_SENTENCE * sentences}\n{paragraphs}"
            pdf = render_closing_letter(world.trajectory, params, advice)
            pages = PdfReader(io.BytesIO(pdf)).pages
            page_counts.append(len(pages))
            if len(pages) > 1:
                last = pages[-1]
                assert text_lines(last) >= SIGNATURE_LINES + WIDOWS, (
                    sentences,
                    last.extract_text(),
                )
    assert page_counts[0] == 1 and page_counts[-1] == 2  # the sweep crosses the page's end


def test_the_referrer_is_notified_and_reads_the_letter_in_the_product(app, db, login_as, world):
    full_trajectory(world, db)
    close_trajectory(world.trajectory, actor=world.user, outcome=Outcome.COMPLETED, advice=ADVICE)
    db.session.commit()
    notification = db.session.scalars(
        sa.select(Notification).where(Notification.kind == NotificationKind.TRAJECTORY_CLOSED)
    ).one()
    assert notification.recipient_id == world.gp.id
    assert "afsluitbrief" in notification.body and world.referral.reference in notification.body
    for private in ("Femke", "Visser", ADVICE, "K10"):
        assert private not in notification.subject + notification.body

    client = app.test_client()
    login_as(
        user=factories.make_user(role=Role.REFERRER, organisation=world.gp.organisation),
        into=client,
    )
    page = text(client.get(f"/referrals/{world.referral.id}"))
    assert "Runningtherapie" in page and "Afgerond" in page and "4 van 5" in page
    letter_url = f"/referrals/{world.referral.id}/letter.pdf"
    assert letter_url in page
    response = client.get(letter_url)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    report = db.session.scalars(sa.select(Report)).one()
    assert response.data == report.pdf
    printed = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == AuditAction.PRINT)
    ).one()
    assert printed.object_type == "reports" and printed.object_id == str(report.id)
    assert printed.participant_id == world.referral.participant_id


def test_without_consent_no_letter_and_the_referrer_sees_only_that_it_ended(
    app, client, db, login_as, world
):
    world.referral.consent_share_progress = False
    full_trajectory(world, db)
    login_as(user=world.user)
    assert "geen toestemming" in text(client.get(close_url(world)))
    _check, response = check_then_confirm(client, world, COMPLETED)
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 0
    assert "Geen brief" in text(client.get(f"/trajectories/{world.trajectory.id}"))
    assert client.get(f"/trajectories/{world.trajectory.id}/letter.pdf").status_code == 404
    notification = db.session.scalars(
        sa.select(Notification).where(Notification.kind == NotificationKind.TRAJECTORY_CLOSED)
    ).one()
    assert "is beëindigd" in notification.body and "afsluitbrief" not in notification.body

    referrer = app.test_client()
    login_as(user=world.gp, into=referrer)
    page = text(referrer.get(f"/referrals/{world.referral.id}"))
    assert "De runningtherapie is beëindigd." in page
    assert "letter.pdf" not in page and "Aanwezig bij sessies" not in page
    assert referrer.get(f"/referrals/{world.referral.id}/letter.pdf").status_code == 404


def test_the_check_service_refuses_as_closing_does(db, world):
    full_trajectory(world, db)
    with pytest.raises(ServiceError) as refused:
        closing_check(
            world.user,
            world.trajectory,
            outcome="completed",
            dropout_reason="moved",
            regular_sport=None,
            advice="",
        )
    assert set(refused.value.errors) == {"dropout_reason", "advice"}


def test_progress_while_running_only_with_consent(app, db, login_as, world):
    started(world, db)
    client = app.test_client()
    login_as(user=world.gp, into=client)
    page = text(client.get(f"/referrals/{world.referral.id}"))
    assert "Aanwezig bij sessies: 1 van 1. Ingevulde vragenlijsten: 0." in page
    world.referral.consent_share_progress = False
    db.session.commit()
    page = text(client.get(f"/referrals/{world.referral.id}"))
    assert "Aanwezig bij sessies" not in page and "Runningtherapie" not in page


def test_others_cannot_get_the_letter(app, db, login_as, world):
    full_trajectory(world, db)
    close_trajectory(world.trajectory, actor=world.user, outcome=Outcome.COMPLETED, advice=ADVICE)
    db.session.commit()
    letter_url = f"/referrals/{world.referral.id}/letter.pdf"

    other_referrer = app.test_client()
    login_as(user=factories.make_user(role=Role.REFERRER), into=other_referrer)
    assert other_referrer.get(letter_url).status_code == 404
    assert other_referrer.get(f"/referrals/{world.referral.id}").status_code == 404

    coordinator = app.test_client()
    login_as(user=world.coordinator, into=coordinator)
    assert coordinator.get(letter_url).status_code == 403
    page = text(coordinator.get(f"/referrals/{world.referral.id}"))
    assert "letter.pdf" not in page

    officer = app.test_client()
    login_as(
        user=factories.make_user(role=Role.OFFICER, organisation=world.municipality), into=officer
    )
    assert officer.get(letter_url).status_code == 403
    assert officer.get(f"/trajectories/{world.trajectory.id}/letter.pdf").status_code == 403

    other_therapist = app.test_client()
    login_as(user=factories.make_user(role=Role.THERAPIST), into=other_therapist)
    assert other_therapist.get(f"/trajectories/{world.trajectory.id}/letter.pdf").status_code == 404
    assert other_therapist.get(f"/trajectories/{world.trajectory.id}/close").status_code == 404
    assert other_therapist.post(close_url(world), data=COMPLETED).status_code == 404
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == AuditAction.PRINT)
        )
        == 0
    )


def test_another_therapist_cannot_close(app, db, login_as, world):
    full_trajectory(world, db)
    client = app.test_client()
    login_as(user=factories.make_user(role=Role.THERAPIST), into=client)
    for confirm in ({}, {"confirm": "1"}):
        response = client.post(close_url(world), data={**COMPLETED, **confirm})
        assert response.status_code == 404
    db.session.refresh(world.trajectory)
    assert not world.trajectory.is_closed


def test_a_stored_letter_cannot_be_changed(db, world):
    full_trajectory(world, db)
    close_trajectory(world.trajectory, actor=world.user, outcome=Outcome.COMPLETED, advice=ADVICE)
    db.session.commit()
    report = db.session.scalars(sa.select(Report)).one()
    with pytest.raises(sa.exc.DBAPIError), db.session.begin_nested():
        db.session.execute(sa.update(Report).where(Report.id == report.id).values(pdf=b"forged"))
    db.session.expire_all()
    assert (
        db.session.get(Report, report.id).sha256
        == hashlib.sha256(db.session.get(Report, report.id).pdf).hexdigest()
    )


def test_closing_is_audited(db, world):
    full_trajectory(world, db)
    close_trajectory(world.trajectory, actor=world.user, outcome=Outcome.COMPLETED, advice=ADVICE)
    db.session.commit()
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.participant_id == world.referral.participant_id)
    ).all()
    kinds = {(e.action, e.object_type, e.detail) for e in events}
    assert (AuditAction.UPDATE, "trajectories", "closed: completed") in kinds
    assert (AuditAction.CREATE, "reports", "closing letter") in kinds
    assert all("Femke" not in (e.detail or "") for e in events)


def test_too_long_advice_is_refused_next_to_the_field(client, db, login_as, world):
    full_trajectory(world, db)
    login_as(user=world.user)
    response = client.post(
        close_url(world), data={"outcome": "completed", "advice": "lang " * 1000}
    )
    assert response.status_code == 200
    assert "hoogstens 4000 tekens" in field_error(text(response), "advice")
    db.session.refresh(world.trajectory)
    assert not world.trajectory.is_closed


def test_the_inbox_reads_closed_trajectories_in_a_fixed_number_of_selects(
    app, db, login_as, queries
):
    from datetime import UTC, datetime

    from tests.training_setup import make_practice

    def queries_for_inbox(closed: int) -> int:
        practice = make_practice(participants=closed)
        for trajectory in practice.trajectories:
            trajectory.closed_at, trajectory.outcome = datetime.now(UTC), Outcome.COMPLETED
            trajectory.referral.state = ReferralState.COMPLETED
            trajectory.referral.closed_at = trajectory.closed_at
        db.session.commit()
        client = app.test_client()
        login_as(user=practice.user, into=client)
        with queries() as log:
            page = text(client.get("/offers"))
        assert page.count('href="/trajectories/') == closed
        return len(log.selects)

    assert queries_for_inbox(1) == queries_for_inbox(4)
