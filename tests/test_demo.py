"""Demo data: every role, two municipalities and two GP practices, loading twice is harmless."""

from __future__ import annotations

import pyotp
import sqlalchemy as sa

from referrals.demo import ACCOUNTS, DEMO_PASSWORD, load_demo_data
from referrals.models import Organisation, OrganisationKind, Role, User
from tests.helpers import text


def counts(db) -> tuple[int, int]:
    return (
        db.session.scalar(sa.select(sa.func.count(Organisation.id))),
        db.session.scalar(sa.select(sa.func.count(User.id))),
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
