"""Benchmark: programme uptake figures at national scale, on SQLite and on PostgreSQL.

Run with `make bench` (or `python -m bench.bench_uptake`). Takes a working copy of the cached
synthetic data set (bench/datasets.py; BENCH_REFERRALS, default 200,000 referrals over
BENCH_PROGRAMMES, default 300 programmes, the largest with BENCH_LARGEST=10,000 and the last
with 100) for each kind of database, then prints for the largest and the smallest programme:
server time of programme_uptake (median of warm runs) and its number of SQL queries; the
officer's dashboard page (time and queries: the same count for both); CPU time of the
coordinator's referral list page; render time and page count of the funder report of the
programme to date (the longest period an officer can choose). Targets:
dashboard under 200 ms with 10,000 referrals in the programme; report under 3 s and fewer than
15 pages for any programme size.
"""

from __future__ import annotations

import io
import os
import statistics
import time
from datetime import date, timedelta

import sqlalchemy as sa

from bench import datasets
from referrals import create_app
from referrals.extensions import db
from referrals.models import Programme
from referrals.services.uptake import programme_uptake

REFERRALS = int(os.environ.get("BENCH_REFERRALS", "200000"))
LARGEST = int(os.environ.get("BENCH_LARGEST", "10000"))
PROGRAMMES = int(os.environ.get("BENCH_PROGRAMMES", "0")) or None  # None: datasets' default
RUNS = int(os.environ.get("BENCH_UPTAKE_RUNS", "7"))


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


def measure_pages(app, label: str, dataset, sizes: dict) -> None:
    """The dashboard page as an officer, the referral list as a coordinator, the report."""
    from pypdf import PdfReader

    from referrals.models import Role, programme_coordinators
    from referrals.services.uptake import periods
    from referrals.services.uptake.programme_report import render_programme_report
    from tests import factories

    for name, programme_id in (
        ("largest", dataset.largest_programme_id),
        ("smallest", dataset.smallest_programme_id),
    ):
        with app.test_request_context():
            programme = db.session.get(Programme, programme_id)
            # The longest period an officer can choose: the programme to date; with the
            # follow-up, whose section adds a page.
            programme.follow_up_months = 3
            whole = next(p for p in periods.available(programme) if p.kind == periods.ALL)
            start, end = whole.start, whole.end
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
                f"/uptake/{programme_id}", query_string={"period": periods.ALL}
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
        print(
            f"[{label}] funder report of the {name} programme, {start} to {end}: "
            f"{seconds:.2f} s, {pages} pages"
        )


def run(label: str, dataset: datasets.Dataset) -> None:
    app = create_app(
        "testing", {"SQLALCHEMY_DATABASE_URI": dataset.url, "RATELIMIT_ENABLED": False}
    )
    with app.app_context():
        # As production has them (`flask load-postcodes`): the reach section's PC4 areas and
        # map, the longest part of the report for a national programme.
        from referrals.services.therapists.geo import load_pc4_areas

        load_pc4_areas()
        db.session.commit()
        sizes = dict(
            db.session.execute(
                sa.text("SELECT programme_id, COUNT(*) FROM referrals GROUP BY programme_id")
            ).all()
        )
    for name, programme_id in (
        ("largest", dataset.largest_programme_id),
        ("smallest", dataset.smallest_programme_id),
    ):
        ms, queries = measure(app, programme_id)
        print(
            f"[{label}] uptake of the {name} programme ({sizes.get(programme_id, 0):,} referrals): "
            f"{ms:.0f} ms (median of {RUNS - 1} warm runs), {queries} queries"
        )
    measure_pages(app, label, dataset, sizes)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    wanted = dict(referrals=REFERRALS, programmes=PROGRAMMES, largest=LARGEST)
    with datasets.sqlite_copy(**wanted) as dataset:
        run("SQLite", dataset)
    with datasets.postgres_copy(**wanted) as dataset:
        run("PostgreSQL", dataset)


if __name__ == "__main__":
    main()
