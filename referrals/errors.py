"""Error pages in the user's language, without stack traces or SQL, and without the database:
an error page must still render when the error is that the database is away. So no page here
shows the user's name or menu (loading them would query the database again), and the one write
an error page does (the refused-access row of a 403/404) may fail without changing the answer.
"""

from __future__ import annotations

from flask import Flask, current_app, g, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError

from referrals import audit
from referrals.extensions import db, login_manager
from referrals.logs import current_request_id

PAGES = {400, 403, 404, 405, 413, 429, 500}
RETRY_AFTER_SECONDS = "30"


def error_page(code: int, **context) -> str:
    if "_login_user" not in g:
        # Not loaded yet (or its loading is what failed): the template context would load it
        # from the database; the error page shows no user, so it counts as anonymous.
        g._login_user = login_manager.anonymous_user()
    # The request's id, shown on the 500 and 503 pages, finds its log lines.
    context.setdefault("request_id", current_request_id())
    return render_template(f"errors/{code}.html", without_database=True, **context)


def render_error(error: HTTPException):
    code = error.code if error.code in PAGES else 500
    if code in (403, 404):
        _keep_refusal(code)
    return error_page(code, error=error), code


def _rollback() -> None:
    """Roll back what the request did; on a connection that is gone, that may itself fail."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        current_app.logger.warning("rollback failed: the database connection is gone")


def _keep_refusal(code: int) -> None:
    """Drop the request's own changes (as the commit point would) and commit the refused-access
    row on its own. A database that cannot take it does not turn the 404 into a 500."""
    _rollback()
    try:
        if audit.record_refused_access(code) is not None:
            db.session.commit()
    except SQLAlchemyError as error:
        _rollback()
        current_app.logger.error("refused access could not be recorded: %s", type(error).__name__)


def render_csrf_error(error: CSRFError):
    return error_page(400, error=error, csrf=True), 400


def render_unavailable(error: Exception):
    """The database is away or a timeout ran out: a Dutch 503 that asks to try again, rolled
    back, rendered without the database (no user in the header: loading it would need it)."""
    _rollback()
    current_app.logger.warning("database unavailable: %s", type(error).__name__)
    return error_page(503, error=error), 503, {"Retry-After": RETRY_AFTER_SECONDS}


def render_internal_error(error: InternalServerError):
    """Whatever the request half-did is thrown away; the traceback goes to the server log only.
    An error raised after the view (the commit point, the session touch) arrives here too: when
    it is the database that failed, the answer is the 503 page as for any database outage."""
    original = getattr(error, "original_exception", None)
    if isinstance(original, OperationalError):
        return render_unavailable(original)
    _rollback()
    return error_page(500, error=InternalServerError()), 500


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
