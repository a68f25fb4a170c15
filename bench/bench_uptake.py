"""Benchmark: programme uptake figures at national scale, on SQLite and on PostgreSQL.

Run with `make bench` (or `python -m bench.bench_uptake`). Builds a synthetic data set
(BENCH_REFERRALS, default 200,000 referrals over 300 programmes, the largest with 10,000 and
the smallest with 100) in a throw-away database of each kind, then prints for the largest and
the smallest programme: server time of programme_uptake (median of warm runs) and its number
of SQL queries; the officer's dashboard page (time and queries: the same count for both);
CPU time of the coordinator's referral list page; render time and page count of the funder
report. Targets: dashboard under 200 ms with 10,000 referrals in the programme; report under
3 s and fewer than 15 pages for any programme size.
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from referrals import create_app
from referrals.extensions import db
from referrals.models import Programme
from referrals.services.uptake import programme_uptake
from referrals.synthetic import build

REFERRALS = int(os.environ.get("BENCH_REFERRALS", "200000"))
LARGEST = int(os.environ.get("BENCH_LARGEST", "10000"))
PROGRAMMES = int(os.environ.get("BENCH_PROGRAMMES", "300"))
RUNS = 7
PG_SERVER = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


class QueryCounter:
    def __init__(self, engine):
        self.count = 0
        sa.event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *args):
        self.count += 1


def measure(app, programme_id: int) -> tuple[float, int]:
    end = date.today()
    start = end - timedelta(days=365)
    with app.app_context():
        counter = QueryCounter(db.engine)
        times, queries = [], []
        for _ in range(RUNS):
            db.session.remove()
            programme = db.session.get(Programme, programme_id)
            before_queries = counter.count
            started = time.perf_counter()
            uptake = programme_uptake(programme, start, end)
            times.append(time.perf_counter() - started)
            queries.append(counter.count - before_queries)
        assert uptake.received >= 0
        return statistics.median(times[1:]) * 1000, max(queries)


def logged_in_client(app, user):
    """A test client with a server-side session for `user` (no login pages)."""
    from flask_login import login_user

    from referrals.services.accounts import login_sessions

    client = app.test_client()
    with app.test_request_context():
        user = db.session.merge(user)
        login_sessions.start_session(user)
        db.session.commit()
        token = user.session_token
        login_user(user)
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = token
        flask_session["_fresh"] = True
    return client


def measure_pages(app, label: str, built, sizes: dict) -> None:
    """The dashboard page as an officer, the referral list as a coordinator, the report."""
    from pypdf import PdfReader

    from referrals.models import Role, programme_coordinators
    from referrals.services.uptake.programme_report import render_programme_report
    from tests import factories

    end = date.today()
    start = end - timedelta(days=365)
    for name, programme_id in (
        ("largest", built.largest_programme_id),
        ("smallest", built.smallest_programme_id),
    ):
        with app.test_request_context():
            programme = db.session.get(Programme, programme_id)
            officer = factories.make_user(role=Role.OFFICER, organisation=programme.funder)
            coordinator = factories.make_user(role=Role.COORDINATOR, organisation=programme.funder)
            db.session.execute(
                programme_coordinators.insert().values(
                    programme_id=programme_id, user_id=coordinator.id
                )
            )
            db.session.commit()
        officer_client = logged_in_client(app, officer)
        coordinator_client = logged_in_client(app, coordinator)
        # Requests outside any app context of ours: each gets its own `g` (the logged-in user).
        with app.app_context():
            counter = QueryCounter(db.engine)
        walls, queries, cpus = [], [], []
        for _ in range(RUNS):
            before = counter.count
            started = time.perf_counter()
            response = officer_client.get(
                f"/uptake/{programme_id}",
                query_string={"start": start.isoformat(), "end": end.isoformat()},
            )
            walls.append(time.perf_counter() - started)
            queries.append(counter.count - before)
            assert response.status_code == 200, response.status_code
            cpu_started = time.process_time()
            response = coordinator_client.get("/referrals")
            cpus.append(time.process_time() - cpu_started)
            assert response.status_code == 200, response.status_code
        print(
            f"[{label}] dashboard page of the {name} programme ({sizes.get(programme_id, 0):,} "
            f"referrals): {statistics.median(walls[1:]) * 1000:.0f} ms, {max(queries[1:])} "
            f"queries; referral list page: {statistics.median(cpus[1:]) * 1000:.0f} ms CPU"
        )
        with app.test_request_context():
            programme = db.session.get(Programme, programme_id)
            render_programme_report(programme, start, end, version=1)  # warm: fonts, imports
            started = time.perf_counter()
            pdf, _, _ = render_programme_report(programme, start, end, version=1)
            seconds = time.perf_counter() - started
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        print(f"[{label}] funder report of the {name} programme: {seconds:.2f} s, {pages} pages")


def run(label: str, url: str) -> None:
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        built = build(referrals=REFERRALS, programmes=PROGRAMMES, largest=LARGEST)
        db.session.commit()
        built_in = time.perf_counter() - started
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM ANALYZE")
        else:
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
        sizes = dict(
            db.session.execute(
                sa.text("SELECT programme_id, COUNT(*) FROM referrals GROUP BY programme_id")
            ).all()
        )
    print(
        f"[{label}] {built.referrals:,} referrals, {built.programmes} programmes, "
        f"{built.attendances:,} attendances; built in {built_in:.0f} s"
    )
    for name, programme_id in (
        ("largest", built.largest_programme_id),
        ("smallest", built.smallest_programme_id),
    ):
        ms, queries = measure(app, programme_id)
        print(
            f"[{label}] uptake of the {name} programme ({sizes.get(programme_id, 0):,} referrals): "
            f"{ms:.0f} ms (median of {RUNS - 1} warm runs), {queries} queries"
        )
    measure_pages(app, label, built, sizes)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
    admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    name = f"referrals_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        run("PostgreSQL", admin.url.set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
