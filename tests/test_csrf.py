"""This module runs with CSRF protection on, as production does."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from referrals.extensions import db as _db
from referrals.models import AuditEvent, Organisation, Role
from tests import factories
from tests.conftest import make_app
from tests.helpers import text


@pytest.fixture(scope="module")
def csrf_app(app):
    csrf_app = make_app(app.config["SQLALCHEMY_DATABASE_URI"], WTF_CSRF_ENABLED=True)
    yield csrf_app
    with csrf_app.app_context():
        _db.engine.dispose()


@pytest.fixture
def csrf_client(csrf_app, db):
    return csrf_app.test_client()


def token_from(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def audit_count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))


def test_login_without_token_is_refused_and_changes_nothing(csrf_client, db):
    user = factories.make_user()
    before = audit_count(db)
    response = csrf_client.post(
        "/login", data={"email": user.email, "password": factories.PASSWORD}
    )
    assert response.status_code == 400
    assert "verlopen" in text(response) or "expired" in text(response)
    assert audit_count(db) == before
    with csrf_client.session_transaction() as flask_session:
        assert "pending_login" not in flask_session


def test_admin_post_without_token_is_refused_and_saves_nothing(csrf_app, csrf_client, db, login_as):
    login_as(Role.ADMIN, into=csrf_client)
    data = {"kind": "municipality", "name": "Gemeente Zonder Token", "code": "GM0123"}
    response = csrf_client.post("/admin/organisations/new", data=data)
    assert response.status_code == 400
    found = sa.select(Organisation).where(Organisation.name == "Gemeente Zonder Token")
    assert db.session.scalar(found) is None

    form = text(csrf_client.get("/admin/organisations/new"))
    response = csrf_client.post(
        "/admin/organisations/new", data={**data, "csrf_token": token_from(form)}
    )
    assert response.status_code == 302
    assert db.session.scalar(found) is not None


def test_logout_without_token_keeps_the_session(csrf_client, db, login_as):
    login_as(Role.OFFICER, into=csrf_client)
    assert csrf_client.post("/logout").status_code == 400
    assert csrf_client.get("/").status_code == 200
