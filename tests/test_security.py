"""Security headers, cookies, error pages and the production start-up checks."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from referrals import create_app
from referrals.models import Role
from tests import factories
from tests.helpers import log_in_through_pages, submit_password, text


def assert_security_headers(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/login", "/health", "/does-not-exist", "/static/style.css"])
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    response.close()
    assert_security_headers(response)


def test_security_headers_and_dutch_page_on_a_server_error(app, client, monkeypatch):
    def broken_view():
        raise RuntimeError("SELECT secret FROM participants -- boom")

    monkeypatch.setitem(app.view_functions, "main.health", broken_view)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = client.get("/health")
    page = text(response)
    assert response.status_code == 500
    assert_security_headers(response)
    assert "Er ging iets mis" in page
    assert "SELECT" not in page and "Traceback" not in page and "RuntimeError" not in page


def test_no_inline_script_or_style_in_pages(client, login_as):
    login_as(Role.ADMIN)
    for path in ["/", "/admin/users", "/admin/organisations", "/admin/audit/"]:
        page = text(client.get(path))
        assert "<script" not in page and "style=" not in page, path


def test_dutch_error_pages(client, login_as):
    assert "Pagina niet gevonden" in text(client.get("/nergens"))
    login_as(Role.REFERRER)
    forbidden = client.get("/admin/users")
    assert forbidden.status_code == 403 and "Geen toegang" in text(forbidden)
    not_allowed = client.get("/logout")
    assert not_allowed.status_code == 405


def test_session_cookie_is_httponly_and_lax(app, db):
    user = factories.make_user()
    client = app.test_client()
    log_in_through_pages(client, user)
    cookie = client.get_cookie("rt_session")
    assert cookie.http_only and cookie.same_site == "Lax"
    assert not cookie.secure  # development and tests run on plain http
    assert cookie.expires is None  # no remember-me: gone when the browser closes


def test_production_refuses_to_start_without_a_real_secret_key(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.invalid/referrals")
    for bad in [
        None,
        "",
        "changeme",
        "short",
        "development-only-secret-key-do-not-use-in-production",
    ]:
        if bad is None:
            monkeypatch.delenv("SECRET_KEY", raising=False)
        else:
            monkeypatch.setenv("SECRET_KEY", bad)
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            create_app("production", overrides={"SECRET_KEY": bad})


def test_production_sends_hsts_and_secure_cookies(databases):
    app = create_app(
        "production",
        overrides={
            "SECRET_KEY": "x" * 48,
            "BASE_URL": "https://localhost",
            "SQLALCHEMY_DATABASE_URI": databases.new("production"),
        },
    )
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    with app.test_client() as client:
        response = client.get("/login", base_url="https://localhost")
        assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
        assert "Secure" in response.headers["Set-Cookie"]
    from referrals.extensions import db

    with app.app_context():
        db.engine.dispose()


def test_health_shows_no_data(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_production_needs_an_https_base_url_and_trusts_only_its_host(databases):
    settings = {"SECRET_KEY": "y" * 48, "SQLALCHEMY_DATABASE_URI": databases.new("base-url")}
    with pytest.raises(RuntimeError, match="BASE_URL"):
        create_app("production", overrides=settings)
    app = create_app(
        "production", overrides={**settings, "BASE_URL": "https://verwijzen.example.nl"}
    )
    with app.test_client() as client:
        assert client.get("/health", base_url="https://verwijzen.example.nl").status_code == 200
        forged = client.get("/health", base_url="https://evil.example")
        assert forged.status_code == 400
    from referrals.extensions import db

    with app.app_context():
        db.engine.dispose()


def test_huge_ids_and_pages_are_not_server_errors(client, login_as):
    login_as(Role.REFERRER)
    assert client.get("/referrals/99999999999999999999999").status_code == 404
    assert client.get("/referrals?page=99999999999999999999").status_code == 200
    login_as(Role.ADMIN)
    response = client.get("/admin/audit/?participant_id=99999999999999999999")
    assert response.status_code == 200 and 'id="participant_id-error"' in text(response)


def test_production_refuses_a_data_encryption_key_that_is_no_fernet_key(databases):
    settings = {
        "SECRET_KEY": "y" * 48,
        "SQLALCHEMY_DATABASE_URI": databases.new("data-key"),
        "BASE_URL": "https://verwijzen.example.nl",
        "DATA_ENCRYPTION_KEY": "not-a-key",
    }
    with pytest.raises(RuntimeError, match="DATA_ENCRYPTION_KEY"):
        create_app("production", overrides=settings)


def test_the_favicon_is_served_without_a_login(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype in {"image/vnd.microsoft.icon", "image/x-icon"}
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    response.close()


def test_the_code_page_starts_in_the_code_field(client, db):
    user = factories.make_user()
    submit_password(client, user.email)
    page = text(client.get("/login/code"))
    assert "autofocus" in re.search(r'<input[^>]*id="code"[^>]*>', page).group(0)


def test_production_under_gunicorn_does_not_name_its_server_software(databases, tmp_path):
    """The development server says `Werkzeug/x Python/y`; production runs under gunicorn,
    which must not pass that on (nor its own version)."""
    port = _free_port()
    environment = {
        **os.environ,
        "REFERRALS_CONFIG": "production",
        "SECRET_KEY": "x" * 48,
        "BASE_URL": f"https://127.0.0.1:{port}",
        "DATABASE_URL": databases.new("gunicorn"),
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "--workers", "1", "--bind", f"127.0.0.1:{port}", "referrals:create_app()"],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        headers = _headers_when_up(f"http://127.0.0.1:{port}/login", server)
    finally:
        server.terminate()
        server.wait(timeout=30)
    server_header = headers.get("Server", "")
    assert "werkzeug" not in server_header.lower() and "python" not in server_header.lower()
    assert not re.search(r"\d", server_header), server_header  # no version number either


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _headers_when_up(url: str, server: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn stopped"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local URL
                return dict(response.headers)
        except urllib.error.HTTPError as error:
            return dict(error.headers)
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not answer within a minute")
