"""Report jobs under races and crashes, with real commits on a database of its own: workers
rendering one period at once number their versions once each, and a worker killed in the
middle of a job leaves it to the next worker after the lease, which renders it exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from referrals.extensions import db
from referrals.models import Programme, Report, ReportJob, ReportJobState, Role
from referrals.services.uptake import programme_report
from tests import factories
from tests.conftest import make_app

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).with_name("flask")
START, END = date(2026, 4, 1), date(2026, 6, 30)  # the second quarter: a fixed period
LEASE_SECONDS = 5


@pytest.fixture(scope="module")
def report_app(databases):
    # On SQLite each render holds the write lock for its whole transaction, so the three wait
    # for each other in turn: a busy timeout that outlasts two renders on a loaded machine.
    app = make_app(
        databases.new("reports"),
        REPORT_JOB_LEASE_SECONDS=LEASE_SECONDS,
        DB_BUSY_TIMEOUT_MS=60000,
    )
    with app.app_context():
        upgrade()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def committed_programme(app) -> tuple[int, int]:
    with app.test_request_context():
        world = factories.make_world(therapist=False)
        factories.make_referral(programme=world.programme, referrer=world.gp)
        officer = factories.make_user(role=Role.OFFICER, organisation=world.municipality)
        db.session.commit()
        return world.programme.id, officer.id


def versions_of(app, programme_id: int) -> list[int]:
    with app.app_context():
        found = db.session.scalars(
            sa.select(Report.version).where(Report.programme_id == programme_id)
        ).all()
        db.session.remove()
        return sorted(found)


def test_three_workers_rendering_one_period_at_once_number_1_2_3(report_app):
    programme_id, _ = committed_programme(report_app)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def render() -> None:
        try:
            with report_app.test_request_context():
                barrier.wait(timeout=30)
                programme = db.session.get(Programme, programme_id)
                programme_report.generate_programme_report(programme, START, END, actor=None)
                db.session.commit()
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=render) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a render hung"
    assert errors == []
    assert versions_of(report_app, programme_id) == [1, 2, 3]
    with report_app.app_context():
        names = db.session.scalars(
            sa.select(Report.filename).where(Report.programme_id == programme_id)
        ).all()
        db.session.remove()
    assert sorted(name.rsplit("-", 1)[1] for name in names) == ["v1.pdf", "v2.pdf", "v3.pdf"]


def worker(app) -> subprocess.Popen:
    with app.app_context():
        url = db.engine.url.render_as_string(hide_password=False)
    env = {
        **os.environ,
        "REFERRALS_CONFIG": "testing",
        "DATABASE_URL": url,
        "FLASK_APP": "referrals",
        "REPORT_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    return subprocess.Popen(
        [str(FLASK), "render-reports"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def job_state(app, job_id: int) -> tuple[ReportJobState, int, int | None]:
    """Read by a plain connection: on SQLite the app's own transactions begin IMMEDIATE and
    would wait for the rendering worker's write lock; a plain read does not (WAL)."""
    with app.app_context():
        url = db.engine.url
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            state, attempts, report_id = connection.execute(
                sa.select(ReportJob.state, ReportJob.attempts, ReportJob.report_id).where(
                    ReportJob.id == job_id
                )
            ).one()
    finally:
        engine.dispose()
    return ReportJobState(state), attempts, report_id


def test_a_worker_killed_mid_job_leaves_it_to_the_next_which_renders_it_once(report_app):
    programme_id, officer_id = committed_programme(report_app)
    with report_app.test_request_context():
        from referrals.models import User

        programme = db.session.get(Programme, programme_id)
        job = programme_report.request_report(
            programme, START, END, actor=db.session.get(User, officer_id)
        )
        db.session.commit()
        job_id = job.id
        db.session.remove()

    first = worker(report_app)
    deadline = time.monotonic() + 60
    while job_state(report_app, job_id)[0] is not ReportJobState.RUNNING:
        assert first.poll() is None, first.communicate()[0]
        assert time.monotonic() < deadline, "the worker never took the job"
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    first.stdout.close()
    assert job_state(report_app, job_id) == (ReportJobState.RUNNING, 1, None)

    # Within the lease, another worker leaves the job alone.
    early = worker(report_app)
    assert early.communicate(timeout=60)[0].decode().strip().endswith("rendered 0")
    time.sleep(LEASE_SECONDS + 0.5)
    late = worker(report_app)
    output = late.communicate(timeout=120)[0].decode()
    assert late.returncode == 0, output
    assert output.strip().endswith("rendered 1"), output

    assert job_state(report_app, job_id)[:2] == (ReportJobState.DONE, 2)
    assert versions_of(report_app, programme_id) == [1]  # lost 0, doubled 0
