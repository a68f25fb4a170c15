"""Home page per role, language switch, liveness, readiness and metrics."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
)
from flask_login import current_user

from referrals import metrics, readiness
from referrals.blueprints.main import bp
from referrals.security import safe_next_url

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
    """Liveness: this process answers. It does not ask the database, so that a database outage
    never makes a load balancer or orchestrator restart healthy app servers."""
    return jsonify(status="ok")


@bp.get("/ready")
def ready():
    """Readiness: the database answers within a second with its schema at the newest
    migration, and Redis answers when it holds the rate limits. Shows no data."""
    state = readiness.check()
    body = jsonify(status="ok" if state.ready else "unavailable", **state.checks)
    if state.ready:
        return body
    return body, 503, {"Retry-After": "5"}


@bp.get("/metrics", endpoint="metrics")
def prometheus_metrics():
    """Prometheus metrics, for the monitoring host only (METRICS_ALLOWED_NETWORKS): to anyone
    else the page does not exist."""
    if not metrics.allowed(request.remote_addr):
        abort(404)
    return metrics.metrics_response()
