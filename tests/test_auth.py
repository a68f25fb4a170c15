"""Login with password and TOTP, enrolment, throttling and redirects after login."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa

from referrals.models import AuditAction, AuditEvent, Role, User, UserSession, utcnow
from tests import factories
from tests.helpers import current_code, log_in_through_pages, submit_password, text


def audit_actions(db, user: User) -> list[str]:
    rows = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.user_id == user.id).order_by(AuditEvent.id)
    )
    return [action.value for action in rows]


def test_login_with_password_and_code_reaches_the_home_page(client, db):
    user = factories.make_user(role=Role.COORDINATOR)
    response = log_in_through_pages(client, user)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert user.name in text(home)
    assert audit_actions(db, user)[-1] == "login"
    assert db.session.scalar(sa.select(sa.func.count()).where(UserSession.user_id == user.id)) == 1


def test_password_alone_does_not_log_in(client, db):
    user = factories.make_user(role=Role.OFFICER)
    submit_password(client, user.email)
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("email_case", ["wrong password", "unknown address"])
def test_failed_password_shows_one_message_keeps_the_address_and_is_audited(client, db, email_case):
    user = factories.make_user()
    email = user.email if email_case == "wrong password" else "nobody@example.org"
    response = submit_password(client, email, "not the password at all")
    page = text(response)
    assert response.status_code == 200
    assert "klopt niet" in page
    assert f'value="{email}"' in page
    assert "not the password at all" not in page
    failed = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == AuditAction.LOGIN_FAILED)
    ).all()
    assert len(failed) == 1
    assert failed[0].user_id == (user.id if email_case == "wrong password" else None)
    assert failed[0].ip_address == "127.0.0.1"


def test_empty_login_form_says_what_is_missing(client, db):
    response = client.post("/login", data={"email": "", "password": ""})
    page = text(response)
    assert "Vul uw e-mailadres in" in page or "Enter your e-mail address" in page
    assert 'aria-invalid="true"' in page


def test_wrong_code_is_refused_and_audited(client, db):
    user = factories.make_user()
    submit_password(client, user.email)
    wrong = f"{(int(current_code(user)) + 1) % 1000000:06d}"
    response = client.post("/login/code", data={"code": wrong})
    assert response.status_code == 200
    assert "niet geldig" in text(response)
    assert client.get("/").status_code == 302
    assert audit_actions(db, user)[-1] == "login_failed"


def test_a_code_is_accepted_once_only(app, db):
    user = factories.make_user()
    first, second = app.test_client(), app.test_client()
    # One code for both, read once: a 30-second step may turn between two reads of the clock.
    code = current_code(user)
    submit_password(first, user.email)
    assert first.post("/login/code", data={"code": code}).headers["Location"] == "/"
    submit_password(second, user.email)
    replay = second.post("/login/code", data={"code": code})
    assert replay.status_code == 200
    assert "niet geldig" in text(replay)
    assert second.get("/").status_code == 302


def test_an_older_code_is_refused_after_a_newer_one_was_used(client, db):
    user = factories.make_user()
    totp = pyotp.TOTP(user.totp_secret)
    user.totp_last_counter = totp.timecode(utcnow())
    db.session.commit()
    submit_password(client, user.email)
    previous = totp.at(utcnow() - timedelta(seconds=30))
    response = client.post("/login/code", data={"code": previous})
    assert "niet geldig" in text(response)


def test_first_login_enrols_the_authenticator_with_a_server_drawn_qr_code(client, db):
    user = factories.make_user(enrolled=False)
    first = submit_password(client, user.email)
    assert first.headers["Location"] == "/login/authenticator"
    page = client.get("/login/authenticator")
    html = text(page)
    assert "<svg" in html and "<script" not in html
    db.session.refresh(user)
    secret = user.totp_secret
    assert secret and " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in html
    # Reloading the page shows the same secret, so a scanned code stays valid.
    assert secret == db.session.scalar(sa.select(User.totp_secret).where(User.id == user.id))
    assert client.post("/login/code").headers["Location"] == "/login/authenticator"
    done = client.post("/login/authenticator", data={"code": pyotp.TOTP(secret).now()})
    assert done.headers["Location"] == "/"
    db.session.refresh(user)
    assert user.totp_confirmed_at is not None
    assert client.get("/").status_code == 200


def test_enrolment_with_a_wrong_code_keeps_the_user_out(client, db):
    user = factories.make_user(enrolled=False)
    submit_password(client, user.email)
    client.get("/login/authenticator")
    response = client.post("/login/authenticator", data={"code": "12345"})
    assert "6 cijfers" in text(response) or "6 digits" in text(response)
    db.session.refresh(user)
    assert user.totp_confirmed_at is None
    assert client.get("/").status_code == 302


def test_pending_login_expires(client, db):
    user = factories.make_user()
    submit_password(client, user.email)
    with client.session_transaction() as flask_session:
        pending = flask_session["pending_login"]
        pending["started"] = (utcnow() - timedelta(minutes=6)).isoformat()
        flask_session["pending_login"] = pending
    response = client.post("/login/code", data={"code": current_code(user)})
    assert response.headers["Location"] == "/login"


def _from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _login_error(response) -> str:
    page = text(response)
    return page[page.index('class="alert alert--error"') :].split("</div>")[0]


def test_five_failures_lock_that_account_for_that_address_only(app, db):
    user = factories.make_user()
    other = factories.make_user()
    attacker = _from(app, "203.0.113.7")
    for _ in range(5):
        submit_password(attacker, user.email, "wrong password guess")
    refused = submit_password(attacker, user.email)  # the right password, from that address
    assert refused.status_code == 200
    assert attacker.get("/login/code").headers["Location"] == "/login"  # no password step passed
    assert "klopt niet" in _login_error(refused)
    # Another account, from the same address, logs in as usual.
    assert log_in_through_pages(_from(app, "203.0.113.7"), other).headers["Location"] == "/"
    # The owner, from an address that has not failed, logs in with password and code.
    assert log_in_through_pages(_from(app, "198.51.100.2"), user).headers["Location"] == "/"


def test_a_slow_trickle_of_guesses_locks_too(app, db, monkeypatch):
    """A guess every 5 minutes never makes 5 within 15 minutes; the tenth in the hour locks."""
    from referrals.services.accounts import login_sessions

    user = factories.make_user()
    start = utcnow()
    client = _from(app, "203.0.113.8")
    for n in range(10):
        moment = start + timedelta(minutes=5 * n)
        monkeypatch.setattr(login_sessions, "utcnow", lambda moment=moment: moment)
        assert not locked_for(app, user, "203.0.113.8", moment), n
        submit_password(client, user.email, "wrong password guess")
    assert locked_for(app, user, "203.0.113.8", start + timedelta(minutes=46))
    # Once the first failures have left the hour, the address may try again.
    assert not locked_for(app, user, "203.0.113.8", start + timedelta(minutes=105))


def locked_for(app, user, address, now) -> bool:
    from referrals.services.accounts import login_sessions

    with app.test_request_context():
        return login_sessions.is_locked(user, address, now)


def test_addresses_of_one_ipv6_network_count_as_one(app, db):
    user = factories.make_user()
    for n in range(5):
        submit_password(_from(app, f"2001:db8:0:1::{n + 1}"), user.email, "wrong guess")
    assert locked_for(app, user, "2001:db8:0:1::/64", utcnow())
    assert log_in_through_pages(_from(app, "2001:db8:0:2::1"), user).headers["Location"] == "/"


def test_wrong_codes_from_many_addresses_lock_the_account_everywhere(app, db):
    """Whoever sends codes has the password; switching addresses must not give endless tries."""
    user = factories.make_user()
    answers = []
    for n in range(10):
        client = _from(app, f"203.0.113.{n + 20}")
        submit_password(client, user.email)
        answers.append(client.post("/login/code", data={"code": "000000"}).status_code)
    assert answers == [200] * 9 + [302]  # the tenth wrong code sends back to the login
    # From a fresh address, with the right password: refused like a wrong one.
    owner = _from(app, "198.51.100.50")
    refused = submit_password(owner, user.email)
    assert refused.status_code == 200 and "klopt niet" in _login_error(refused)
    assert owner.get("/login/code").headers["Location"] == "/login"


def test_an_unknown_address_gets_the_same_answer_as_a_locked_account(app, db):
    user = factories.make_user()
    attacker = _from(app, "203.0.113.9")
    for _ in range(5):
        submit_password(attacker, user.email, "wrong password guess")
    locked = _login_error(submit_password(attacker, user.email))
    unknown = _login_error(submit_password(attacker, "nobody@nowhere.example"))
    wrong = _login_error(submit_password(_from(app, "198.51.100.3"), user.email, "wrong guess"))
    assert locked == unknown == wrong


def test_a_full_login_clears_that_address_count(app, db):
    from referrals.models import LoginFailure

    user = factories.make_user()
    client = _from(app, "198.51.100.4")
    for _ in range(4):
        submit_password(client, user.email, "wrong password guess")
    assert log_in_through_pages(client, user).headers["Location"] == "/"
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.user_id == user.id)
        )
        == 0
    )


def test_wrong_codes_count_towards_the_lock(app, client, db):
    user = factories.make_user()
    submit_password(client, user.email)
    for _ in range(5):
        response = client.post("/login/code", data={"code": "000000"})
    assert response.headers["Location"] == "/login"
    assert locked_for(app, user, "127.0.0.1", utcnow())


def test_login_attempts_are_limited_per_client_address(app, db):
    client = app.test_client()
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    for n in range(limit):
        response = client.post("/login", data={"email": f"x{n}@example.org", "password": "p"})
        assert response.status_code == 200
    blocked = client.post("/login", data={"email": "y@example.org", "password": "p"})
    assert blocked.status_code == 429
    assert "Te veel pogingen" in text(blocked)
    elsewhere = app.test_client()
    response = elsewhere.post(
        "/login",
        data={"email": "z@example.org", "password": "p"},
        environ_base={"REMOTE_ADDR": "192.0.2.10"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "\\\\evil.example",
        "https:evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "https://evil.example/",
    ],
)
def test_next_only_leads_to_this_site(client, db, target):
    from urllib.parse import quote

    user = factories.make_user()
    response = log_in_through_pages(client, user, next_url=quote(target, safe=""))
    assert response.headers["Location"] == "/"


def test_next_leads_to_the_page_asked_for(client, db):
    user = factories.make_user(role=Role.ADMIN)
    anonymous = client.get("/admin/users")
    assert anonymous.headers["Location"] == "/login?next=%2Fadmin%2Fusers"
    response = log_in_through_pages(client, user, next_url="%2Fadmin%2Fusers")
    assert response.headers["Location"] == "/admin/users"


def test_logged_in_user_visiting_login_goes_home(client, login_as):
    login_as("referrer")
    assert client.get("/login").headers["Location"] == "/"


def test_login_limit_is_shared_through_redis_when_configured(app, db):
    """Several app servers count together when REDIS_URL is set (CI has Redis on 6379)."""
    import uuid

    import redis

    from tests.conftest import make_app, rebind_limiter

    url = "redis://127.0.0.1:6379/15"
    servers = [
        make_app(
            app.config["SQLALCHEMY_DATABASE_URI"],
            RATELIMIT_STORAGE_URI=url,
            LOGIN_RATE_LIMIT="3 per minute",
            RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}",
        )
        for _ in range(2)
    ]
    statuses = []
    for n in range(4):
        client = servers[n % 2].test_client()
        response = client.post("/login", data={"email": f"r{n}@example.org", "password": "p"})
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429]
    redis.Redis.from_url(url).close()
    from referrals.extensions import db as _db

    rebind_limiter(app)
    for server in servers:
        with server.app_context():
            _db.engine.dispose()


def test_the_lock_counts_in_its_own_table_not_in_the_audit_log(app, db, monkeypatch):
    """The audit log is a log: with audit rows not written at all, five failures still lock."""
    from referrals.services.accounts import login_sessions

    user = factories.make_user(role=Role.OFFICER)
    monkeypatch.setattr(login_sessions.audit, "record", lambda *args, **kwargs: None)
    with app.test_request_context():
        for _ in range(5):
            login_sessions.record_login_failure(user, "wrong password")
        assert login_sessions.is_locked(user)


def test_failures_older_than_every_window_are_deleted_for_every_account(app, db, monkeypatch):
    from referrals.models import LoginFailure
    from referrals.services.accounts import login_sessions

    quiet, guessed = factories.make_user(), factories.make_user()
    start = utcnow()
    with app.test_request_context():
        login_sessions.record_login_failure(quiet, "wrong password")
        later = start + timedelta(hours=1, minutes=1)
        monkeypatch.setattr(login_sessions, "utcnow", lambda: later)
        login_sessions.record_login_failure(guessed, "wrong password")
    left = db.session.execute(sa.select(LoginFailure.user_id)).scalars().all()
    assert left == [guessed.id]
