"""Admin pages for organisations and users: valid changes, bad input, deactivation."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from referrals.models import AuditAction, AuditEvent, Organisation, OrganisationKind, Role, User
from tests import factories
from tests.helpers import text


@pytest.fixture
def admin(login_as):
    return login_as(Role.ADMIN)


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_admin_creates_a_gp_practice(client, db, admin):
    response = client.post(
        "/admin/organisations/new",
        data={"kind": "gp_practice", "name": "Huisartsen Centrum", "code": "0123 4567"},
    )
    assert response.status_code == 302
    organisation = db.session.scalar(
        sa.select(Organisation).where(Organisation.name == "Huisartsen Centrum")
    )
    assert organisation.code == "01234567"
    assert organisation.kind is OrganisationKind.GP_PRACTICE
    listing = text(client.get("/admin/organisations"))
    assert "Huisartsen Centrum" in listing and "01234567" in listing
    created = db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == AuditAction.CREATE,
            AuditEvent.object_type == "organisations",
            AuditEvent.object_id == str(organisation.id),
        )
    )
    assert created.user_id == admin.id and created.user_role == "admin"


def test_municipality_code_is_normalised(client, db, admin):
    client.post(
        "/admin/organisations/new",
        data={"kind": "municipality", "name": "Gemeente X", "code": "gm0575"},
    )
    assert (
        db.session.scalar(sa.select(Organisation.code).where(Organisation.name == "Gemeente X"))
        == "GM0575"
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "gp_practice", "name": "Praktijk", "code": "1234567"}, "code"),
        ({"kind": "gp_practice", "name": "Praktijk", "code": ""}, "code"),
        ({"kind": "municipality", "name": "Gemeente", "code": "GM57"}, "code"),
        ({"kind": "municipality", "name": "Gemeente", "code": ""}, "code"),
        ({"kind": "school", "name": "School", "code": "ABCD"}, "code"),
        ({"kind": "gp_practice", "name": "", "code": "12345678"}, "name"),
        ({"kind": "spaceship", "name": "Praktijk", "code": "12345678"}, "kind"),
    ],
)
def test_bad_organisation_input_is_explained_next_to_the_field(client, db, admin, data, field):
    before = count(db, Organisation)
    response = client.post("/admin/organisations/new", data=data)
    page = text(response)
    assert response.status_code == 200
    assert f'id="{field}-error"' in page
    if data["name"]:
        assert f'value="{data["name"]}"' in page
    if data["code"]:
        assert f'value="{data["code"]}"' in page
    assert count(db, Organisation) == before


def test_the_same_code_cannot_be_used_twice(client, db, admin):
    factories.make_organisation(kind=OrganisationKind.GP_PRACTICE, name="Eerste")
    existing = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Eerste"))
    response = client.post(
        "/admin/organisations/new",
        data={"kind": "gp_practice", "name": "Tweede", "code": existing.code},
    )
    assert 'id="code-error"' in text(response)
    assert db.session.scalar(sa.select(Organisation).where(Organisation.name == "Tweede")) is None


def test_admin_edits_an_organisation(client, db, admin):
    organisation = factories.make_organisation(kind=OrganisationKind.MUNICIPALITY)
    page = client.get(f"/admin/organisations/{organisation.id}/edit")
    assert organisation.name in text(page)
    response = client.post(
        f"/admin/organisations/{organisation.id}/edit",
        data={"name": "Gemeente Nieuw", "code": "GM0001"},
    )
    assert response.status_code == 302
    db.session.refresh(organisation)
    assert (organisation.name, organisation.code) == ("Gemeente Nieuw", "GM0001")


def test_unknown_organisation_is_404(client, admin):
    assert client.get("/admin/organisations/999999/edit").status_code == 404
    assert client.get("/admin/users/999999/edit").status_code == 404


def test_deactivating_an_organisation_logs_out_its_users(app, client, db, admin, login_as):
    organisation = factories.make_organisation(kind=OrganisationKind.MUNICIPALITY)
    member = factories.make_user(role=Role.OFFICER, organisation=organisation)
    members_browser = app.test_client()
    login_as(user=member, into=members_browser)
    assert members_browser.get("/").status_code == 200
    client.post(f"/admin/organisations/{organisation.id}/active", data={"active": "0"})
    assert members_browser.get("/").headers["Location"].startswith("/login")
    client.post(f"/admin/organisations/{organisation.id}/active", data={"active": "1"})
    db.session.refresh(organisation)
    assert organisation.active


def test_admin_cannot_deactivate_own_organisation(client, db, admin):
    client.post(f"/admin/organisations/{admin.organisation_id}/active", data={"active": "0"})
    db.session.refresh(admin)
    assert admin.organisation.active


def new_user_data(organisation: Organisation, **changes) -> dict:
    data = {
        "organisation_id": str(organisation.id),
        "name": "Nieuwe Collega",
        "email": "collega@example.org",
        "role": "referrer",
        "password": "a temporary password",
    }
    data.update(changes)
    return data


def test_admin_creates_a_user_who_enrols_at_first_login(app, client, db, admin):
    practice = factories.make_organisation(kind=OrganisationKind.GP_PRACTICE)
    response = client.post(
        "/admin/users/new", data=new_user_data(practice, email="Collega@Example.org")
    )
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "collega@example.org"))
    assert user.role is Role.REFERRER and user.must_change_password
    assert user.totp_secret is None
    first = app.test_client().post(
        "/login", data={"email": "collega@example.org", "password": "a temporary password"}
    )
    assert first.headers["Location"] == "/login/authenticator"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": ""}, "email"),
        ({"name": ""}, "name"),
        ({"password": "short"}, "password"),
        ({"role": "therapist"}, "role"),  # a therapist does not work at a GP practice
        ({"role": "superuser"}, "role"),
        ({"organisation_id": "999999"}, "organisation_id"),
    ],
)
def test_bad_user_input_is_explained_and_nothing_is_saved(client, db, admin, changes, field):
    practice = factories.make_organisation(kind=OrganisationKind.GP_PRACTICE)
    before = count(db, User)
    data = new_user_data(practice, **changes)
    response = client.post("/admin/users/new", data=data)
    page = text(response)
    assert response.status_code == 200
    assert f'id="{field}-error"' in page
    if data["name"]:
        assert f'value="{data["name"]}"' in page
    assert data["password"] not in page  # passwords are never echoed
    assert count(db, User) == before


def test_an_e_mail_address_is_used_once(client, db, admin):
    practice = factories.make_organisation(kind=OrganisationKind.GP_PRACTICE)
    factories.make_user(email="bezet@example.org", organisation=practice)
    response = client.post(
        "/admin/users/new", data=new_user_data(practice, email="BEZET@example.org")
    )
    assert 'id="email-error"' in text(response)


def test_admin_edits_a_user_and_a_role_change_logs_them_out(app, client, db, admin, login_as):
    municipality = factories.make_organisation(kind=OrganisationKind.MUNICIPALITY)
    user = factories.make_user(role=Role.REFERRER, organisation=municipality)
    users_browser = app.test_client()
    login_as(user=user, into=users_browser)
    response = client.post(
        f"/admin/users/{user.id}/edit",
        data={"name": "Andere Naam", "email": user.email, "role": "coordinator"},
    )
    assert response.status_code == 302
    db.session.refresh(user)
    assert (user.name, user.role) == ("Andere Naam", Role.COORDINATOR)
    assert users_browser.get("/").headers["Location"].startswith("/login")


def test_edit_form_with_bad_input_keeps_what_was_typed(client, db, admin):
    user = factories.make_user()
    response = client.post(
        f"/admin/users/{user.id}/edit",
        data={"name": "Getypte Naam", "email": "kapot", "role": "referrer"},
    )
    page = text(response)
    assert 'id="email-error"' in page and 'value="kapot"' in page and 'value="Getypte Naam"' in page
    db.session.refresh(user)
    assert user.name != "Getypte Naam"


def test_admin_cannot_deactivate_themselves(client, db, admin):
    client.post(f"/admin/users/{admin.id}/deactivate")
    db.session.refresh(admin)
    assert admin.active


def test_deactivate_and_reactivate(client, db, admin):
    user = factories.make_user()
    client.post(f"/admin/users/{user.id}/deactivate")
    db.session.refresh(user)
    assert not user.active and user.deactivated_at is not None
    client.post(f"/admin/users/{user.id}/reactivate")
    db.session.refresh(user)
    assert user.active


def test_reset_second_factor_makes_the_user_enrol_again(app, client, db, admin):
    user = factories.make_user()
    client.post(f"/admin/users/{user.id}/reset-second-factor")
    db.session.refresh(user)
    assert user.totp_secret is None and user.totp_confirmed_at is None
    first = app.test_client().post(
        "/login", data={"email": user.email, "password": factories.PASSWORD}
    )
    assert first.headers["Location"] == "/login/authenticator"


def test_temporary_password(client, db, admin):
    user = factories.make_user()
    short = client.post(f"/admin/users/{user.id}/password", data={"password": "kort"})
    assert 'id="password-error"' in text(short)
    db.session.refresh(user)
    assert not user.must_change_password
    client.post(f"/admin/users/{user.id}/password", data={"password": "nieuw tijdelijk wachtwoord"})
    db.session.refresh(user)
    assert user.must_change_password


def test_user_list_filters_by_organisation_and_role(client, db, admin):
    municipality = factories.make_organisation(kind=OrganisationKind.MUNICIPALITY)
    officer = factories.make_user(role=Role.OFFICER, organisation=municipality)
    coordinator = factories.make_user(role=Role.COORDINATOR, organisation=municipality)
    outsider = factories.make_user(role=Role.OFFICER)
    page = text(client.get(f"/admin/users?organisation={municipality.id}&role=officer"))
    assert officer.email in page
    assert coordinator.email not in page and outsider.email not in page


def test_bad_code_on_edit_keeps_the_old_values(client, db, admin):
    organisation = factories.make_organisation(kind=OrganisationKind.GP_PRACTICE)
    old_code = organisation.code
    response = client.post(
        f"/admin/organisations/{organisation.id}/edit", data={"name": "Nieuwe Naam", "code": "12"}
    )
    page = text(response)
    assert 'id="code-error"' in page and 'value="12"' in page and 'value="Nieuwe Naam"' in page
    db.session.refresh(organisation)
    assert (organisation.name, organisation.code) != ("Nieuwe Naam", "12")
    assert organisation.code == old_code
