"""Logs: one JSON object per line on stderr (LOG_FORMAT=json, the default; `text` in
development), for the web processes and the worker commands alike.

Every record written while a request is handled carries its request id (the X-Request-ID the
proxy sent, when PROXY_COUNT says there is one and it is a safe token, or a new one; the
response names it too) and the id of the logged-in user. Each request ends with one `request`
line: method, endpoint, route, status and milliseconds, and how many SQL statements it sent
and how many of those milliseconds were spent in them (`queries`, `db_ms`: the rest is
Python). What a log line never holds: the query string, form fields, request bodies, cookies,
or a database error's parameters and message (PostgreSQL quotes the values it refused or
found twice: a participant's name, date of birth or BSN). A traceback keeps its frames, the
type and SQLSTATE of a database error and the statement it ran, with no values. Participant
data is health data, and logs are kept and read more widely than the database."""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
import sys
import time
import traceback

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, request
from flask.logging import default_handler
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is taken as it is when it looks like one (a UUID, a hex or base64url token).
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
_HANDLER_MARK = "_referrals_handler"
_QUIET_LOGGERS = ("werkzeug",)


class RequestContextFilter(logging.Filter):
    """Adds the request id and the user id to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", None) or current_request_id()
        if not hasattr(record, "user_id"):
            record.user_id = current_user_id()
        return True


class SafeJsonFormatter(JsonFormatter):
    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return format_exception_safely(ei)


class SafeTextFormatter(logging.Formatter):
    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return format_exception_safely(ei)


def format_exception_safely(ei) -> str:
    """The traceback's frames, then each exception of the chain (outermost first) by its type
    (a database error's with its SQLSTATE and SQL without values); no exception's message,
    since any may quote a value."""
    _type, error, tb = ei
    lines = ["Traceback (most recent call last):\n", *traceback.format_tb(tb)]
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        lines.append(_describe(error) + "\n")
        error = error.__cause__ or error.__context__
    return "".join(lines).rstrip("\n")


def _describe(error: BaseException) -> str:
    kind = f"{type(error).__module__}.{type(error).__qualname__}"
    if isinstance(error, sa.exc.StatementError):
        original = getattr(error, "orig", None)
        code = getattr(original, "sqlstate", None) or getattr(original, "sqlite_errorname", None)
        statement = " ".join((error.statement or "").split())[:500]
        return f"{kind}: [{code or type(original).__name__}] (message left out) [SQL: {statement}]"
    if _is_driver_error(error):
        code = getattr(error, "sqlstate", None) or getattr(error, "sqlite_errorname", None)
        return f"{kind}: [{code}] (message left out)"
    # Any message may quote a value (int('Sanne'), a KeyError's key): types and frames only.
    return f"{kind}: (message left out)"


def _is_driver_error(error: BaseException) -> bool:
    if isinstance(error, sqlite3.Error):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(error, psycopg.Error)


def json_formatter() -> SafeJsonFormatter:
    return SafeJsonFormatter(
        JSON_FIELDS,
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


class WithoutQueryStrings(logging.Filter):
    """For gunicorn's own lines: a URI's query string (a searched name) is cut off."""

    QUERY = re.compile(r"\?[^\s\"']*")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(
                self.QUERY.sub("?…", arg) if isinstance(arg, str) else arg for arg in args
            )
        if isinstance(record.msg, str):
            record.msg = self.QUERY.sub("?…", record.msg)
        return True


def configure_logging(app: Flask) -> None:
    """One handler on the root logger, replacing the one an earlier app of this process set
    (tests make many apps); Flask's own handler is taken off so lines are not written twice."""
    kind = app.config["LOG_FORMAT"]
    if kind not in ("json", "text"):
        raise ValueError(f"LOG_FORMAT must be json or text, not {kind!r}")
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(RequestContextFilter())
    if kind == "json":
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(SafeTextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    app.logger.removeHandler(default_handler)
    for name in _QUIET_LOGGERS:
        # The development server's request lines hold the query string; ours do not.
        logging.getLogger(name).setLevel(logging.WARNING)
    register_request_logging(app)


@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _statement_started(conn, cursor, statement, parameters, context, executemany) -> None:
    if has_request_context():
        conn.info["referrals.statement_started"] = time.perf_counter()


@sa.event.listens_for(sa.engine.Engine, "after_cursor_execute")
def _statement_finished(conn, cursor, statement, parameters, context, executemany) -> None:
    started = conn.info.pop("referrals.statement_started", None)
    if started is not None and has_request_context():
        g.db_queries = g.get("db_queries", 0) + 1
        g.db_seconds = g.get("db_seconds", 0.0) + time.perf_counter() - started


def register_request_logging(app: Flask) -> None:
    # First of the before-request functions, so that the time counts everything; the
    # after-request function registered first runs last, so it sees the final status.
    before = app.before_request_funcs.setdefault(None, [])
    if _start_request not in before:
        before.insert(0, _start_request)
    after = app.after_request_funcs.setdefault(None, [])
    if _finish_request not in after:
        after.insert(0, _finish_request)


def _start_request() -> None:
    g.request_started = time.perf_counter()
    # Only a proxy's id is taken (PROXY_COUNT > 0): a client could repeat another's id.
    offered = (
        request.headers.get(REQUEST_ID_HEADER, "") if current_app.config["PROXY_COUNT"] else ""
    )
    g.request_id = offered if SAFE_REQUEST_ID.fullmatch(offered) else secrets.token_hex(16)


def _finish_request(response):
    request_id = current_request_id()
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("request_started")
    logging.getLogger("referrals.request").info(
        "request",
        extra={
            "method": request.method,
            "endpoint": request.endpoint,
            "route": request.url_rule.rule if request.url_rule else None,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            "queries": g.get("db_queries", 0),
            "db_ms": round(g.get("db_seconds", 0.0) * 1000, 1),
        },
    )
    return response


def current_request_id() -> str | None:
    if not has_request_context():
        return None
    return g.get("request_id")


def current_user_id() -> int | None:
    """The logged-in user's id as Flask-Login loaded it, without loading it (and so without a
    query, which may be what failed)."""
    if not has_request_context():
        return None
    user = g.get("_login_user")
    if user is None:
        return None
    try:
        identity = sa.inspect(user).identity  # the anonymous user is no mapped object
    except sa.exc.NoInspectionAvailable:
        return None
    return identity[0] if identity else None
