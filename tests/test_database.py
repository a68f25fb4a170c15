"""The database connection is set up as the design asks, on whichever database this run uses."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


def test_connection_settings(app, db):
    engine = db.engine
    connection = db.session.connection()  # the test's own; a second one would wait for its lock
    if engine.dialect.name == "sqlite":
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA busy_timeout").scalar() == 5000
    else:
        assert engine.dialect.name == "postgresql"
        assert engine.dialect.driver == "psycopg"
        assert connection.exec_driver_sql("SHOW TIMEZONE").scalar()


def test_foreign_keys_are_enforced(db):
    savepoint = db.session.begin_nested()
    try:
        db.session.execute(
            sa.text(
                "INSERT INTO users (organisation_id, email, name, role, password_hash, "
                "password_changed_at, must_change_password, active, created_at, updated_at) "
                "VALUES (987654, 'fk@example.org', 'x', 'referrer', 'x', "
                "CURRENT_TIMESTAMP, false, true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        raised = False
    except sa.exc.IntegrityError:
        raised = True
    savepoint.rollback()
    assert raised


def test_postgres_urls_use_psycopg_3():
    from referrals import create_app

    app = create_app("testing", overrides={"SQLALCHEMY_DATABASE_URI": "postgres://u@db.invalid/x"})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


@pytest.mark.parametrize(("status", "kept"), [(200, True), (302, True), (404, False), (500, False)])
def test_the_request_commits_on_success_and_rolls_back_on_an_error(app, db, status, kept):
    """The one commit point: what a view wrote is kept only when it answered without error."""
    from flask import Response

    from referrals import commit_request
    from referrals.models import Organisation, OrganisationKind

    with app.test_request_context():
        db.session.add(Organisation(kind=OrganisationKind.FUNDER, name="Fonds Bewegen", code=None))
        commit_request(Response(status=status))
        db.session.rollback()  # whatever was not committed is gone now
        found = db.session.scalar(
            sa.select(Organisation).where(Organisation.name == "Fonds Bewegen")
        )
    assert (found is not None) is kept


def test_the_commit_point_runs_before_the_session_touch(app):
    """touch_session rolls back whatever is uncommitted; the request's commit must come first.
    After-request hooks run in reverse order of registration."""
    from referrals import commit_request
    from referrals.security import touch_session

    hooks = app.after_request_funcs[None]
    assert hooks.index(commit_request) > hooks.index(touch_session)
