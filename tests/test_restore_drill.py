"""scripts/restore-drill, run as an operator runs it: it backs a database up, restores the
backup into a scratch copy, compares every table's rows and decrypts every TOTP secret in the
copy; with the wrong key it fails. On a database of its own (SQLite or PostgreSQL, as the run)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask_migrate import upgrade

from referrals.extensions import db
from referrals.models import Role, User
from tests import factories
from tests.conftest import make_app, rebind_limiter

ROOT = Path(__file__).resolve().parent.parent
DRILL = ROOT / "scripts" / "restore-drill"


@dataclass
class Source:
    url: str
    key: str
    users: int
    enrolled: int
    tables: int


@pytest.fixture(scope="module")
def source(app, databases) -> Source:
    """A migrated database with a world of users (most enrolled: a TOTP secret each, encrypted
    with a DATA_ENCRYPTION_KEY of its own), a referral, and a user without a secret."""
    key = Fernet.generate_key().decode()
    url = databases.new("drill")
    own = make_app(url, DATA_ENCRYPTION_KEY=key)
    with own.app_context():
        upgrade()
        world = factories.make_world()
        factories.make_referral(programme=world.programme, referrer=world.gp)
        factories.make_user(role=Role.REFERRER, enrolled=False)
        db.session.commit()
        users = db.session.scalar(sa.select(sa.func.count()).select_from(User))
        enrolled = db.session.scalar(
            sa.select(sa.func.count()).where(User.totp_secret.is_not(None))
        )
        tables = len(sa.inspect(db.session.connection()).get_table_names())
        db.session.remove()
        db.engine.dispose()
    rebind_limiter(app)
    assert 0 < enrolled < users
    return Source(url, key, users, enrolled, tables)


def run_drill(
    source: Source, *args: str, key: str | None = "source"
) -> subprocess.CompletedProcess:
    """The drill in a process of its own, with only the environment an operator would set."""
    env = {
        "PATH": os.environ["PATH"],
        "REFERRALS_CONFIG": "testing",
        "DATABASE_URL": source.url,
    }
    if key is not None:
        env["DATA_ENCRYPTION_KEY"] = source.key if key == "source" else key
    return subprocess.run(
        [sys.executable, str(DRILL), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def scratch_databases_left(source: Source) -> list[str]:
    """PostgreSQL: the drill's scratch databases still there (none once it has finished)."""
    url = sa.make_url(source.url)
    if url.get_backend_name() != "postgresql":
        return []
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            names = conn.exec_driver_sql("SELECT datname FROM pg_database").scalars().all()
    finally:
        engine.dispose()
    return [name for name in names if name.startswith(f"{url.database}_restore_drill_")]


def test_the_restored_copy_has_every_row_and_its_secrets_decrypt(source):
    result = run_drill(source)
    report = result.stdout
    assert result.returncode == 0, report + result.stderr
    assert re.search(rf"^\s+users\s+{source.users} = {source.users}$", report, re.M), report
    assert f"{source.enrolled}/{source.enrolled} decrypted (users.totp_secret" in report
    assert re.search(rf"tables: +{source.tables} compared, .*, all equal$", report, re.M)
    assert "(same as the source)" in report
    assert "FAILED" not in report and report.rstrip().endswith("its secrets decrypt.")
    assert scratch_databases_left(source) == []


@pytest.mark.parametrize(
    "key",
    [Fernet.generate_key().decode(), None],
    ids=["another DATA_ENCRYPTION_KEY", "the key lost (derived from SECRET_KEY)"],
)
def test_with_another_key_the_secrets_do_not_decrypt_and_the_drill_fails(source, key):
    result = run_drill(source, key=key)
    report = result.stdout
    assert result.returncode == 1, report + result.stderr
    assert f"0/{source.enrolled} decrypted" in report
    assert f"{source.enrolled} of {source.enrolled} secrets in users.totp_secret could not be " in (
        report
    )
    # The rows themselves were restored; only the secrets are unreadable.
    assert re.search(rf"^\s+users\s+{source.users} = {source.users}$", report, re.M), report
    assert "FAILED (1 problem(s))" in report
    assert scratch_databases_left(source) == []


def test_keep_leaves_the_backup_in_the_folder_readable_by_its_owner_only(source, tmp_path):
    folder = tmp_path / "backups"
    result = run_drill(source, "--keep", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    (backup,) = folder.iterdir()
    assert f"kept as {backup}" in result.stdout
    assert backup.stat().st_mode & 0o077 == 0
    postgres = sa.make_url(source.url).get_backend_name() == "postgresql"
    assert backup.read_bytes()[:16].startswith(b"PGDMP" if postgres else b"SQLite format 3")


def load_drill():
    """The script as a module (it has no .py suffix), for its comparison on its own."""
    loader = importlib.machinery.SourceFileLoader("restore_drill", str(DRILL))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    sys.modules.setdefault(loader.name, module)  # its dataclasses look their module up there
    loader.exec_module(sys.modules[loader.name])
    return sys.modules[loader.name]


def test_a_table_that_came_back_short_or_not_at_all_fails_the_comparison():
    """What a restore that lost rows looks like (PostgreSQL: pg_restore refused a table's rows;
    the drill in a process finds none such in a sound backup, so the comparison is fed one)."""
    drill = load_drill()
    report = drill.Report("test")
    source = drill.State({"alembic_version": 1, "users": 4, "referrals": 2}, ["abc"])
    copy = drill.State({"alembic_version": 1, "users": 3}, ["abc"])
    drill.compare_tables(source, copy, report)
    assert report.problems == [
        "table referrals is missing from the restored copy",
        "table users: 4 rows in the source, 3 in the restored copy",
    ]
    assert any(re.fullmatch(r"\s+users\s+4 != 3", line) for line in report.lines)
    equal = drill.Report("test")
    drill.compare_tables(source, source, equal)
    assert equal.problems == [] and equal.lines[0].endswith(", all equal")
