"""Ranking and exclusion as a table: who fits a referral, in what order, and why not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from referrals.models import Role, local_today
from referrals.services.referrals.matching import match_referral
from tests import factories


@pytest.fixture
def programme(db):
    """The world's programme (PC4 2200-2299) without therapists; `.gp` refers to it."""
    world = factories.make_world(therapist=False)
    world.programme.gp = world.gp
    return world.programme


def therapist(programme, name, **changes):
    values = {
        "user": factories.make_user(role=Role.THERAPIST),
        "name": name,
        "programmes": [programme],
    }
    values.update(changes)
    return factories.make_therapist(**values)


def referral(programme, **changes):
    from referrals.services.referrals.intake import submit_referral

    details = factories.referral_details(
        preferred_form=changes.pop("preferred_form", "group"),
        preferred_days=changes.pop("preferred_days", ["tue", "thu"]),
    )
    return submit_referral(
        referrer=programme.gp,
        programme=programme,
        participant=factories.participant_details(postcode=changes.pop("postcode", "2201 AB")),
        details=details,
        confirm_duplicate=True,
    )


TODAY = local_today()
# name, therapist settings, excluded because (words of the Dutch reason) or None
EXCLUSIONS = [
    ("Expired", {"registered_until": TODAY - timedelta(days=1)}, "registratie verlopen"),
    ("Closed", {"accepting_referrals": False}, "geen nieuwe verwijzingen"),
    ("Full", {"capacity": 3, "active_participants": 3}, "vol"),
    ("Solo only", {"offers_group": False}, "geen groepstraining"),
    ("Far away", {"postcode": "3011 AB", "travel_radius_km": 20}, "te ver"),
    ("No account", {"user": None}, "geen account"),
    ("Fits", {}, None),
    ("Expires today", {"registered_until": TODAY}, None),
]


@pytest.mark.parametrize(("name", "settings", "why"), EXCLUSIONS, ids=[e[0] for e in EXCLUSIONS])
def test_exclusion_table(db, programme, name, settings, why):
    person = therapist(programme, name, **settings)
    result = match_referral(referral(programme), TODAY)
    if why is None:
        assert [c.therapist for c in result.candidates] == [person]
        assert result.excluded == []
    else:
        assert result.candidates == []
        (excluded,) = result.excluded
        assert excluded.therapist == person
        assert any(why in reason for reason in excluded.reasons), excluded.reasons


def test_therapists_outside_the_programme_are_not_considered(db, programme):
    other_programme = factories.make_programme()
    therapist(other_programme, "Elders")
    result = match_referral(referral(programme), TODAY)
    assert result.candidates == [] and result.excluded == []


def test_ranking_by_distance_then_days_then_free_places(db, programme):
    leiden = therapist(programme, "Leiden", postcode="2311 AB", weekdays=("tue", "thu"))
    near_no_days = therapist(
        programme, "Dichtbij, andere dagen", postcode="2201 CK", weekdays=("mon",)
    )
    near_days = therapist(
        programme, "Dichtbij, goede dagen", postcode="2201 CK", weekdays=("tue", "thu")
    )
    near_days_roomier = therapist(
        programme,
        "Dichtbij, goede dagen, meer plek",
        postcode="2201 CK",
        weekdays=("tue", "thu"),
        capacity=12,
    )
    result = match_referral(referral(programme), TODAY)
    assert [c.therapist for c in result.candidates] == [
        near_days_roomier,
        near_days,
        near_no_days,
        leiden,
    ]
    assert result.best.therapist == near_days_roomier


def test_each_line_explains_itself_in_dutch(app, db, programme):
    therapist(
        programme,
        "Eva",
        postcode="2311 AB",
        capacity=8,
        active_participants=5,
        weekdays=("tue", "thu", "sat"),
    )
    with app.test_request_context():
        line = match_referral(referral(programme), TODAY).candidates[0].explanation
    km, places, days = line.split(" · ")
    assert km.endswith(" km") and "," in km  # Dutch decimal comma, e.g. "11,8 km"
    assert 8 <= float(km.removesuffix(" km").replace(",", ".")) <= 16
    assert places == "3 van 8 plekken vrij"
    assert days == "groep op di en do"


def test_individual_and_either_forms(db, programme):
    group_only = therapist(programme, "Groep", offers_individual=False)
    individual_only = therapist(programme, "Individueel", offers_group=False)
    wants_individual = match_referral(referral(programme, preferred_form="individual"), TODAY)
    assert [c.therapist for c in wants_individual.candidates] == [individual_only]
    assert [e.therapist for e in wants_individual.excluded] == [group_only]
    either = match_referral(referral(programme, preferred_form="either"), TODAY)
    assert {c.therapist for c in either.candidates} == {group_only, individual_only}


def test_a_postcode_in_a_block_without_known_pc4s_gives_a_notice_not_an_error(app, db):
    world = factories.make_world(therapist=False, areas="2200-2309")
    world.programme.gp = world.gp
    therapist(world.programme, "Eva", postcode="2311 AB")
    with app.test_request_context():
        result = match_referral(referral(world.programme, postcode="2300 AA"), TODAY)
    (candidate,) = result.candidates
    assert candidate.distance_km is None
    assert candidate.explanation.startswith("afstand onbekend · ")
    assert "geschat" not in candidate.explanation
    assert result.notices == [
        "De locatie van postcode 2300 AA is onbekend. "
        "Daarom kunnen er geen afstanden worden getoond."
    ]


def test_the_demo_waiting_referral_in_2210_gets_a_distance_estimated_via_2211(app, db, programme):
    from referrals.services.therapists import geo

    therapist(programme, "Eva", postcode="2201 CK")
    with app.test_request_context():
        result = match_referral(referral(programme, postcode="2210 TV"), TODAY)
    (candidate,) = result.candidates
    assert candidate.distance_km == pytest.approx(geo.distance_km("2211", "2201"))
    assert 3 <= candidate.distance_km <= 5  # Noordwijkerhout - Noordwijk, not "unknown"
    km, estimate, *_rest = candidate.explanation.split(" · ")
    assert km.endswith(" km")
    assert estimate == "afstand geschat via 2211 (Noordwijkerhout)"
    assert result.notices == [
        "Postcode 2210 TV staat niet in de postcodegegevens; afstanden zijn geschat via "
        "2211 (Noordwijkerhout)."
    ]


def test_an_estimated_practice_location_is_named_too(app, db, programme):
    therapist(programme, "Praktijk zonder eigen centrum", postcode="2213 AB")
    with app.test_request_context():
        result = match_referral(referral(programme, postcode="2201 AB"), TODAY)
    (candidate,) = result.candidates
    assert candidate.distance_km is not None and result.notices == []
    assert candidate.explanation.split(" · ")[1] == (
        "praktijklocatie geschat via 2212 (Noordwijkerhout) en 2215 (Voorhout)"
    )


def test_a_known_pc4_gives_an_exact_distance_without_an_estimate(app, db, programme):
    therapist(programme, "Eva", postcode="2311 AB")
    with app.test_request_context():
        result = match_referral(referral(programme, postcode="2201 AB"), TODAY)
    (candidate,) = result.candidates
    assert (candidate.home_via, candidate.practice_via) == ((), ())
    assert "geschat" not in candidate.explanation and result.notices == []


def test_ranking_uses_the_estimated_distance(db, programme):
    """Without an estimate both therapists were "unknown" and ranked by days; with one, the
    nearer practice comes first although the other has the preferred days."""
    far = therapist(programme, "Leiden, goede dagen", postcode="2311 AB", weekdays=("tue", "thu"))
    near = therapist(
        programme, "Noordwijkerhout, andere dag", postcode="2211 AD", weekdays=("mon",)
    )
    result = match_referral(referral(programme, postcode="2210 TV"), TODAY)
    assert [c.therapist for c in result.candidates] == [near, far]


def test_a_deactivated_account_gets_no_offers(db, programme):
    from referrals.services.accounts import deactivate_user

    person = therapist(programme, "Weg")
    deactivate_user(person.user, actor=factories.make_user(role=Role.ADMIN))
    result = match_referral(referral(programme), TODAY)
    assert result.candidates == []
    assert "account gedeactiveerd" in result.excluded[0].reasons or (
        "account deactivated" in result.excluded[0].reasons
    )
