"""Demo data: every role, two municipalities and two GP practices, loading twice is harmless."""

from __future__ import annotations

import pyotp
import sqlalchemy as sa

from referrals.demo import ACCOUNTS, DEMO_PASSWORD, PROGRAMMES, load_demo_data
from referrals.models import Organisation, OrganisationKind, Programme, Role, User
from tests.helpers import text


def counts(db) -> tuple[int, int, int]:
    return (
        db.session.scalar(sa.select(sa.func.count(Organisation.id))),
        db.session.scalar(sa.select(sa.func.count(User.id))),
        db.session.scalar(sa.select(sa.func.count(Programme.id))),
    )


def test_demo_data_covers_every_role_and_loads_once(app, db):
    with app.test_request_context():
        assert load_demo_data() == len(ACCOUNTS)
        db.session.commit()
        first = counts(db)
        assert load_demo_data() == 0
        db.session.commit()
    assert counts(db) == first
    roles = set(db.session.scalars(sa.select(User.role)))
    assert roles == set(Role)
    kinds = list(db.session.scalars(sa.select(Organisation.kind)))
    assert kinds.count(OrganisationKind.MUNICIPALITY) >= 2
    assert kinds.count(OrganisationKind.GP_PRACTICE) >= 2


def test_demo_programmes_exist_once_with_their_members(app, db):
    with app.test_request_context():
        load_demo_data()
        load_demo_data()
        db.session.commit()
    names = [spec.name for spec in PROGRAMMES]
    programmes = db.session.scalars(sa.select(Programme).where(Programme.name.in_(names))).all()
    assert sorted(p.name for p in programmes) == sorted(names)
    by_name = {p.name: p for p in programmes}
    noordwijk = by_name["Runningtherapie op recept Noordwijk"]
    assert noordwijk.funder.name == "Gemeente Noordwijk"
    assert {o.kind for o in noordwijk.referrer_organisations} == {OrganisationKind.GP_PRACTICE}
    assert len(noordwijk.referrer_organisations) == 2
    assert [str(a) for a in noordwijk.postcode_areas] == ["2200-2204", "2210-2211"]
    assert (noordwijk.tariff_cents, noordwijk.funded_places) == (4500, 40)
    lelystad = by_name["Welzijn op recept Lelystad: in beweging"]
    assert [o.name for o in lelystad.referrer_organisations] == ["Gemeente Lelystad"]
    assert [u.email for u in lelystad.coordinators] == ["coordinator@lelystad.example"]
    assert (lelystad.ends_on, lelystad.tariff_cents) == (None, 3850)
    assert sorted(lelystad.questionnaires) == ["k10", "who5"]


def test_a_demo_account_logs_in_with_the_printed_secret(app, client, db):
    with app.test_request_context():
        load_demo_data()
        db.session.commit()
    account = next(a for a in ACCOUNTS if a.role is Role.COORDINATOR)
    client.post("/login", data={"email": account.email, "password": DEMO_PASSWORD})
    response = client.post("/login/code", data={"code": pyotp.TOTP(account.totp_secret).now()})
    assert response.headers["Location"] == "/"
    assert account.name in text(client.get("/"))


def test_cli_prints_every_demo_account(app):
    result = app.test_cli_runner().invoke(args=["demo-accounts"])
    assert result.exit_code == 0
    for account in ACCOUNTS:
        assert account.email in result.output and account.totp_secret in result.output
    assert DEMO_PASSWORD in result.output
