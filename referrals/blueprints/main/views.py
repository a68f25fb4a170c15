"""Home page per role, language switch and health check."""

from __future__ import annotations

from flask import current_app, jsonify, redirect, render_template, request, send_from_directory
from flask_login import current_user

from referrals.blueprints.main import bp
from referrals.security import safe_next_url
from referrals.services import database_answers

ONE_YEAR = 365 * 24 * 3600


@bp.get("/")
def index():
    return render_template("main/index.html", role=current_user.role.value)


@bp.post("/language")
def set_language():
    """Remember the chosen interface language in a cookie and go back to the page."""
    language = request.form.get("language", "")
    response = redirect(safe_next_url(request.form.get("next")))
    if language in current_app.config["LANGUAGES"]:
        response.set_cookie(
            current_app.config["LANGUAGE_COOKIE"],
            language,
            max_age=ONE_YEAR,
            httponly=True,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
        )
    return response


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it on every first visit: an answer instead of a 404 in the log."""
    return send_from_directory(current_app.static_folder, "favicon.ico", max_age=ONE_YEAR)


@bp.get("/health")
def health():
    """For load balancers: the app answers and the database too. Shows no data."""
    if not database_answers():
        return jsonify(status="error", database="unavailable"), 503
    return jsonify(status="ok")
