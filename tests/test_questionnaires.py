"""Outcome instruments: worked examples, computed by hand in the comments; and the scoring
minimum, below which the questionnaire form saves nothing."""

import re

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_babel import Babel

import referrals
from referrals.models import Moment, Questionnaire, QuestionnaireResponse, local_today
from referrals.services import ServiceError
from referrals.services.trajectories import outcomes
from referrals.services.trajectories import questionnaires as q
from referrals.services.trajectories.questionnaires import (
    Band,
    Instrument,
    get_instrument,
    register,
    score,
    validate_answers,
)
from tests.helpers import text
from tests.training_setup import make_practice

MHC, K10, WHO5 = Questionnaire.MHC_SF, Questionnaire.K10, Questionnaire.WHO5


def numbered(*values):
    return dict(enumerate(values, start=1))


# --- the registry ------------------------------------------------------------------------------


def test_every_questionnaire_has_an_instrument():
    assert {str(key) for key in Questionnaire} <= set(q.INSTRUMENTS)
    assert [len(get_instrument(k).items) for k in (MHC, K10, WHO5)] == [14, 10, 5]
    assert get_instrument(MHC).answer_labels[0] == "nooit"
    assert get_instrument(MHC).answer_labels[5] == "elke dag"
    assert get_instrument(K10).answer_labels == ("nooit", "af en toe", "soms", "meestal", "altijd")
    assert get_instrument(WHO5).answer_range == (0, 5)


def test_a_new_instrument_is_only_a_description(monkeypatch):
    monkeypatch.setattr(q, "INSTRUMENTS", dict(q.INSTRUMENTS))
    register(
        Instrument(
            key="mood3",
            name="Made-up mood scale",
            prompt="Hoe voelde u zich vandaag?",
            items=("blij", "rustig", "fit"),
            answer_range=(0, 2),
            answer_labels=("niet", "een beetje", "erg"),
            subscales={"calm_fit": (2, 3)},
            max_missing=1,
            bands=(Band(0, "low"), Band(4, "high")),
        )
    )
    # 2 + 1 + 2 = 5 >= 4: high; subscale 1 + 2 = 3.
    assert score("mood3", {1: 2, 2: 1, 3: 2}) == q.Score(
        "mood3", 5, {"calm_fit": 3}, "high", True, (), False
    )
    # One missing is allowed: (2 + 1) * 3 / 2 = 4.5 >= 4: high; the subscale (1 + missing) is
    # 1 * 2 / 1 = 2. Two missing: no total.
    result = score("mood3", {1: 2, 2: 1})
    assert (result.total, result.subscales, result.band, result.prorated) == (
        4.5,
        {"calm_fit": 2},
        "high",
        True,
    )
    assert score("mood3", {1: 2}).total is None
    assert validate_answers("mood3", {4: 1, 1: 3}) == {
        4: "Unknown question number.",
        1: "Choose an answer from 0 to 2.",
    }
    with pytest.raises(ValueError, match="already registered"):
        register(get_instrument("mood3"))


def test_a_wrong_description_fails_early():
    with pytest.raises(ValueError, match="answer label"):
        Instrument("x", "X", "", ("a", "b"), (0, 2), ("nee", "ja"))
    with pytest.raises(ValueError, match="unknown item"):
        Instrument("x", "X", "", ("a", "b"), (0, 1), ("nee", "ja"), subscales={"s": (1, 3)})
    with pytest.raises(ValueError, match="ascending"):
        Instrument("x", "X", "", ("a",), (0, 1), ("nee", "ja"), bands=(Band(1, "b"), Band(0, "a")))


# --- MHC-SF: mean item scores, Keyes' diagnosis ------------------------------------------------

MHC_EXAMPLE = numbered(5, 4, 3, 2, 3, 1, 0, 4, 5, 5, 4, 3, 2, 1)


def test_mhc_sf_complete():
    result = score(MHC, MHC_EXAMPLE)
    # emotional (1-3): (5 + 4 + 3) / 3 = 4.0; social (4-8): (2 + 3 + 1 + 0 + 4) / 5 = 2.0;
    # psychological (9-14): (5 + 5 + 4 + 3 + 2 + 1) / 6 = 20 / 6; total (12 + 10 + 20) / 14 = 3.0.
    assert result.total == 3.0
    assert result.subscales == {"emotional": 4.0, "social": 2.0, "psychological": 20 / 6}
    assert (result.complete, result.missing, result.prorated) == (True, (), False)
    # Emotional 5 and 4 are 'almost every day' or more, but only 4 of the 11 others (items 8-11)
    # are 4-5, and no emotional item is 0-1: moderately mentally healthy.
    assert result.band == "moderate"


def test_mhc_sf_incomplete_subscale_has_no_mean():
    answers = MHC_EXAMPLE | {5: None}  # a social item left open
    result = score(MHC, answers)
    assert result.subscales == {"emotional": 4.0, "social": None, "psychological": 20 / 6}
    assert (result.total, result.band, result.complete, result.missing) == (None, None, False, (5,))
    # An absent item counts as unanswered, like None.
    assert score(MHC, {k: v for k, v in MHC_EXAMPLE.items() if k != 5}) == result


def test_mhc_sf_flourishing_and_languishing():
    # One emotional item at 4 and exactly 6 of the 11 others at 4-5 (items 4-9): flourishing.
    flourishing = numbered(4, 2, 2, 4, 5, 4, 5, 4, 5, 0, 0, 0, 0, 0)
    assert score(MHC, flourishing).band == "flourishing"
    # Only 5 of the others at 4-5 (item 9 now 3): not flourishing, and not languishing either.
    assert score(MHC, flourishing | {9: 3}).band == "moderate"
    # One emotional item at 1 and exactly 6 others at 0-1 (items 4-9): languishing.
    languishing = numbered(1, 3, 3, 0, 1, 0, 1, 0, 1, 5, 5, 5, 5, 5)
    assert score(MHC, languishing).band == "languishing"
    # No emotional item at 0-1 (item 1 now 2): moderate.
    assert score(MHC, languishing | {1: 2}).band == "moderate"


# --- K10: sum 10-50, GGD bands, up to two missing items prorated----------------------------------


def test_k10_complete():
    # 1 + 2 + 3 + 4 + 5 + 1 + 2 + 3 + 4 + 5 = 30: high.
    result = score(K10, numbered(1, 2, 3, 4, 5, 1, 2, 3, 4, 5))
    assert (result.total, result.band, result.complete, result.subscales) == (30, "high", True, {})


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ((1,) * 10, 10, "low"),
        ((2, 2, 2, 2, 2, 1, 1, 1, 1, 1), 15, "low"),  # 5 x 2 + 5 x 1 = 15
        ((2, 2, 2, 2, 2, 2, 1, 1, 1, 1), 16, "moderate"),  # 6 x 2 + 4 x 1 = 16
        ((3, 3, 3, 3, 3, 3, 3, 3, 3, 2), 29, "moderate"),  # 9 x 3 + 2 = 29
        ((3,) * 10, 30, "high"),
        ((5,) * 10, 50, "high"),
    ],
)
def test_k10_band_boundaries(answers, total, band):
    result = score(K10, numbered(*answers))
    assert (result.total, result.band) == (total, band)


def test_k10_one_missing_item_is_prorated():
    # Nine answered: 8 x 2 + 3 = 19; item 10 becomes 19 / 9, so the total is 19 * 10 / 9 = 21.11.
    result = score(K10, numbered(2, 2, 2, 2, 2, 2, 2, 2, 3, None))
    assert result.total == pytest.approx(21.111, abs=0.001)
    assert (result.band, result.complete, result.missing, result.prorated) == (
        "moderate",
        False,
        (10,),
        True,
    )
    # Nine answered summing to 27 (all 3): 27 * 10 / 9 = 30 exactly, so high.
    assert score(K10, numbered(*(3,) * 9)).total == 30
    assert score(K10, numbered(*(3,) * 9)).band == "high"
    # Nine answered summing to 26: 26 * 10 / 9 = 28.89: moderate.
    assert score(K10, numbered(*(3,) * 8, 2)).band == "moderate"


def test_k10_two_missing_items_are_prorated_as_the_monitor_allows():
    # CBS/GGD: 1 or 2 missing items are imputed. Eight answered: 7 x 2 + 4 = 18; the total is
    # 18 * 10 / 8 = 22.5: moderate.
    result = score(K10, numbered(2, 2, 2, 2, 2, 2, 2, 4, None, None))
    assert result.total == pytest.approx(22.5)
    assert (result.band, result.missing, result.prorated) == ("moderate", (9, 10), True)


def test_k10_three_missing_items_give_no_score():
    result = score(K10, numbered(2, 2, 2, 2, 2, 2, 2, None, None, None))
    assert (result.total, result.band, result.missing, result.prorated) == (
        None,
        None,
        (8, 9, 10),
        False,
    )


# --- WHO-5: raw sum x 4, raw below 13 is poor well-being ---------------------------------------


def test_who5_complete():
    # raw 5 + 4 + 3 + 2 + 1 = 15; x 4 = 60.
    result = score(WHO5, numbered(5, 4, 3, 2, 1))
    assert (result.total, result.band, result.complete) == (60, "adequate_wellbeing", True)


def test_who5_boundary():
    # raw 3 + 3 + 3 + 3 + 0 = 12 -> 48: poor; raw 13 -> 52: not poor.
    assert score(WHO5, numbered(3, 3, 3, 3, 0)).total == 48
    assert score(WHO5, numbered(3, 3, 3, 3, 0)).band == "poor_wellbeing"
    assert score(WHO5, numbered(3, 3, 3, 3, 1)).total == 52
    assert score(WHO5, numbered(3, 3, 3, 3, 1)).band == "adequate_wellbeing"


def test_who5_missing_item_gives_no_score():
    result = score(WHO5, numbered(5, 5, 5, 5, None))
    assert (result.total, result.band, result.complete, result.missing) == (None, None, False, (5,))


# --- validation --------------------------------------------------------------------------------


def test_validation_messages():
    errors = validate_answers(
        K10,
        {
            1: 0,
            2: 6,
            3: "abc",
            4: 2.5,
            5: True,
            6: "3",
            7: None,
            8: "",
            9: 4.0,
            11: 1,
            0: 1,
            "x": 1,
        },
    )
    assert errors == {
        1: "Choose an answer from 1 to 5.",
        2: "Choose an answer from 1 to 5.",
        3: "Not a valid answer: choose a whole number from 1 to 5.",
        4: "Not a valid answer: choose a whole number from 1 to 5.",
        5: "Not a valid answer: choose a whole number from 1 to 5.",
        11: "Unknown question number.",
        0: "Unknown question number.",
        "x": "Unknown question number.",
    }
    assert validate_answers(WHO5, {"2": "5", 1: " 0 ", 3: object()}) == {
        3: "Not a valid answer: choose a whole number from 0 to 5."
    }
    assert validate_answers(WHO5, None) == {
        0: "Not a valid answer: choose a whole number from 0 to 5."
    }
    assert validate_answers(WHO5, {1: "²", 2: "1e3"}).keys() == {1, 2}


def test_score_takes_form_strings_and_refuses_invalid_answers():
    # "5" + "4" + "3" + "2" + "1" = 15 -> 60.
    assert score(WHO5, {"1": "5", "2": "4", "3": "3", "4": "2", "5": "1"}).total == 60
    with pytest.raises(ValueError, match="Choose an answer"):
        score(WHO5, numbered(6, 4, 3, 2, 1))


def test_validation_messages_are_dutch_in_the_app():
    app = Flask(referrals.__name__)
    Babel(app, locale_selector=lambda: "nl")
    with app.app_context():
        assert validate_answers(K10, {1: 9, 12: 1}) == {
            1: "Kies een antwoord van 1 tot en met 5.",
            12: "Onbekend vraagnummer.",
        }


# --- the scoring minimum: fewer answers than a score needs are not saved -------------------------


def test_the_minimum_follows_each_instruments_missing_item_rule():
    # MHC-SF: a total only when all 14 are answered; K10: up to 2 of 10 prorated; WHO-5: all 5.
    assert [get_instrument(k).min_answered for k in (MHC, K10, WHO5)] == [14, 8, 5]
    with pytest.raises(ValueError, match="at least one item"):
        Instrument("x", "X", "", ("a", "b"), (0, 1), ("nee", "ja"), max_missing=2)


@pytest.fixture
def entry(db, client, login_as):
    """A trajectory with its intake in a programme with all three instruments; its therapist
    logged in."""
    practice = make_practice(participants=1)
    practice.programme.questionnaires = ["mhc_sf", "k10", "who5"]
    db.session.commit()
    login_as(user=practice.user)
    return practice.trajectories[0]


def form_url(trajectory, instrument) -> str:
    return f"/trajectories/{trajectory.id}/questionnaires/intake/{instrument}"


def answered(instrument, count: int) -> dict:
    """The form as a browser sends it: the first `count` items answered (with the lowest
    answer but one), the rest left on "Not answered"."""
    described = get_instrument(instrument)
    low = described.answer_range[0]
    data = {"taken_on": local_today().isoformat()}
    for number in range(1, len(described.items) + 1):
        data[f"item_{number}"] = str(low + 1) if number <= count else ""
    return data


def stored_responses(db) -> list[QuestionnaireResponse]:
    return db.session.scalars(sa.select(QuestionnaireResponse)).all()


def checked_value(page: str, name: str) -> str | None:
    """The value of the checked radio button of an item on the page, if any."""
    for tag in re.findall(r"<input[^>]*>", page):
        if f'name="{name}"' in tag and re.search(r"\schecked[\s>=]", tag):
            return re.search(r'value="([^"]*)"', tag).group(1)
    return None


def form_message(page: str) -> str:
    """The message shown with the form as a whole (not next to one item)."""
    found = re.search(r'<div class="alert alert--error" role="alert">\s*<p>(.*?)</p>', page, re.S)
    assert found, "no message for the form"
    return found.group(1)


@pytest.mark.parametrize("instrument", ["k10", "mhc_sf", "who5"])
def test_an_untouched_form_is_not_saved_and_says_so(client, db, entry, instrument):
    total, minimum = len(get_instrument(instrument).items), get_instrument(instrument).min_answered
    response = client.post(form_url(entry, instrument), data=answered(instrument, 0))
    page = text(response)
    assert response.status_code == 200
    assert form_message(page) == (
        "Er is geen vraag beantwoord, dus er is niets opgeslagen."
        f" Beantwoord minstens {minimum} van de {total} vragen."
    )
    assert f'value="{local_today().isoformat()}"' in page  # what was typed stays
    assert stored_responses(db) == []


@pytest.mark.parametrize(
    ("instrument", "unanswered"),
    [("k10", "8, 9, 10"), ("mhc_sf", "14"), ("who5", "5")],
)
def test_one_answer_short_of_the_minimum_is_refused(client, db, entry, instrument, unanswered):
    minimum = get_instrument(instrument).min_answered
    response = client.post(form_url(entry, instrument), data=answered(instrument, minimum - 1))
    page = text(response)
    assert response.status_code == 200
    assert form_message(page) == (
        "Te weinig vragen beantwoord voor een score, dus er is niets opgeslagen: beantwoord er"
        f" nog 1. Niet beantwoorde vragen: {unanswered}."
    )
    low = get_instrument(instrument).answer_range[0]
    assert checked_value(page, "item_1") == str(low + 1)  # the answers stay
    assert checked_value(page, f"item_{minimum}") == ""
    assert stored_responses(db) == []


@pytest.mark.parametrize("instrument", ["k10", "mhc_sf", "who5"])
def test_exactly_the_minimum_is_saved_with_a_score(client, db, entry, instrument):
    minimum = get_instrument(instrument).min_answered
    response = client.post(form_url(entry, instrument), data=answered(instrument, minimum))
    assert response.status_code == 302, text(response)
    (stored,) = stored_responses(db)
    assert stored.score is not None
    assert stored.missing_items == len(get_instrument(instrument).items) - minimum


def test_the_service_refuses_too_few_answers_whoever_calls_it(db, entry):
    with pytest.raises(ServiceError) as refused:
        outcomes.record_response(
            entry,
            instrument_key="k10",
            moment=Moment.INTAKE,
            taken_on=local_today(),
            answers={1: 3, 2: 3},
            actor=entry.therapist.user,
        )
    assert refused.value.errors[None] == (
        "Te weinig vragen beantwoord voor een score, dus er is niets opgeslagen: beantwoord er"
        " nog 6. Niet beantwoorde vragen: 3, 4, 5, 6, 7, 8, 9, 10."
    )
    assert stored_responses(db) == []
