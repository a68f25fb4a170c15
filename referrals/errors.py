"""Error pages in the user's language, without stack traces or SQL."""

from __future__ import annotations

from flask import Flask, current_app, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError

from referrals import audit
from referrals.extensions import db

PAGES = {400, 403, 404, 405, 413, 429, 500}


def render_error(error: HTTPException):
    code = error.code if error.code in PAGES else 500
    if code in (403, 404):
        _keep_refusal(code)
    return render_template(f"errors/{code}.html", error=error), code


def _keep_refusal(code: int) -> None:
    """Drop the request's own changes (as the commit point would) and commit the refused-access
    row on its own. A database that cannot take it does not turn the 404 into a 500."""
    db.session.rollback()
    try:
        if audit.record_refused_access(code) is not None:
            db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("refused access could not be recorded")


def render_csrf_error(error: CSRFError):
    return render_template("errors/400.html", error=error, csrf=True), 400


def render_unavailable(error: Exception):
    """The database is away or a timeout ran out: a Dutch 503 that asks to try again, rolled
    back, rendered without the database (no user in the header: loading it would need it)."""
    db.session.rollback()
    current_app.logger.warning("database unavailable: %s", type(error).__name__)
    page = render_template("errors/503.html", error=error, outage=True)
    return page, 503, {"Retry-After": "30"}


def render_internal_error(error: Exception):
    # Whatever the request half-did is thrown away; the traceback goes to the server log only.
    db.session.rollback()
    return render_template("errors/500.html", error=InternalServerError()), 500


def refuse_untrusted_host(error: SecurityError):
    # No page: without a trusted host no URL can be built, and nothing is worth showing.
    return "Bad request: unknown host.", 400, {"Content-Type": "text/plain; charset=utf-8"}


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(SecurityError, refuse_untrusted_host)
    app.register_error_handler(CSRFError, render_csrf_error)
    for code in PAGES - {500}:
        app.register_error_handler(code, render_error)
    app.register_error_handler(OperationalError, render_unavailable)
    app.register_error_handler(InternalServerError, render_internal_error)
