"""TOTP secrets are encrypted in the database; the app reads them in clear; the migration
encrypts the secrets that were stored before and its downgrade gives them back."""

from __future__ import annotations

import pyotp
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask_migrate import downgrade, upgrade

from referrals.crypto import decrypt
from referrals.extensions import db
from referrals.models import Role, User
from tests import factories
from tests.conftest import make_app
from tests.helpers import log_in_through_pages, submit_password, text

ENCRYPTING_REVISION = "7fa3f2f0ae07"


def raw_secret(user_id: int) -> str:
    return db.session.execute(
        sa.text("SELECT totp_secret FROM users WHERE id = :id"), {"id": user_id}
    ).scalar_one()


def test_the_stored_secret_is_not_the_secret_and_login_still_works(app, db, client):
    user = factories.make_user(role=Role.REFERRER)
    db.session.commit()
    stored = raw_secret(user.id)
    assert user.totp_secret not in stored and len(stored) > 100
    assert decrypt(stored) == user.totp_secret
    db.session.expire_all()
    assert db.session.get(User, user.id).totp_secret == pyotp.TOTP(user.totp_secret).secret
    response = log_in_through_pages(client, user)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_migration_encrypts_existing_secrets_and_the_downgrade_restores_them(databases):
    app = make_app(databases.new("secrets"))
    secret = pyotp.random_base32()
    with app.app_context():
        upgrade(revision=f"{ENCRYPTING_REVISION}-1")
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO organisations (id, kind, name, code, active, created_at,"
                    " updated_at) VALUES (1, 'operator', 'Beheer', NULL, true,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO users (id, organisation_id, email, name, role, password_hash,"
                    " password_changed_at, must_change_password, totp_secret, active,"
                    " created_at, updated_at) VALUES (1, 1, 'a@example.org', 'A', 'admin', 'x',"
                    " CURRENT_TIMESTAMP, false, :secret, true, CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP)"
                ),
                {"secret": secret},
            )
        upgrade()
        stored = db.session.execute(sa.text("SELECT totp_secret FROM users")).scalar_one()
        assert stored != secret and decrypt(stored) == secret
        assert db.session.get(User, 1).totp_secret == secret
        db.session.remove()
        downgrade(revision=f"{ENCRYPTING_REVISION}-1")
        assert db.session.execute(sa.text("SELECT totp_secret FROM users")).scalar_one() == secret
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def another_key(app):
    """The configured encryption key changes under stored secrets (a lost or rotated key)."""
    saved = app.config.get("DATA_ENCRYPTION_KEY")
    app.config["DATA_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    yield
    app.config["DATA_ENCRYPTION_KEY"] = saved


def test_a_secret_under_another_key_asks_for_a_reset_instead_of_a_500(
    app, db, client, login_as, another_key, caplog
):
    user = factories.make_user(role=Role.REFERRER)
    secret = user.totp_secret
    db.session.commit()
    app.config["DATA_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    db.session.expire_all()
    # An open session keeps working: loading the user does not fail.
    logged_in = app.test_client()
    login_as(user=db.session.get(User, user.id), into=logged_in)
    assert logged_in.get("/").status_code == 200
    # The login's code step says what to do, for every code.
    assert submit_password(client, user.email).headers["Location"] == "/login/code"
    response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    assert "Vraag je beheerder" in text(response)
    assert secret not in caplog.text
    assert "cannot be decrypted" in caplog.text
    # After an admin's reset the user enrols a new authenticator.
    admin = factories.make_user(role=Role.ADMIN)
    login_as(user=admin, into=(admin_client := app.test_client()))
    assert admin_client.post(f"/admin/users/{user.id}/reset-second-factor").status_code == 302
    db.session.expire_all()
    assert raw_secret(user.id) is None
    again = app.test_client()
    assert submit_password(again, user.email).headers["Location"] == "/login/authenticator"
