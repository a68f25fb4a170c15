"""Benchmark: programme uptake figures at national scale, on SQLite and on PostgreSQL.

Run with `make bench` (or `python -m bench.bench_uptake`). Builds a synthetic data set
(BENCH_REFERRALS, default 200,000 referrals over 300 programmes, the largest with 10,000 and
the smallest with 100) in a throw-away database of each kind, then prints for the largest and
the smallest programme: server time of programme_uptake (median of warm runs) and the number
of SQL queries (the same for both when the figures are computed in the database). Target:
under 200 ms for the largest programme.
"""

from __future__ import annotations

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


def run(label: str, url: str) -> None:
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        built = build(referrals=REFERRALS, programmes=PROGRAMMES)
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
            f"[{label}] uptake of the {name} programme ({sizes[programme_id]:,} referrals): "
            f"{ms:.0f} ms (median of {RUNS - 1} warm runs), {queries} queries"
        )
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
