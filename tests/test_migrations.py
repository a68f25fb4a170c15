"""Alembic: one head; upgrade gives exactly the models' schema; down to base and up again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from referrals.extensions import db, migrate
from referrals.models import Role
from tests.conftest import make_app


@pytest.fixture(scope="module")
def fresh_app(databases):
    app = make_app(databases.new("migrations"))
    yield app
    with app.app_context():
        db.engine.dispose()


def schema_differences(app) -> list:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return compare_metadata(context, db.metadata)


def table_names(app) -> set[str]:
    with app.app_context():
        return set(sa.inspect(db.engine).get_table_names())


def test_there_is_one_head(fresh_app):
    with fresh_app.app_context():
        config = migrate.get_config()
        assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgrade_gives_the_models_schema_and_downgrade_undoes_it(fresh_app):
    with fresh_app.app_context():
        upgrade()
    assert schema_differences(fresh_app) == []
    assert {"users", "organisations", "audit_events", "user_sessions"} <= table_names(fresh_app)

    with fresh_app.app_context():
        downgrade(revision="base")
    assert table_names(fresh_app) <= {"alembic_version"}

    with fresh_app.app_context():
        upgrade()
    assert schema_differences(fresh_app) == []


def test_every_revision_downgrades_and_upgrades_one_step_at_a_time(fresh_app):
    with fresh_app.app_context():
        upgrade()
        script = ScriptDirectory.from_config(migrate.get_config())
        revisions = list(script.walk_revisions())
        for _ in revisions:
            downgrade(revision="-1")
        upgrade()
    assert schema_differences(fresh_app) == []


def test_the_login_counter_downgrades_with_users_and_their_sessions_in_place(fresh_app):
    """Downgrading must not need an empty database: users referenced by sessions stay."""
    from referrals.services.accounts import login_sessions
    from tests import factories

    with fresh_app.app_context():
        upgrade()
        user = factories.make_user(role=Role.OFFICER)
        with fresh_app.test_request_context():
            login_sessions.start_session(user)
        db.session.commit()
        db.session.remove()
        downgrade(revision="83aa520af864")
        with db.engine.connect() as connection:
            count = connection.exec_driver_sql("SELECT count(*) FROM users").scalar()
            columns = {c["name"] for c in sa.inspect(connection).get_columns("users")}
        assert count == 1 and "failed_logins" not in columns
        upgrade()
