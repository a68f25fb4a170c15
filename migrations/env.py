"""Alembic environment: the Flask app's engine and the models' metadata."""

import logging
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context
from flask import current_app

config = context.config
# The app's own handler (referrals/logs.py: JSON, without values) stays when it is there.
app_logs = any(getattr(h, "_referrals_handler", False) for h in logging.getLogger().handlers)
if config.config_file_name and not current_app.testing and not app_logs:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

db = current_app.extensions["migrate"].db
target_metadata = db.metadata


def skip_empty_autogenerate(context, revision, directives):
    """`flask db migrate` with no model change writes no empty revision."""
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def migration_engine() -> sa.Engine:
    """MIGRATION_DATABASE_URL (the schema owner's) when set, else the app's own DATABASE_URL."""
    url = current_app.config.get("MIGRATION_DATABASE_URL")
    if not url:
        return db.engine
    url = sa.make_url(url)
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    from referrals import configure_engine

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    configure_engine(engine)
    return engine


def grant_app_role(connection: sa.Connection) -> None:
    """PostgreSQL with REFERRALS_APP_ROLE set: the app role may read and write every table but
    only read and add to audit_events (NEN 7513) and only read alembic_version.

    Run after every migration that applied a step, in its transaction: a table created or
    rebuilt by a migration gets the schema's default privileges (docs/postgresql-roles.sql), and
    the REVOKE that follows takes UPDATE, DELETE and the rest on audit_events away again
    before anyone can see the new schema.
    """
    role = current_app.config.get("REFERRALS_APP_ROLE")
    if not role or connection.dialect.name != "postgresql":
        return
    quote = connection.dialect.identifier_preparer.quote
    app = quote(role)
    schema = quote(connection.exec_driver_sql("SELECT current_schema()").scalar())
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {app}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app}",
        f"REVOKE ALL ON alembic_version FROM PUBLIC, {app}",
        f"GRANT SELECT ON alembic_version TO {app}",
    ]
    if sa.inspect(connection).has_table("audit_events"):
        statements += [
            f"REVOKE ALL ON audit_events FROM PUBLIC, {app}",
            f"GRANT SELECT, INSERT ON audit_events TO {app}",
        ]
    for statement in statements:
        connection.exec_driver_sql(statement)
    logger.info("Granted the app role %s its privileges.", role)


def run_migrations_offline():
    context.configure(
        url=migration_engine().url.render_as_string(hide_password=False),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    args = dict(current_app.extensions["migrate"].configure_args)
    args.setdefault("process_revision_directives", skip_empty_autogenerate)
    applied = []
    args["on_version_apply"] = lambda **kw: applied.append(kw["step"])
    with migration_engine().connect() as connection:
        if connection.dialect.name == "postgresql":
            # A migration rewrites whole tables (a national set's 1.5 million attendance rows):
            # the web's statement timeout would cancel it half-way. Locks still time out, so
            # an upgrade behind a long transaction stops instead of blocking the app.
            lock = int(current_app.config.get("DB_WORKER_LOCK_TIMEOUT_MS", 30_000))
            connection.exec_driver_sql("SET statement_timeout = 0")
            connection.exec_driver_sql(f"SET lock_timeout = {lock}")
            connection.commit()  # the settings stay; the migrations get a transaction of their own
        context.configure(connection=connection, target_metadata=target_metadata, **args)
        try:
            with context.begin_transaction():
                context.run_migrations()
                if applied:
                    grant_app_role(connection)
        finally:
            if connection.dialect.name == "postgresql":
                # The connection goes back to the app's pool: its own timeouts again.
                connection.rollback()
                connection.exec_driver_sql("RESET statement_timeout")
                connection.exec_driver_sql("RESET lock_timeout")
                connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
