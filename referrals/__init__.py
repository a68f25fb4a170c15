"""Referral and programme administration for Dutch running therapy."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, Request, current_app
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from referrals.extensions import babel, csrf, db, limiter, login_manager, migrate
from referrals.logs import configure_logging
from referrals.metrics import register_metrics

ROOT = Path(__file__).resolve().parent.parent
CONFIG_NAMES = ("development", "testing", "production")
# Values a production SECRET_KEY may never have: the other environments' keys and placeholders.
WEAK_SECRET_KEYS = {"", "changeme", "change-me", "secret", "dev", "development"}
MIN_SECRET_KEY_LENGTH = 32


def create_app(config_name: str | None = None, overrides: dict | None = None) -> Flask:
    """Build the application for `config_name` (default: $REFERRALS_CONFIG or development)."""
    config_name = config_name or os.environ.get("REFERRALS_CONFIG", "development")
    if config_name not in CONFIG_NAMES:
        raise ValueError(f"unknown configuration {config_name!r}; choose from {CONFIG_NAMES}")
    app = ReferralsFlask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
    )
    app.config.from_object(f"config.{config_name}")
    app.config["CONFIG_NAME"] = config_name
    app.config.update(overrides or {})
    configure_logging(app)
    register_database_defaults(app)
    check_secret_key(app)
    if app.config["PROXY_COUNT"]:
        # Behind a proxy: the client's address (audit log, rate limits) comes from X-Forwarded-For.
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    register_extensions(app)
    app.url_map.converters["int"] = DatabaseIdConverter
    register_blueprints(app)
    register_security_and_errors(app)
    register_metrics(app)
    register_cli(app)
    if app.config.get("OFFER_TIMER_SECONDS"):
        from referrals.background import start_offer_timer

        start_offer_timer(app, app.config["OFFER_TIMER_SECONDS"])
    return app


class LimitedRequest(Request):
    """A request whose body may be as large as its endpoint needs (MAX_CONTENT_LENGTH), and
    the upload endpoints' limit for those (UPLOAD_ENDPOINTS): the endpoint is known from the
    URL before anything reads the body, CSRF protection included."""

    @property
    def max_content_length(self) -> int | None:
        config = current_app.config
        if self.endpoint in config["UPLOAD_ENDPOINTS"]:
            return config["UPLOAD_MAX_CONTENT_LENGTH"]
        return config["MAX_CONTENT_LENGTH"]


class ReferralsFlask(Flask):
    request_class = LimitedRequest


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in URLs stops at the database's integer range: larger numbers are a 404, not
    an overflow error in the database driver."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def check_secret_key(app: Flask) -> None:
    """Refuse to start in production without a real, long, random SECRET_KEY."""
    if app.config["CONFIG_NAME"] != "production":
        return
    key = app.config.get("SECRET_KEY") or ""
    if (
        key.lower() in WEAK_SECRET_KEYS
        or "development" in key
        or "testing" in key
        or len(key) < MIN_SECRET_KEY_LENGTH
    ):
        raise RuntimeError(
            "SECRET_KEY must be set to a random value of at least 32 characters in production, "
            'for example: python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        raise RuntimeError("DATABASE_URL must be set in production")
    if app.config.get("DATA_ENCRYPTION_KEY"):
        from cryptography.fernet import Fernet

        try:
            Fernet(app.config["DATA_ENCRYPTION_KEY"].encode())
        except ValueError:
            raise RuntimeError(
                "DATA_ENCRYPTION_KEY must be a Fernet key, for example: python -c "
                '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
            ) from None
    base_url = app.config.get("BASE_URL") or ""
    if not base_url.startswith("https://"):
        raise RuntimeError(
            "BASE_URL must be set to the https:// address users reach, e.g. "
            "https://verwijzen.example.nl: e-mail links use it, never the request's Host header"
        )
    if not app.config.get("TRUSTED_HOSTS"):
        app.config["TRUSTED_HOSTS"] = [urlsplit(base_url).hostname]


def register_database_defaults(app: Flask) -> None:
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{Path(app.instance_path) / 'referrals.sqlite'}"
    if uri.startswith("postgres://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgres://")
    elif uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("postgresql"):
        config = app.config
        options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("connect_timeout", config["DB_CONNECT_TIMEOUT"])
        connect_args.setdefault(
            "options",
            f"-c statement_timeout={config['DB_STATEMENT_TIMEOUT_MS']} "
            f"-c lock_timeout={config['DB_LOCK_TIMEOUT_MS']}",
        )
        options["connect_args"] = connect_args
        config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def register_extensions(app: Flask) -> None:
    from referrals.i18n import register_template_filters, select_locale

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, busy_timeout_ms=app.config["DB_BUSY_TIMEOUT_MS"])
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(
        app, locale_selector=select_locale, default_translation_directories="translations"
    )
    limiter.init_app(app)
    register_template_filters(app)


def configure_engine(engine: sa.Engine, busy_timeout_ms: int = 5000) -> None:
    """SQLite: WAL, foreign keys, a busy timeout, and real transactions (BEGIN/SAVEPOINT)."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def on_begin(connection):
        # IMMEDIATE takes the write lock at the start, so a transaction never reads a snapshot
        # that a concurrent writer then invalidates (SQLITE_BUSY_SNAPSHOT); others wait for it
        # up to the busy timeout. Conditional UPDATEs then decide races on SQLite as on PostgreSQL.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def use_worker_timeouts(app: Flask) -> None:
    """For the worker commands (a process of their own): the longer statement and lock
    timeouts of DB_WORKER_*, since a batch or a report's queries may take longer than a page's.
    Each connection gets them when it is next taken from the pool (pooled ones too; the pool is
    not emptied, as connections may be in use). Once per app."""
    if app.extensions.get("referrals.worker_timeouts"):
        return
    app.extensions["referrals.worker_timeouts"] = True
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        return
    statement = int(app.config["DB_WORKER_STATEMENT_TIMEOUT_MS"])
    lock = int(app.config["DB_WORKER_LOCK_TIMEOUT_MS"])

    @sa.event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection, record, _proxy):
        if record.info.get("worker_timeouts"):
            return
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {statement}")
            cursor.execute(f"SET lock_timeout = {lock}")
        dbapi_connection.commit()
        record.info["worker_timeouts"] = True


def register_blueprints(app: Flask) -> None:
    from referrals.blueprints.admin import bp as admin_bp
    from referrals.blueprints.audit import bp as audit_bp
    from referrals.blueprints.auth import bp as auth_bp
    from referrals.blueprints.intake import bp as intake_bp
    from referrals.blueprints.main import bp as main_bp
    from referrals.blueprints.offers import bp as offers_bp
    from referrals.blueprints.programmes import bp as programmes_bp
    from referrals.blueprints.therapists import bp as therapists_bp
    from referrals.blueprints.trajectories import bp as trajectories_bp
    from referrals.blueprints.triage import bp as triage_bp
    from referrals.blueprints.uptake import bp as uptake_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(audit_bp, url_prefix="/admin/audit")
    app.register_blueprint(programmes_bp, url_prefix="/admin/programmes")
    app.register_blueprint(therapists_bp)
    app.register_blueprint(intake_bp)
    app.register_blueprint(triage_bp)
    app.register_blueprint(offers_bp)
    app.register_blueprint(trajectories_bp)
    app.register_blueprint(uptake_bp)


def register_security_and_errors(app: Flask) -> None:
    from referrals.errors import register_error_handlers
    from referrals.permissions import register_template_predicates
    from referrals.security import register_security

    register_security(app)
    register_error_handlers(app)
    register_template_predicates(app)
    # Registered last, so it runs first of the after-request hooks: before the session touch,
    # which rolls back whatever was not committed.
    app.after_request(commit_request)


def commit_request(response):
    """The one commit point of a request (as indico's RH.process): what a view did is kept when
    it answered with a page, a file or a redirect, and undone when it answered with an error.
    Views and services never commit; a service error is rolled back where it is shown."""
    if response.status_code < 400:
        # A failing commit raises: the request's error handling then answers 503 (database
        # away) or 500, never the page that claims the change was saved.
        db.session.commit()
    else:
        try:
            db.session.rollback()
        except sa.exc.SQLAlchemyError:
            current_app.logger.warning("rollback failed: the database connection is gone")
    return response


def register_cli(app: Flask) -> None:
    from referrals.cli import register_commands

    register_commands(app)
