"""Outcome questionnaires: entered item by item at intake, midway and end, scored, summarised."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from referrals.models import (
    AuditAction,
    AuditEvent,
    Moment,
    Outcome,
    QuestionnaireResponse,
    Role,
    Trajectory,
    local_today,
    utcnow,
)
from referrals.services.referrals import offers
from referrals.services.trajectories import outcomes, record_intake
from tests import factories
from tests.helpers import text

INTAKE_ON = local_today() - timedelta(days=60)
# Worked examples, scored by hand below from the manuals' rules.
K10_ANSWERS = (2, 3, 1, 4, 2, 1, 3, 3, 2, 1)
MHC_ANSWERS = (4, 5, 4, 3, 2, 1, 4, 2, 5, 4, 4, 3, 4, 5)


@pytest.fixture
def trajectory_with_intake(db):
    world = factories.make_world(therapist_name="Eva Smit")
    world.programme.questionnaires = ["mhc_sf", "k10"]
    user = world.therapist_user
    referral = factories.make_referral(
        programme=world.programme, referrer=world.gp, first_name="Femke"
    )
    offers.accept_offer(
        offers.offer_referral(referral, world.therapist, actor=world.coordinator), actor=user
    )
    trajectory = db.session.scalars(sa.select(Trajectory)).one()
    record_intake(
        trajectory,
        actor=user,
        intake_on=INTAKE_ON,
        can_walk_min=30,
        can_run_min=1,
        remarks="",
        template="standard",
    )
    db.session.commit()
    return trajectory, user


@pytest.fixture
def therapist_client(client, login_as, trajectory_with_intake):
    trajectory, user = trajectory_with_intake
    login_as(user=user)
    return client


def url(trajectory, moment="intake", instrument="k10") -> str:
    return f"/trajectories/{trajectory.id}/questionnaires/{moment}/{instrument}"


def form_data(values, taken_on=None) -> dict:
    data = {"taken_on": (taken_on or local_today()).isoformat()}
    data.update({f"item_{n}": str(v) for n, v in enumerate(values, start=1)})
    return data


def checked_value(page: str, name: str) -> str | None:
    """The value of the checked radio button of an item on the page, if any."""
    for tag in re.findall(r"<input[^>]*>", page):
        if f'name="{name}"' in tag and re.search(r"\schecked[\s>=]", tag):
            return re.search(r'value="([^"]*)"', tag).group(1)
    return None


def responses(db) -> list[QuestionnaireResponse]:
    return db.session.scalars(sa.select(QuestionnaireResponse)).all()


def test_the_form_shows_every_item_with_the_answer_labels_and_the_missing_rule(
    therapist_client, trajectory_with_intake
):
    trajectory, _ = trajectory_with_intake
    page = text(therapist_client.get(url(trajectory)))
    assert page.count("<fieldset") == 10
    assert "<legend" in page
    assert "1. Hoe vaak voelde u zich erg vermoeid zonder duidelijke reden?" in page
    assert "af en toe (2)" in page and "meestal (4)" in page and "altijd (5)" in page
    assert "Niet beantwoord" in page
    assert "Als hoogstens 2 vragen niet zijn beantwoord" in page and "Bij 3 of meer" in page
    mhc = text(therapist_client.get(url(trajectory, instrument="mhc_sf")))
    assert mhc.count("<fieldset") == 14 and "elke dag (5)" in mhc
    assert "Voor een score moeten alle vragen beantwoord zijn" in mhc


def test_a_complete_k10_is_stored_with_the_sum_and_band(
    db, therapist_client, trajectory_with_intake
):
    trajectory, user = trajectory_with_intake
    response = therapist_client.post(url(trajectory), data=form_data(K10_ANSWERS))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/trajectories/{trajectory.id}"
    # K10 manual: the sum of the ten items (1-5); 2+3+1+4+2+1+3+3+2+1 = 22, GGD band 16-29.
    (stored,) = responses(db)
    assert stored.answers == {str(n): v for n, v in enumerate(K10_ANSWERS, start=1)}
    assert (stored.score, stored.category, stored.missing_items) == (22, "moderate", 0)
    assert (stored.moment, stored.taken_on, stored.recorded_by_id) == (
        Moment.INTAKE,
        local_today(),
        user.id,
    )
    page = text(therapist_client.get(response.headers["Location"]))
    assert "K10 (Intake) opgeslagen: score 22." in page
    assert "Matig risico op angst of depressie" in page


def test_a_complete_mhc_sf_is_stored_with_mean_scores_and_keyes_category(
    db, therapist_client, trajectory_with_intake
):
    trajectory, _ = trajectory_with_intake
    response = therapist_client.post(
        url(trajectory, instrument="mhc_sf"), data=form_data(MHC_ANSWERS)
    )
    assert response.status_code == 302
    # Dutch manual: mean item scores. Total (13 + 12 + 25) / 14; emotional 13/3, social 12/5,
    # psychological 25/6. Keyes: item 2 is 4-5 and six of items 4-14 (7, 9, 10, 11, 13, 14) too.
    (stored,) = responses(db)
    assert stored.score == pytest.approx(50 / 14)
    assert stored.subscores == pytest.approx(
        {"emotional": 13 / 3, "social": 12 / 5, "psychological": 25 / 6}
    )
    assert stored.category == "flourishing"
    assert stored.answers["14"] == 5
    page = text(therapist_client.get(f"/trajectories/{trajectory.id}"))
    assert "score 3,57" in page and "Floreren" in page


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9", "Kies een antwoord van 1 tot en met 5."),
        ("veel", "Geen geldig antwoord: kies een heel getal van 1 tot en met 5."),
        ("2.5", "Geen geldig antwoord: kies een heel getal van 1 tot en met 5."),
    ],
)
def test_a_refused_answer_is_explained_next_to_its_item_and_nothing_is_saved(
    db, therapist_client, trajectory_with_intake, value, message
):
    trajectory, _ = trajectory_with_intake
    data = form_data(K10_ANSWERS) | {"item_3": value}
    response = therapist_client.post(url(trajectory), data=data)
    page = text(response)
    assert response.status_code == 200
    error = re.search(r'<p class="field__error" id="item_3-error">(.*?)</p>', page, re.S)
    assert error and message in error.group(1)
    assert page.count('class="field__error"') == 1
    assert checked_value(page, "item_1") == "2" and checked_value(page, "item_10") == "1"
    assert responses(db) == []


def test_all_messages_come_at_once(db, therapist_client, trajectory_with_intake):
    trajectory, _ = trajectory_with_intake
    data = form_data(K10_ANSWERS) | {"taken_on": "", "item_2": "0", "item_7": "x"}
    page = text(therapist_client.post(url(trajectory), data=data))
    assert 'id="taken_on-error"' in page
    assert 'id="item_2-error"' in page and 'id="item_7-error"' in page
    assert checked_value(page, "item_1") == "2"
    assert responses(db) == []


@pytest.mark.parametrize(
    ("taken_on", "message"),
    [
        (local_today() + timedelta(days=1), "De datum ligt in de toekomst."),
        (INTAKE_ON - timedelta(days=1), "De datum ligt vóór de intake"),
    ],
)
def test_a_date_outside_the_trajectory_is_refused(
    db, therapist_client, trajectory_with_intake, taken_on, message
):
    trajectory, _ = trajectory_with_intake
    response = therapist_client.post(url(trajectory), data=form_data(K10_ANSWERS, taken_on))
    page = text(response)
    assert response.status_code == 200 and 'id="taken_on-error"' in page and message in page
    assert checked_value(page, "item_2") == "3"
    assert responses(db) == []


def test_one_missing_k10_item_is_prorated(db, therapist_client, trajectory_with_intake):
    trajectory, _ = trajectory_with_intake
    data = form_data(K10_ANSWERS[:9]) | {"item_10": ""}
    assert therapist_client.post(url(trajectory), data=data).status_code == 302
    # Nine answers sum to 21; the missing item counts as their mean: 21 * 10 / 9 = 23.33.
    (stored,) = responses(db)
    assert stored.answers["10"] is None and stored.missing_items == 1
    assert stored.score == pytest.approx(21 * 10 / 9)
    assert stored.category == "moderate"
    page = text(therapist_client.get(f"/trajectories/{trajectory.id}"))
    assert "score 23,33" in page and "aangevuld met het gemiddelde" in page


def test_three_missing_k10_items_give_no_score(db, therapist_client, trajectory_with_intake):
    trajectory, _ = trajectory_with_intake
    data = form_data(K10_ANSWERS[:7])  # items 8, 9 and 10 not sent at all
    page = text(therapist_client.post(url(trajectory), data=data))
    # Too few for a score: nothing is saved (more in tests/test_questionnaires.py).
    assert "Niet beantwoorde vragen: 8, 9, 10." in page
    assert responses(db) == []


def test_entering_again_corrects_the_same_row(db, therapist_client, trajectory_with_intake):
    trajectory, _ = trajectory_with_intake
    therapist_client.post(url(trajectory), data=form_data(K10_ANSWERS))
    page = text(therapist_client.get(url(trajectory)))
    assert "opslaan vervangt de eerdere antwoorden" in page
    assert checked_value(page, "item_4") == "4"
    therapist_client.post(url(trajectory), data=form_data((1,) * 10))
    (stored,) = responses(db)
    assert (stored.score, stored.category) == (10, "low")
    actions = db.session.execute(
        sa.select(AuditEvent.action, AuditEvent.detail).where(
            AuditEvent.object_type == "questionnaire_responses",
            AuditEvent.action != AuditAction.READ,
        )
    ).all()
    assert sorted(actions) == sorted(
        [(AuditAction.CREATE, "entered"), (AuditAction.UPDATE, "corrected")]
    )


def test_baseline_latest_and_change_on_the_trajectory_page(
    db, therapist_client, trajectory_with_intake
):
    trajectory, _ = trajectory_with_intake
    therapist_client.post(url(trajectory), data=form_data(K10_ANSWERS, INTAKE_ON))
    page = text(therapist_client.get(f"/trajectories/{trajectory.id}"))
    assert "nog niet ingevoerd" in page
    assert url(trajectory, "end") in page and url(trajectory, "intake", "mhc_sf") in page
    end = (2, 2, 2, 2, 2, 1, 1, 1, 1, 1)  # 15: low
    therapist_client.post(url(trajectory, "end"), data=form_data(end))
    page = text(therapist_client.get(f"/trajectories/{trajectory.id}"))
    summary = re.sub(r"\s+", " ", page)
    assert "Beginscore (intake)</dt> <dd>22</dd>" in summary
    assert "Laatste score (Einde)</dt> <dd>15</dd>" in summary
    # 15 - 22 = -7; on the K10 lower is better.
    assert re.search(r"[-−]7: verbeterd", summary) and "een lagere score is beter" in summary
    assert "Laag risico op angst of depressie" in page
    letter = outcomes.scores_for_letter(trajectory)
    assert [(s.name, s.baseline, s.latest, s.latest_category) for s in letter] == [
        ("MHC-SF", None, None, None),
        ("K10", 22, 15, "Laag risico op angst of depressie"),
    ]


def test_reading_and_writing_are_audited_with_the_participant(
    db, therapist_client, trajectory_with_intake
):
    trajectory, user = trajectory_with_intake
    participant_id = trajectory.referral.participant_id
    therapist_client.get(url(trajectory))
    therapist_client.post(url(trajectory), data=form_data(K10_ANSWERS))
    therapist_client.get(url(trajectory))
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.user_id == user.id).order_by(AuditEvent.id)
    ).all()
    kinds = [(e.action, e.object_type) for e in events if e.participant_id == participant_id]
    assert kinds[-3:] == [
        (AuditAction.READ, "trajectories"),
        (AuditAction.CREATE, "questionnaire_responses"),
        (AuditAction.READ, "questionnaire_responses"),
    ]
    assert all("22" not in (e.detail or "") for e in events)


@pytest.mark.parametrize(
    ("moment", "instrument"),
    [("intake", "who5"), ("later", "k10"), ("intake", "nope"), ("INTAKE", "k10")],
)
def test_unknown_moment_or_instrument_outside_the_programme_is_404(
    db, therapist_client, trajectory_with_intake, moment, instrument
):
    trajectory, _ = trajectory_with_intake
    assert therapist_client.get(url(trajectory, moment, instrument)).status_code == 404
    response = therapist_client.post(url(trajectory, moment, instrument), data=form_data((1,) * 5))
    assert response.status_code == 404
    assert responses(db) == []


def test_another_therapist_gets_404(db, client, login_as, trajectory_with_intake):
    trajectory, _ = trajectory_with_intake
    login_as(Role.THERAPIST)
    assert client.get(url(trajectory)).status_code == 404
    assert client.post(url(trajectory), data=form_data(K10_ANSWERS)).status_code == 404
    assert responses(db) == []


def test_a_closed_trajectory_refuses_changes(db, therapist_client, trajectory_with_intake):
    trajectory, _ = trajectory_with_intake
    trajectory.closed_at, trajectory.outcome = utcnow(), Outcome.COMPLETED
    db.session.commit()
    response = therapist_client.post(url(trajectory), data=form_data(K10_ANSWERS))
    assert response.status_code == 302
    page = text(therapist_client.get(response.headers["Location"]))
    assert "Dit traject is afgesloten: vragenlijsten kunnen niet meer worden gewijzigd." in page
    assert responses(db) == []
    assert url(trajectory, "end") not in page


def test_entry_waits_for_the_intake(db, therapist_client, trajectory_with_intake):
    trajectory, _ = trajectory_with_intake
    trajectory.plan, trajectory.intake_on = None, None
    db.session.commit()
    response = therapist_client.post(url(trajectory), data=form_data(K10_ANSWERS))
    assert response.status_code == 302
    assert "Leg eerst de intake vast" in text(therapist_client.get(response.headers["Location"]))
    assert responses(db) == []
    assert outcomes.outcome_summary(trajectory) is None


def test_who5_needs_only_its_description(db, therapist_client, trajectory_with_intake):
    trajectory, _ = trajectory_with_intake
    trajectory.referral.programme.questionnaires = ["k10", "who5"]
    db.session.commit()
    response = therapist_client.post(url(trajectory, "midway", "who5"), data=form_data((3,) * 5))
    assert response.status_code == 302
    # WHO-5: raw sum 15 times 4 = 60; a raw sum of 13 or more is adequate well-being.
    (stored,) = responses(db)
    assert (stored.score, stored.category) == (60, "adequate_wellbeing")
    assert "Voldoende welbevinden" in text(therapist_client.get(f"/trajectories/{trajectory.id}"))


def test_the_dutch_items_are_marked_as_dutch_on_an_english_page(
    therapist_client, trajectory_with_intake
):
    trajectory, _ = trajectory_with_intake
    therapist_client.set_cookie("rt_lang", "en")
    page = text(therapist_client.get(url(trajectory)))
    assert '<html lang="en">' in page
    assert '<legend class="field__label" lang="nl">1. Hoe vaak voelde u zich erg vermoeid' in page
    assert 'lang="nl">altijd (5)' in page
