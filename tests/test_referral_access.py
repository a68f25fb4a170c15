"""Separation: two municipalities, two GP practices; every referral URL with the other side's
ids gives 404, and lists never show another organisation's referrals."""

from __future__ import annotations

import pytest

from referrals.models import Role
from tests import factories
from tests.helpers import text

REFERRAL_URLS = [
    ("GET", "/referrals/{id}"),
    ("GET", "/referrals/{id}/withdraw"),
    ("POST", "/referrals/{id}/withdraw"),
    ("GET", "/triage/{id}/reject"),
    ("POST", "/triage/{id}/reject"),
]


class Side:
    """One municipality's world (GP practice and social team) with a referral from each."""

    def __init__(self, name: str, areas: str, postcode: str):
        world = factories.make_world(name=name, areas=areas, social_team=True, therapist=False)
        self.coordinator, self.gp = world.coordinator, world.gp
        self.social_worker, self.programme = world.social_worker, world.programme
        self.gp_referral = factories.make_referral(
            programme=self.programme,
            referrer=self.gp,
            last_name=f"Huisarts{name}",
            postcode=postcode,
        )
        self.team_referral = factories.make_referral(
            programme=self.programme,
            referrer=self.social_worker,
            last_name=f"Team{name}",
            postcode=postcode,
        )

    def users(self):
        return [self.coordinator, self.gp, self.social_worker]

    def referrals(self):
        return [self.gp_referral, self.team_referral]


@pytest.fixture
def sides(db):
    return Side("Noord", "2200-2299", "2201 AB"), Side("Oost", "8200-8299", "8211 CD")


@pytest.mark.parametrize(("method", "url"), REFERRAL_URLS)
def test_other_sides_referrals_are_404(app, db, login_as, sides, method, url):
    for mine, theirs in (sides, reversed(sides)):
        for user in mine.users():
            client = app.test_client()
            login_as(user=user, into=client)
            for referral in theirs.referrals():
                response = client.open(url.format(id=referral.id), method=method)
                assert response.status_code == 404, (user, url, referral.id)


def test_a_gp_cannot_see_the_social_teams_referral_in_the_same_programme(
    app, client, db, login_as, sides
):
    noord, _ = sides
    login_as(user=noord.gp)
    assert client.get(f"/referrals/{noord.team_referral.id}").status_code == 404
    assert client.get(f"/referrals/{noord.gp_referral.id}").status_code == 200


def test_lists_show_only_what_the_user_may_see(app, db, login_as, sides):
    noord, oost = sides
    expectations = {
        noord.gp: ({"HuisartsNoord"}, {"TeamNoord", "HuisartsOost", "TeamOost"}),
        noord.social_worker: ({"TeamNoord"}, {"HuisartsNoord", "HuisartsOost", "TeamOost"}),
        noord.coordinator: ({"HuisartsNoord", "TeamNoord"}, {"HuisartsOost", "TeamOost"}),
        oost.coordinator: ({"HuisartsOost", "TeamOost"}, {"HuisartsNoord", "TeamNoord"}),
    }
    for user, (shown, hidden) in expectations.items():
        client = app.test_client()
        login_as(user=user, into=client)
        page = text(client.get("/referrals?q=a"))  # a search across all names
        page += text(client.get("/referrals"))
        for name in shown:
            assert name in page, (user, name)
        for name in hidden:
            assert name not in page, (user, name)


def test_coordinator_queue_only_holds_their_programmes(client, db, login_as, sides):
    noord, oost = sides
    login_as(user=noord.coordinator)
    page = text(client.get("/triage"))
    assert noord.gp_referral.reference in page
    assert oost.gp_referral.reference not in page


@pytest.mark.parametrize("role", [Role.THERAPIST, Role.OFFICER, Role.ADMIN])
def test_therapists_officers_and_admins_see_no_referrals(client, db, login_as, sides, role):
    noord, _ = sides
    login_as(role)
    assert client.get("/referrals").status_code == 403
    assert client.get(f"/referrals/{noord.gp_referral.id}").status_code == 403
