"""Deny by default: the login check on every request, session tokens, security headers."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from referrals.extensions import db, login_manager
from referrals.models import User
from referrals.services.accounts import login_sessions

# The only endpoints that answer without a login. Keep this list short.
PUBLIC_ENDPOINTS = frozenset(
    {
        "static",
        "auth.login",
        "auth.second_factor",
        "auth.enrol",
        "main.health",
        "main.ready",
        "main.metrics",
        "main.set_language",
        "main.favicon",
    }
)

# A session's idle clock is moved at most this often, so most requests write nothing.
TOUCH_INTERVAL_SECONDS = 60

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


def safe_next_url(target: str | None) -> str:
    """Return `target` if it is a path on this site, otherwise the home page."""
    home = url_for("main.index")
    if not target or not target.startswith("/") or target.startswith("//"):
        return home
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return home
    return target


def load_user_from_token(token: str) -> User | None:
    user_session = login_sessions.find_session(token)
    if user_session is None:
        return None
    user = user_session.user
    user.session_token = token
    g.user_session_id = user_session.id
    idle = (login_sessions.utcnow() - user_session.last_seen_at).total_seconds()
    g.touch_user_session = idle > TOUCH_INTERVAL_SECONDS
    return user


def require_login():
    """Every endpoint needs a logged-in user unless it is in PUBLIC_ENDPOINTS."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_user.is_authenticated:
        if current_user.must_change_password and request.endpoint not in {
            "auth.change_password",
            "auth.logout",
        }:
            return redirect(url_for("auth.change_password"))
        return None
    if request.endpoint is None:
        return None  # unknown URL: let the 404 handler answer
    return login_manager.unauthorized()


def touch_session(response):
    """Record activity for the idle timeout, in a transaction of its own.

    Views commit what they mean to keep; whatever is still uncommitted here was not meant
    to be saved, so it is rolled back first and never rides along with this write.
    """
    if g.get("touch_user_session") and g.get("user_session_id") and response.status_code < 500:
        try:
            db.session.rollback()
            login_sessions.touch_session(g.user_session_id)
            db.session.commit()
        except SQLAlchemyError as error:
            # The page was made; a session clock that could not move is no reason to lose it.
            db.session.rollback()
            current_app.logger.warning("session activity not recorded: %s", type(error).__name__)
    return response


def set_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    # From the cookie and what this request already loaded, never from the database: this runs
    # after the commit (a reload of the user) and on error pages while the database is away.
    if g.get("user_session_id") or "_user_id" in session:
        headers.setdefault("Cache-Control", "no-store")
    if current_app.config["SEND_HSTS"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def register_security(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # the server-side token does this job
    login_manager.user_loader(load_user_from_token)
    app.before_request(require_login)
    app.after_request(touch_session)
    app.after_request(set_security_headers)
