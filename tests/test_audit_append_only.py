"""NEN 7513: no statement changes or removes a stored audit row, on SQLite and on PostgreSQL.

The first half runs on both databases, as the suite's own (owning, superuser) role: the
triggers and foreign keys alone must refuse every way of changing, overwriting or removing a
row. The second half runs only on PostgreSQL: with the two roles of docs/postgresql-roles.sql
the app's role cannot get around the triggers either (ALTER TABLE ... DISABLE TRIGGER, DROP).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from referrals import audit
from referrals.extensions import db as _db
from referrals.models import AuditAction, AuditEvent, Role, utcnow
from tests import factories
from tests.conftest import ROOT, make_app

# How tests/conftest.py tells the databases apart: TEST_DATABASE_URL set means PostgreSQL.
POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))
DIALECT = "postgresql" if POSTGRES else "sqlite"

FORGED_ROW = "(id, occurred_at, action, detail) VALUES (:id, CURRENT_TIMESTAMP, 'read', 'forged')"
SQLITE_FK = "FOREIGN KEY constraint failed"

# (name, statement, {dialect: the error it must raise}); a statement runs on the dialects named.
ATTEMPTS = [
    (
        "update",
        "UPDATE audit_events SET detail = 'changed' WHERE id = :id",
        {"sqlite": "append-only: UPDATE refused", "postgresql": "append-only: UPDATE refused"},
    ),
    (
        "update-id",
        "UPDATE audit_events SET id = id + 1000000 WHERE id = :id",
        {"sqlite": "append-only: UPDATE refused", "postgresql": "append-only: UPDATE refused"},
    ),
    (
        "delete",
        "DELETE FROM audit_events WHERE id = :id",
        {"sqlite": "append-only: DELETE refused", "postgresql": "append-only: DELETE refused"},
    ),
    (
        "delete-all",
        "DELETE FROM audit_events",
        {"sqlite": "append-only: DELETE refused", "postgresql": "append-only: DELETE refused"},
    ),
    (
        "on-conflict-do-update",
        f"INSERT INTO audit_events {FORGED_ROW} "
        "ON CONFLICT (id) DO UPDATE SET detail = excluded.detail",
        {"sqlite": "append-only: REPLACE refused", "postgresql": "append-only: UPDATE refused"},
    ),
    # SQLite's REPLACE deletes the row in the way without firing its DELETE trigger.
    (
        "replace-into",
        f"REPLACE INTO audit_events {FORGED_ROW}",
        {"sqlite": "append-only: REPLACE refused"},
    ),
    (
        "insert-or-replace",
        f"INSERT OR REPLACE INTO audit_events {FORGED_ROW}",
        {"sqlite": "append-only: REPLACE refused"},
    ),
    (
        "update-or-replace",
        "UPDATE OR REPLACE audit_events SET detail = 'changed' WHERE id = :id",
        {"sqlite": "append-only: UPDATE refused"},
    ),
    (
        "truncate",
        "TRUNCATE audit_events",
        {"postgresql": "append-only: TRUNCATE refused"},
    ),
    (
        "truncate-users-cascade",
        "TRUNCATE users CASCADE",
        {"postgresql": "append-only: TRUNCATE refused"},
    ),
    (
        "merge-update",
        "MERGE INTO audit_events a USING (SELECT CAST(:id AS bigint) AS id) s ON a.id = s.id "
        "WHEN MATCHED THEN UPDATE SET detail = 'changed'",
        {"postgresql": "append-only: UPDATE refused"},
    ),
    (
        "merge-delete",
        "MERGE INTO audit_events a USING (SELECT CAST(:id AS bigint) AS id) s ON a.id = s.id "
        "WHEN MATCHED THEN DELETE",
        {"postgresql": "append-only: DELETE refused"},
    ),
    (
        "writable-cte",
        "WITH gone AS (DELETE FROM audit_events WHERE id = :id RETURNING id) "
        "SELECT count(*) FROM gone",
        {"postgresql": "append-only: DELETE refused"},
    ),
    # The actor and organisation foreign keys have no ON DELETE / ON UPDATE action: a user or an
    # organisation that audit rows name can be neither deleted nor renumbered.
    (
        "delete-user",
        "DELETE FROM users WHERE id = :user_id",
        {"sqlite": SQLITE_FK, "postgresql": 'constraint "fk_audit_events_user_id_users"'},
    ),
    (
        "renumber-user",
        "UPDATE users SET id = id + 1000000 WHERE id = :user_id",
        {"sqlite": SQLITE_FK, "postgresql": 'constraint "fk_audit_events_user_id_users"'},
    ),
    (
        "replace-user",
        "REPLACE INTO users (id, organisation_id, email, name, role, password_hash, "
        "password_changed_at, must_change_password, active, created_at, updated_at) "
        "SELECT id + 1000000, organisation_id, email, name, role, password_hash, "
        "password_changed_at, must_change_password, active, created_at, updated_at "
        "FROM users WHERE id = :user_id",
        {"sqlite": SQLITE_FK},
    ),
    (
        "delete-organisation",
        "DELETE FROM organisations WHERE id = :organisation_id",
        {
            "sqlite": SQLITE_FK,
            "postgresql": 'constraint "fk_audit_events_organisation_id_organisations"',
        },
    ),
]


@dataclass
class StoredRows:
    event_id: int
    user_id: int
    organisation_id: int


def audit_rows(session) -> list[tuple]:
    return [
        tuple(row) for row in session.execute(sa.text("SELECT * FROM audit_events ORDER BY id"))
    ]


@pytest.fixture
def stored(app, db) -> StoredRows:
    """A row by a user, and one naming an organisation that has no users of its own."""
    user = factories.make_user(role=Role.COORDINATOR)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.7"}):
        event = audit.record(
            AuditAction.READ,
            actor=user,
            object_type="referral",
            object_id=7,
            participant_id=3,
            detail="original",
        )
    bare = factories.make_organisation()
    db.session.add(
        AuditEvent(
            occurred_at=utcnow(),
            organisation_id=bare.id,
            action=AuditAction.EXPORT,
            object_type="programme",
            object_id="1",
        )
    )
    db.session.flush()
    return StoredRows(event_id=event.id, user_id=user.id, organisation_id=bare.id)


def refused(db, statement: str, params: dict) -> tuple[sa.exc.DBAPIError, list[tuple]]:
    """Run `statement` in a savepoint; the error it raised and the audit rows right after it.

    A statement that goes through fails the test with the rows as it left them. SQLite keeps
    the transaction after a refused statement, so the rows are read before the rollback;
    PostgreSQL aborts the transaction, which undoes the statement whole.
    """
    savepoint = db.session.begin_nested()
    try:
        db.session.execute(sa.text(statement), params)
    except sa.exc.DBAPIError as error:
        after = audit_rows(db.session) if DIALECT == "sqlite" else None
        savepoint.rollback()
        return error, after if after is not None else audit_rows(db.session)
    changed = audit_rows(db.session)
    savepoint.rollback()
    pytest.fail(f"not refused: {statement}\naudit rows afterwards: {changed}")


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        pytest.param(statement, expected[DIALECT], id=name)
        for name, statement, expected in ATTEMPTS
        if DIALECT in expected
    ],
)
def test_no_statement_changes_or_removes_a_stored_audit_row(db, stored, statement, expected):
    before = audit_rows(db.session)
    assert len(before) >= 2

    error, after = refused(
        db,
        statement,
        {
            "id": stored.event_id,
            "user_id": stored.user_id,
            "organisation_id": stored.organisation_id,
        },
    )

    assert expected in str(error.orig)
    assert after == before


def test_the_foreign_keys_from_audit_events_have_no_delete_or_update_action(db):
    """Deleting a user or organisation is refused (above) rather than cascading to the log or
    setting its user_id to NULL; the participant has no foreign key at all."""
    foreign_keys = sa.inspect(db.session.connection()).get_foreign_keys("audit_events")
    assert {(tuple(fk["constrained_columns"]), fk["referred_table"]) for fk in foreign_keys} == {
        (("user_id",), "users"),
        (("organisation_id",), "organisations"),
    }
    for fk in foreign_keys:
        for action in ("ondelete", "onupdate"):
            assert (fk["options"].get(action) or "NO ACTION").upper() in {"NO ACTION", "RESTRICT"}


def test_new_rows_are_still_accepted_with_or_without_an_id(db, stored):
    """The REPLACE guard refuses taken ids only (SQLite's NEW.id is -1 for a chosen one)."""
    fresh_id = stored.event_id + 10**9  # far above what PostgreSQL's sequence reaches in a run
    db.session.execute(sa.text(f"INSERT INTO audit_events {FORGED_ROW}"), {"id": fresh_id})
    event = audit.record(AuditAction.SEARCH, actor=None, detail="after")
    db.session.flush()
    assert event.id not in (stored.event_id, fresh_id)
    assert db.session.get(AuditEvent, fresh_id).detail == "forged"
    assert db.session.get(AuditEvent, event.id).detail == "after"


if not POSTGRES:

    def test_sqlite_refuses_ids_below_one_so_that_no_insert_looks_like_a_replace(db, stored):
        """SQLite's BEFORE INSERT trigger sees NEW.id = -1 for an id it has still to choose: a
        stored row -1 would make every later insert look like a REPLACE and be refused."""
        before = audit_rows(db.session)
        error, after = refused(db, f"INSERT INTO audit_events {FORGED_ROW}", {"id": -1})
        assert "append-only: ids start at 1" in str(error.orig)
        assert after == before


# PostgreSQL only: the two roles. Defined only when the run uses PostgreSQL, so that on SQLite
# nothing is collected (and nothing is skipped: FAIL_ON_SKIP=1 fails a run with skips). SQLite
# has no roles; whoever can write the file can change it, which is why production runs on
# PostgreSQL.

ROLES_SQL = ROOT / "docs" / "postgresql-roles.sql"
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


@dataclass
class Roles:
    owner: str
    app: str
    database: str
    server_url: sa.URL

    def url(self, role: str) -> str:
        return self.server_url.set(username=role, database=self.database).render_as_string(
            hide_password=False
        )


def roles_sql_sections(roles: Roles) -> dict[int, list[str]]:
    """docs/postgresql-roles.sql, its numbered sections, placeholders replaced by `roles`."""
    text = ROLES_SQL.read_text()
    for placeholder, name in (
        ("referrals_owner", roles.owner),
        ("referrals_app", roles.app),
        ("referrals", roles.database),
    ):
        text = re.sub(rf"\b{placeholder}\b", name, text)
    parts = re.split(r"^-- (\d)\. .*$", text, flags=re.MULTILINE)
    sections = {}
    for number, body in zip(parts[1::2], parts[2::2], strict=True):
        code = "\n".join(line for line in body.splitlines() if not line.startswith("--"))
        sections[int(number)] = [s.strip() for s in code.split(";") if s.strip()]
    assert sorted(sections) == [1, 2, 3]
    return sections


def run_sql(url: str | sa.URL, statements: list[str]) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


@contextmanager
def two_roles() -> Iterator[tuple[Roles, dict[int, list[str]]]]:
    """A new owner role, app role and database (sections 1 and 2 of the SQL file, run as the
    suite's superuser); all three are dropped afterwards, also when the test fails."""
    server_url = sa.make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    suffix = uuid.uuid4().hex[:10]
    roles = Roles(
        owner=f"referrals_owner_{suffix}",
        app=f"referrals_app_{suffix}",
        database=f"referrals_test_roles_{suffix}",
        server_url=server_url,
    )
    sections = roles_sql_sections(roles)
    try:
        run_sql(server_url, sections[1])
        run_sql(server_url.set(database=roles.database), sections[2])
        yield roles, sections
    finally:
        run_sql(
            server_url,
            [
                f'DROP DATABASE IF EXISTS "{roles.database}" WITH (FORCE)',
                f'DROP ROLE IF EXISTS "{roles.app}"',
                f'DROP ROLE IF EXISTS "{roles.owner}"',
            ],
        )


def privileges(connection: sa.Connection, role: str) -> dict[str, set[str]]:
    """Which table privileges `role` holds on each table of the schema, and on the audit
    sequence (as "USAGE", "SELECT", "UPDATE")."""
    tables = connection.execute(
        sa.text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    ).scalars()
    held = {
        table: {
            privilege
            for privilege in TABLE_PRIVILEGES
            if connection.execute(
                sa.text("SELECT has_table_privilege(:role, :table, :privilege)"),
                {"role": role, "table": table, "privilege": privilege},
            ).scalar()
        }
        for table in tables
    }
    held["audit_events_id_seq"] = {
        privilege
        for privilege in ("USAGE", "SELECT", "UPDATE")
        if connection.execute(
            sa.text("SELECT has_sequence_privilege(:role, 'audit_events_id_seq', :privilege)"),
            {"role": role, "privilege": privilege},
        ).scalar()
    }
    return held


def assert_app_privileges(roles: Roles) -> None:
    engine = sa.create_engine(roles.url(roles.owner), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            held = privileges(connection, roles.app)
            owner = connection.execute(
                sa.text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_events'")
            ).scalar()
            # Neither a superuser nor a member of the owner, and it cannot create objects (so
            # it cannot run migrations either).
            powers = connection.execute(
                sa.text(
                    "SELECT rolsuper, pg_has_role(:app, :owner, 'MEMBER'), "
                    "has_schema_privilege(:app, current_schema(), 'CREATE'), "
                    "has_database_privilege(:app, current_database(), 'CREATE') "
                    "FROM pg_roles WHERE rolname = :app"
                ),
                {"app": roles.app, "owner": roles.owner},
            ).one()
    finally:
        engine.dispose()
    assert owner == roles.owner
    assert tuple(powers) == (False, False, False, False)
    read_write = {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert held.pop("audit_events") == {"SELECT", "INSERT"}
    assert held.pop("alembic_version") == {"SELECT"}
    assert held.pop("audit_events_id_seq") == {"USAGE", "SELECT"}
    assert {table for table, granted in held.items() if granted != read_write} == set()
    assert {"users", "organisations", "user_sessions", "referrals"} <= set(held)


# What the app role tries on its own connection. Each item is a list of statements run in one
# transaction: one of them must fail with the error given.
APP_ROLE_ATTEMPTS = [
    ("update", ["UPDATE audit_events SET detail = 'changed'"], "permission denied"),
    ("delete", ["DELETE FROM audit_events"], "permission denied"),
    ("truncate", ["TRUNCATE audit_events"], "permission denied"),
    ("truncate-users-cascade", ["TRUNCATE users CASCADE"], "permission denied"),
    (
        "on-conflict-do-update",
        [
            f"INSERT INTO audit_events {FORGED_ROW} "
            "ON CONFLICT (id) DO UPDATE SET detail = excluded.detail"
        ],
        "permission denied",
    ),
    (
        "merge",
        [
            "MERGE INTO audit_events a USING (SELECT CAST(:id AS bigint) AS id) s "
            "ON a.id = s.id WHEN MATCHED THEN UPDATE SET detail = 'changed'"
        ],
        "permission denied",
    ),
    (
        "disable-trigger",
        [
            "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
            "UPDATE audit_events SET detail = 'changed'",
        ],
        "must be owner of table audit_events",
    ),
    (
        "disable-all-triggers",
        ["ALTER TABLE audit_events DISABLE TRIGGER ALL"],
        "must be owner of table audit_events",
    ),
    (
        "drop-trigger",
        ["DROP TRIGGER audit_events_append_only ON audit_events"],
        "must be owner of relation audit_events",
    ),
    ("drop-table", ["DROP TABLE audit_events"], "must be owner of table audit_events"),
    ("rename-table", ["ALTER TABLE audit_events RENAME TO old_events"], "must be owner"),
    (
        "take-ownership",
        ["ALTER TABLE audit_events OWNER TO {app}"],
        "must be owner of table audit_events",
    ),
    (
        "drop-user-foreign-key",
        ["ALTER TABLE audit_events DROP CONSTRAINT fk_audit_events_user_id_users"],
        "must be owner of table audit_events",
    ),
    (
        "create-trigger",
        [
            "CREATE TRIGGER sneak BEFORE INSERT ON audit_events FOR EACH ROW "
            "EXECUTE FUNCTION suppress_redundant_updates_trigger()"
        ],
        "permission denied",
    ),
    (
        # Without grant options GRANT only warns; the UPDATE after it is still refused.
        "grant-itself-update",
        [
            "GRANT UPDATE, DELETE, TRUNCATE ON audit_events TO {app}",
            "UPDATE audit_events SET detail = 'changed'",
        ],
        "permission denied for table audit_events",
    ),
    (
        "replica-role-skips-triggers",
        ["SET session_replication_role = replica"],
        "permission denied to set parameter",
    ),
    ("reset-the-id-sequence", ["SELECT setval('audit_events_id_seq', 1)"], "permission denied"),
    (
        "delete-a-user-the-log-names",
        ["DELETE FROM users WHERE id = :user_id"],
        'constraint "fk_audit_events_user_id_users"',
    ),
]


def app_role_tries(roles: Roles, user_id: int, event_id: int) -> dict[str, str]:
    """Each attempt of APP_ROLE_ATTEMPTS on the app role's connection; what went wrong with it
    (a missing or unexpected error, a changed row), by name."""
    problems = {}
    engine = sa.create_engine(roles.url(roles.app), poolclass=sa.pool.NullPool)

    def rows_now(connection) -> list[tuple]:
        rows = audit_rows(connection)
        connection.rollback()
        return rows

    try:
        with engine.connect() as connection:
            before = rows_now(connection)
            for name, statements, expected in APP_ROLE_ATTEMPTS:
                error = None
                try:
                    with connection.begin():
                        for statement in statements:
                            connection.execute(
                                sa.text(statement.replace("{app}", f'"{roles.app}"')),
                                {"id": event_id, "user_id": user_id},
                            )
                        changed = audit_rows(connection)
                        raise RuntimeError("rolled back")
                except sa.exc.DBAPIError as caught:
                    error = str(caught.orig)
                except RuntimeError:
                    problems[name] = f"went through; audit rows then: {changed}"
                    continue
                if expected not in error:
                    problems[name] = f"expected {expected!r}, got {error!r}"
                elif rows_now(connection) != before:
                    problems[name] = "audit rows changed"
            triggers = connection.execute(
                sa.text(
                    "SELECT tgname, tgenabled FROM pg_trigger "
                    "WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal ORDER BY 1"
                )
            ).all()
            if triggers != [("audit_events_append_only", "O"), ("audit_events_no_truncate", "O")]:
                problems["triggers"] = f"triggers now {triggers}"
    finally:
        engine.dispose()
    return problems


def use_the_app_as_the_app_role(app) -> tuple[int, int]:
    """What the app does as the app role: users, sessions, audit rows; reading them back.
    Returns the id of a user whom only an audit row names, and that row's id."""
    from referrals.services.accounts import login_sessions

    with app.app_context():
        try:
            user = factories.make_user(role=Role.ADMIN)
            actor = factories.make_user(role=Role.COORDINATOR)
            with app.test_request_context():
                login_sessions.start_session(user)
                event = audit.record(AuditAction.READ, actor=actor, object_type="x", object_id=1)
            _db.session.commit()
            user_id, event_id = actor.id, event.id
            # The other tables: change and delete as the app needs to.
            organisation = factories.make_organisation()
            user.name = "Renamed"
            _db.session.delete(organisation)
            _db.session.commit()
            stored = _db.session.get(AuditEvent, event_id)
            assert (stored.user_id, stored.action) == (user_id, AuditAction.READ)
            assert _db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) >= 2
        finally:
            _db.session.remove()
            _db.engine.dispose()
    return user_id, event_id


def migrate_as_owner(roles: Roles, *, grant_app_role: bool):
    """The app with DATABASE_URL of the app role, migrated with MIGRATION_DATABASE_URL (the
    owner); migrations/env.py grants the app role its privileges when it is configured."""
    from flask_migrate import upgrade

    overrides = {"MIGRATION_DATABASE_URL": roles.url(roles.owner)}
    if grant_app_role:
        overrides["REFERRALS_APP_ROLE"] = roles.app
    app = make_app(roles.url(roles.app), **overrides)
    with app.app_context():
        upgrade()
        _db.engine.dispose()
    return app


if POSTGRES:

    @pytest.mark.parametrize("grants_by", ["env.py", "sql-file"])
    def test_the_app_role_can_add_audit_rows_but_not_change_them_or_disarm_the_triggers(
        grants_by,
    ):
        with two_roles() as (roles, sections):
            app = migrate_as_owner(roles, grant_app_role=grants_by == "env.py")
            if grants_by == "sql-file":
                run_sql(roles.url(roles.owner), sections[3])
            assert_app_privileges(roles)

            user_id, event_id = use_the_app_as_the_app_role(app)
            assert app_role_tries(roles, user_id, event_id) == {}

    def test_grants_are_applied_again_after_every_migration():
        """A migration step that rebuilds audit_events gets the default privileges, UPDATE and
        DELETE among them; env.py takes them away again in the migration's transaction."""
        from flask_migrate import downgrade, upgrade

        with two_roles() as (roles, _sections):
            app = migrate_as_owner(roles, grant_app_role=True)
            run_sql(roles.url(roles.owner), ["GRANT ALL ON audit_events TO " + roles.app])
            with app.app_context():
                downgrade(revision="-1")
                upgrade()
                _db.engine.dispose()
            assert_app_privileges(roles)

            # A table made later by the owner (a future migration) is the app's to use.
            run_sql(
                roles.url(roles.owner),
                ["CREATE TABLE later_table (id serial PRIMARY KEY, note text)"],
            )
            run_sql(
                roles.url(roles.app),
                [
                    "INSERT INTO later_table (note) VALUES ('a')",
                    "UPDATE later_table SET note = 'b'",
                    "DELETE FROM later_table",
                ],
            )
