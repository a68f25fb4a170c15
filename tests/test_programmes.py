"""Admin pages for programmes: creating, changing, and bad input explained next to its field."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa

from referrals.blueprints.programmes.forms import format_euros, parse_euro_cents
from referrals.models import (
    AuditAction,
    AuditEvent,
    Organisation,
    OrganisationKind,
    PostcodeArea,
    Programme,
    Role,
    User,
)
from referrals.services import accounts
from tests import factories
from tests.helpers import text


@pytest.fixture
def admin(login_as):
    return login_as(Role.ADMIN)


@dataclass
class Members:
    funder: Organisation
    practice: Organisation
    other_practice: Organisation
    coordinator: User
    referrer: User


@pytest.fixture
def members(db) -> Members:
    funder = factories.make_organisation(kind=OrganisationKind.MUNICIPALITY, name="Gemeente Test")
    practice = factories.make_organisation(kind=OrganisationKind.GP_PRACTICE)
    return Members(
        funder=funder,
        practice=practice,
        other_practice=factories.make_organisation(kind=OrganisationKind.GP_PRACTICE),
        coordinator=factories.make_user(role=Role.COORDINATOR, organisation=funder),
        referrer=factories.make_user(role=Role.REFERRER, organisation=practice),
    )


def programme_data(members: Members, **changes) -> dict:
    data = {
        "name": "Rennen in de duinen",
        "funder_id": str(members.funder.id),
        "starts_on": "2026-01-01",
        "ends_on": "2027-12-31",
        "referrer_organisations": [str(members.practice.id), str(members.other_practice.id)],
        "coordinators": [str(members.coordinator.id)],
        "postcode_areas": "2201-2204, 2211",
        "min_age": "18",
        "funded_places": "40",
        "trajectory_weeks": "12",
        "supervised_sessions": "12",
        "tariff": "45,50",
        "questionnaires": ["mhc_sf", "k10"],
        "offer_deadline_days": "5",
    }
    data.update(changes)
    return data


def count_programmes(db) -> int:
    return db.session.scalar(sa.select(sa.func.count(Programme.id)))


def checkbox_values(page: str, name: str, *, checked: bool = False) -> set[str]:
    """The values of the (checked) checkboxes called `name` in a rendered page."""
    inputs = re.findall(rf'<input[^>]*name="{name}"[^>]*>', page)
    return {
        re.search(r'value="([^"]*)"', tag).group(1)
        for tag in inputs
        if not checked or " checked" in tag
    }


def checked_values(page: str, name: str) -> set[str]:
    return checkbox_values(page, name, checked=True)


def test_admin_creates_a_programme(client, db, admin, members):
    response = client.post("/admin/programmes/new", data=programme_data(members))
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/programmes"
    programme = db.session.scalar(
        sa.select(Programme).where(Programme.name == "Rennen in de duinen")
    )
    assert programme.funder_id == members.funder.id
    assert (programme.starts_on, programme.ends_on) == (date(2026, 1, 1), date(2027, 12, 31))
    assert [(a.pc4_from, a.pc4_to) for a in programme.postcode_areas] == [
        (2201, 2204),
        (2211, 2211),
    ]
    assert {o.id for o in programme.referrer_organisations} == {
        members.practice.id,
        members.other_practice.id,
    }
    assert [u.id for u in programme.coordinators] == [members.coordinator.id]
    assert programme.tariff_cents == 4550
    assert (programme.min_age, programme.funded_places) == (18, 40)
    assert (programme.trajectory_weeks, programme.supervised_sessions) == (12, 12)
    assert sorted(programme.questionnaires) == ["k10", "mhc_sf"]
    assert programme.active
    created = db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == AuditAction.CREATE,
            AuditEvent.object_type == "programmes",
            AuditEvent.object_id == str(programme.id),
        )
    )
    assert created.user_id == admin.id

    listing = text(client.get("/admin/programmes"))
    row = re.search(rf'<tr id="programme-{programme.id}">.*?</tr>', listing, re.S).group(0)
    assert "Rennen in de duinen" in row and "Gemeente Test" in row
    assert "<td>2</td>" in row and "<td>40</td>" in row


def test_the_form_offers_only_funders_referrers_and_coordinators(client, db, admin, members):
    therapists = factories.make_organisation(kind=OrganisationKind.THERAPIST_PRACTICE)
    inactive = factories.make_organisation(kind=OrganisationKind.GP_PRACTICE)
    accounts.set_organisation_active(inactive, False)
    page = text(client.get("/admin/programmes/new"))
    funder_options = re.search(r'<select[^>]*name="funder_id".*?</select>', page, re.S).group(0)
    assert set(re.findall(r'value="([^"]*)"', funder_options)) == {"", str(members.funder.id)}
    # A municipality refers through its social team; therapists and inactive practices do not.
    assert checkbox_values(page, "referrer_organisations") == {
        str(members.funder.id),
        str(members.practice.id),
        str(members.other_practice.id),
    }
    assert str(therapists.id) not in checkbox_values(page, "referrer_organisations")
    assert str(inactive.id) not in checkbox_values(page, "referrer_organisations")
    assert checkbox_values(page, "coordinators") == {str(members.coordinator.id)}
    assert '<fieldset class="field choice-group" id="questionnaires"' in page
    assert 'value="18"' in page  # the default minimum age


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("45,50", 4550), ("45.5", 4550), ("45", 4500), ("€ 45,-", 4500), (" 0,05 ", 5)],
)
def test_tariffs_are_read_the_dutch_way(typed, cents):
    assert parse_euro_cents(typed) == cents


@pytest.mark.parametrize("typed", ["veel", "", "45,505", "-5", "1.234,50", "4 5,5x", "٤٥"])
def test_a_tariff_that_is_not_an_amount_is_refused(typed):
    with pytest.raises(ValueError):
        parse_euro_cents(typed)


def test_edit_form_shows_the_programme(app, client, db, admin, members):
    programme = factories.make_programme(
        funder=members.funder,
        referrers=[members.practice],
        coordinators=[members.coordinator],
        areas="2201-2204, 2211",
        name="Bestaand programma",
    )
    page = text(client.get(f"/admin/programmes/{programme.id}/edit"))
    assert 'value="Bestaand programma"' in page
    assert "2201-2204, 2211</textarea>" in page
    with app.test_request_context():
        assert f'value="{format_euros(programme.tariff_cents)}"' in page
    assert 'value="45,00"' in page  # Dutch by default
    assert checked_values(page, "referrer_organisations") == {str(members.practice.id)}
    assert checked_values(page, "coordinators") == {str(members.coordinator.id)}
    assert checked_values(page, "questionnaires") == {"k10"}


def test_admin_edits_a_programme(client, db, admin, members):
    programme = factories.make_programme(
        funder=members.funder, referrers=[members.practice], name="Oude naam"
    )
    old_area_ids = {a.id for a in programme.postcode_areas}
    data = programme_data(
        members,
        name="Nieuwe naam",
        ends_on="",
        referrer_organisations=[str(members.other_practice.id)],
        coordinators=[],
        postcode_areas="8211-8245",
        tariff="38.50",
        questionnaires=["who5"],
    )
    response = client.post(f"/admin/programmes/{programme.id}/edit", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    programme = db.session.get(Programme, programme.id)
    assert (programme.name, programme.ends_on, programme.tariff_cents) == (
        "Nieuwe naam",
        None,
        3850,
    )
    assert [o.id for o in programme.referrer_organisations] == [members.other_practice.id]
    assert programme.coordinators == []
    assert [str(a) for a in programme.postcode_areas] == ["8211-8245"]
    assert programme.questionnaires == ["who5"]
    # The old areas are gone, not left behind without a programme.
    assert not db.session.scalars(
        sa.select(PostcodeArea).where(PostcodeArea.id.in_(old_area_ids))
    ).all()
    assert "Nieuwe naam" in text(client.get("/admin/programmes"))


def test_editing_keeps_a_member_that_was_deactivated_since(client, db, admin, members):
    programme = factories.make_programme(funder=members.funder, referrers=[members.practice])
    accounts.set_organisation_active(members.practice, False)
    page = text(client.get(f"/admin/programmes/{programme.id}/edit"))
    assert checked_values(page, "referrer_organisations") == {str(members.practice.id)}
    data = programme_data(members, referrer_organisations=[str(members.practice.id)])
    assert client.post(f"/admin/programmes/{programme.id}/edit", data=data).status_code == 302
    db.session.expire_all()
    assert [o.id for o in db.session.get(Programme, programme.id).referrer_organisations] == [
        members.practice.id
    ]


def _bad(field, typed, **changes):
    return pytest.param(field, typed, changes, id=field + ":" + "/".join(changes))


@pytest.mark.parametrize(
    ("field", "typed", "changes"),
    [
        _bad("name", "2201-2204, 2211</textarea>", name=""),
        _bad("name", f'value="{"x" * 201}"', name="x" * 201),
        _bad("funder_id", 'value="Rennen in de duinen"', funder_id="{practice}"),
        _bad("funder_id", 'value="Rennen in de duinen"', funder_id="abc"),
        _bad("starts_on", 'value="31-2-2026"', starts_on="31-2-2026"),
        _bad("ends_on", 'value="2025-12-31"', ends_on="2025-12-31"),
        _bad("ends_on", 'value="morgen"', ends_on="morgen"),
        _bad(
            "referrer_organisations",
            'value="Rennen in de duinen"',
            referrer_organisations=["999999"],
        ),
        _bad("referrer_organisations", 'value="Rennen in de duinen"', referrer_organisations=["x"]),
        _bad("coordinators", 'value="Rennen in de duinen"', coordinators=["{referrer}"]),
        _bad("postcode_areas", "22a1</textarea>", postcode_areas="22a1"),
        _bad("postcode_areas", "5000-4000</textarea>", postcode_areas="5000-4000"),
        _bad("postcode_areas", "0999</textarea>", postcode_areas="0999"),
        _bad("min_age", 'value="-1"', min_age="-1"),
        _bad("min_age", 'value="achttien"', min_age="achttien"),
        _bad("funded_places", 'value="-3"', funded_places="-3"),
        _bad("trajectory_weeks", 'value="0"', trajectory_weeks="0"),
        _bad("supervised_sessions", 'value="201"', supervised_sessions="201"),
        _bad("tariff", 'value="veel"', tariff="veel"),
        _bad("tariff", 'value="Rennen in de duinen"', tariff=""),
        _bad("questionnaires", 'value="Rennen in de duinen"', questionnaires=["k10", "sf36"]),
    ],
)
def test_bad_input_is_explained_next_to_the_field(
    client, db, admin, members, field, typed, changes
):
    ids = {"practice": str(members.practice.id), "referrer": str(members.referrer.id)}
    changes = {
        key: [v.format(**ids) for v in value] if isinstance(value, list) else value.format(**ids)
        for key, value in changes.items()
    }
    before = count_programmes(db)
    response = client.post("/admin/programmes/new", data=programme_data(members, **changes))
    page = text(response)
    assert response.status_code == 200
    assert f'id="{field}-error"' in page
    assert typed in page
    assert count_programmes(db) == before


def test_bad_input_on_edit_changes_nothing(client, db, admin, members):
    programme = factories.make_programme(funder=members.funder, name="Blijft zo")
    data = programme_data(members, name="Getypt", starts_on="2026-06-01", ends_on="2026-01-01")
    response = client.post(f"/admin/programmes/{programme.id}/edit", data=data)
    page = text(response)
    assert 'id="ends_on-error"' in page and 'value="Getypt"' in page
    db.session.expire_all()
    programme = db.session.get(Programme, programme.id)
    assert programme.name == "Blijft zo" and programme.referrer_organisations == []


def test_unknown_programme_is_404(client, admin):
    assert client.get("/admin/programmes/999999/edit").status_code == 404
    assert client.post("/admin/programmes/999999/edit", data={}).status_code == 404


def test_offer_settings_are_programme_settings(client, db, admin, members):
    """How long therapists have to answer an offer, and whether offers go out automatically."""
    programme = factories.make_programme(funder=members.funder, referrers=[members.practice])
    page = client.get(f"/admin/programmes/{programme.id}/edit").get_data(as_text=True)
    assert 'name="offer_deadline_days"' in page and 'name="auto_offer"' in page
    data = programme_data(members, offer_deadline_days="3", auto_offer="y")
    assert client.post(f"/admin/programmes/{programme.id}/edit", data=data).status_code == 302
    db.session.refresh(programme)
    assert (programme.offer_deadline_days, programme.auto_offer) == (3, True)
    bad = programme_data(members, offer_deadline_days="0", name="Niet opgeslagen")
    page = client.post(f"/admin/programmes/{programme.id}/edit", data=bad).get_data(as_text=True)
    assert 'id="offer_deadline_days-error"' in page
    db.session.refresh(programme)
    assert programme.offer_deadline_days == 3 and programme.name != "Niet opgeslagen"


def test_an_admin_deactivates_a_programme_and_it_takes_no_new_referrals(client, db, login_as):
    from referrals.models import AuditEvent
    from referrals.services.referrals.intake import can_refer_to

    world = factories.make_world(therapist=False)
    referrer, programme = world.gp, world.programme
    assert can_refer_to(referrer, programme)
    login_as(Role.ADMIN)
    page = text(client.get(f"/admin/programmes/{programme.id}/edit"))
    assert "Programma deactiveren" in page
    response = client.post(f"/admin/programmes/{programme.id}/active", data={"active": "0"})
    assert response.status_code == 302
    db.session.refresh(programme)
    assert programme.active is False and not can_refer_to(referrer, programme)
    page = text(client.get(f"/admin/programmes/{programme.id}/edit"))
    assert "neemt geen nieuwe verwijzingen aan" in page and "Programma weer activeren" in page
    client.post(f"/admin/programmes/{programme.id}/active", data={"active": "1"})
    db.session.refresh(programme)
    assert programme.active is True
    details = db.session.scalars(
        sa.select(AuditEvent.detail).where(AuditEvent.object_type == "programmes")
    ).all()
    assert "deactivated" in details and "activated" in details
