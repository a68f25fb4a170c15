"""Server-side sessions: logout, copied cookies, timeouts, password change, deactivation."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from referrals.models import Role, SessionEndReason, UserSession, utcnow
from tests import factories
from tests.factories import PASSWORD
from tests.helpers import log_in_through_pages, submit_password, text

SESSION_COOKIE = "rt_session"


def copy_cookie(source, target) -> None:
    cookie = source.get_cookie(SESSION_COOKIE)
    target.set_cookie(SESSION_COOKIE, cookie.value)


def only_session(db, user) -> UserSession:
    return db.session.scalars(sa.select(UserSession).where(UserSession.user_id == user.id)).one()


def test_a_copied_cookie_works_until_logout_and_never_after(app, db):
    user = factories.make_user(role=Role.COORDINATOR)
    browser, thief = app.test_client(), app.test_client()
    log_in_through_pages(browser, user)
    copy_cookie(browser, thief)
    assert thief.get("/").status_code == 200

    logout = browser.post("/logout")
    assert logout.headers["Location"] == "/login"
    assert thief.get("/").headers["Location"].startswith("/login")
    assert browser.get("/").headers["Location"].startswith("/login")
    assert only_session(db, user).end_reason is SessionEndReason.LOGOUT


def test_login_starts_a_new_session(app, db):
    user = factories.make_user()
    client = app.test_client()
    with client.session_transaction() as flask_session:
        flask_session["planted"] = "by an attacker"
    log_in_through_pages(client, user)
    with client.session_transaction() as flask_session:
        assert "planted" not in flask_session
        assert "pending_login" not in flask_session
        token = flask_session["_user_id"]
    assert len(token) >= 40
    # The cookie holds a random token; the database holds only its hash.
    assert only_session(db, user).token_hash != token


def test_idle_session_expires_after_30_minutes(client, db, login_as):
    user = login_as("referrer")
    assert client.get("/").status_code == 200
    user_session = only_session(db, user)
    user_session.last_seen_at = utcnow() - timedelta(minutes=31)
    db.session.commit()
    assert client.get("/").headers["Location"].startswith("/login")


def test_activity_keeps_the_session_alive(client, db, login_as):
    user = login_as("referrer")
    user_session = only_session(db, user)
    user_session.last_seen_at = utcnow() - timedelta(minutes=29)
    db.session.commit()
    assert client.get("/").status_code == 200
    db.session.refresh(user_session)
    assert utcnow() - user_session.last_seen_at < timedelta(minutes=1)


def test_session_ends_after_12_hours_even_when_active(client, db, login_as):
    user = login_as("officer")
    user_session = only_session(db, user)
    user_session.created_at = utcnow() - timedelta(hours=12, minutes=1)
    user_session.last_seen_at = utcnow()
    db.session.commit()
    assert client.get("/").headers["Location"].startswith("/login")


def test_password_change_rotates_the_session_and_ends_the_others(app, db, login_as):
    user = factories.make_user()
    here, elsewhere = app.test_client(), app.test_client()
    other_computer = app.test_client()
    login_as(user=user, into=other_computer)
    log_in_through_pages(here, user)
    copy_cookie(here, elsewhere)
    response = here.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a much longer new password",
            "confirm_password": "a much longer new password",
        },
    )
    assert response.headers["Location"] == "/"
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").headers["Location"].startswith("/login")
    assert other_computer.get("/").headers["Location"].startswith("/login")
    sessions = db.session.scalars(sa.select(UserSession).where(UserSession.user_id == user.id))
    open_sessions = [s for s in sessions if s.ended_at is None]
    assert len(open_sessions) == 1
    # The new password works, the old one does not.
    assert submit_password(app.test_client(), user.email, PASSWORD).status_code == 200
    assert (
        submit_password(app.test_client(), user.email, "a much longer new password").status_code
        == 302
    )


def test_password_change_rejects_bad_input_and_keeps_the_password(client, db, login_as):
    user = login_as("therapist")
    old_hash = user.password_hash
    cases = [
        (
            {
                "current_password": "wrong",
                "new_password": "long enough pw 1",
                "confirm_password": "long enough pw 1",
            },
            "current_password",
        ),
        (
            {
                "current_password": PASSWORD,
                "new_password": "too short",
                "confirm_password": "too short",
            },
            "new_password",
        ),
        (
            {
                "current_password": PASSWORD,
                "new_password": "long enough pw 1",
                "confirm_password": "long enough pw 2",
            },
            "confirm_password",
        ),
        (
            {"current_password": PASSWORD, "new_password": PASSWORD, "confirm_password": PASSWORD},
            "new_password",
        ),
    ]
    for data, field in cases:
        response = client.post("/account/password", data=data)
        page = text(response)
        assert response.status_code == 200
        assert f'id="{field}-error"' in page, field
        db.session.refresh(user)
        assert user.password_hash == old_hash
    assert client.get("/").status_code == 200


def test_temporary_password_must_be_changed_first(client, db, login_as):
    user = factories.make_user(must_change_password=True)
    login_as(user=user)
    assert client.get("/").headers["Location"] == "/account/password"
    assert client.get("/admin/users").headers["Location"] == "/account/password"
    client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "my own chosen password",
            "confirm_password": "my own chosen password",
        },
    )
    assert client.get("/").status_code == 200


def test_deactivating_a_user_ends_their_sessions_at_once(app, db, login_as):
    user = factories.make_user(role=Role.COORDINATOR)
    users_browser = app.test_client()
    log_in_through_pages(users_browser, user)
    assert users_browser.get("/").status_code == 200

    admin_client = app.test_client()
    login_as(Role.ADMIN, into=admin_client)
    response = admin_client.post(f"/admin/users/{user.id}/deactivate")
    assert response.status_code == 302
    assert users_browser.get("/").headers["Location"].startswith("/login")
    assert submit_password(app.test_client(), user.email).status_code == 200
