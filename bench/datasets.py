"""Cached national data sets for the benchmarks.

Building the synthetic data set (referrals.synthetic.build) takes minutes: about 280 s for
200,000 referrals. The benchmarks therefore keep one built copy per size and hand out fresh
working copies of it:

- PostgreSQL: a template database `bench_cache_<referrals>` per size. `postgres_copy(...)` (a
  context manager) checks its stamp, brings its schema up to date with the Alembic migrations
  (new migrations, an added index, apply in place: changed models or migrations do not force a
  rebuild), then creates a working copy with `CREATE DATABASE ... TEMPLATE` and drops the copy
  again when the block ends.
- SQLite: a file in .bench-cache/ per size; `sqlite_copy(...)` upgrades it the same way and
  copies it to a temporary file for each use.

A cache is stamped with a fingerprint: the SHA-256 of the source of referrals/synthetic/*.py,
of the build parameters and of the recipe below. A cache whose fingerprint differs, whose
upgrade fails, or that is unfinished (no stamp) is dropped and built again. BENCH_REBUILD=1
forces a rebuild. The stamp of a PostgreSQL cache is its database comment (COMMENT ON
DATABASE, which a copy does not inherit), of a SQLite cache a JSON file next to it.

The recipe: upgrade an empty database, `build(referrals=, programmes=, largest=, seed=)`, add
one postcode area (PC4 1000-9999) per programme (synthetic programmes cover none, and the new
referral form needs one), VACUUM ANALYZE (PostgreSQL) or ANALYZE (SQLite).

Sizes: the largest programme has `largest` (10,000) referrals and the last one 100 at every
size; the others share the rest evenly. `default_programmes()` picks the number of programmes
so that those share about as many referrals each as 200,000 referrals over 300 programmes
give (637), so that pages of a programme of a given size compare across data-set sizes.

`python -m bench.datasets [200000 1000000 ...] [--sqlite]` builds or refreshes caches ahead;
`--drop` removes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / ".bench-cache"
PG_SERVER = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
LARGEST = 10_000
SMALLEST = 100  # the builder gives the last programme 100 referrals
SEED = 2026
# 200,000 referrals over 300 programmes: 10,000 + 100 + 298 programmes of about 637.
MIDDLE = (200_000 - LARGEST - SMALLEST) / 298
# Part of the fingerprint: change it when what a cache holds besides build() changes.
RECIPE = "v1: upgrade; build(); postcode area 1000-9999 per programme; (VACUUM) ANALYZE"
CACHE_PREFIX = "bench_cache_"
WORK_PREFIX = "bench_work_"


def default_programmes(referrals: int, largest: int = LARGEST) -> int:
    """As many programmes as keep the middle ones at about 637 referrals each."""
    rest = referrals - largest - SMALLEST
    return max(3, 2 + round(rest / MIDDLE)) if rest > 0 else 3


@dataclass
class Dataset:
    """A working copy of a cached data set."""

    url: str
    kind: str  # "postgresql" or "sqlite"
    info: dict = field(default_factory=dict)  # the stamp: parameters, ids, sizes, build time
    reused: bool = False
    seconds: float = 0.0  # to reuse (check, upgrade, copy) or to build, and copy

    @property
    def largest_programme_id(self) -> int:
        return self.info["largest_programme_id"]

    @property
    def smallest_programme_id(self) -> int:
        return self.info["smallest_programme_id"]


def parameters(
    referrals: int, programmes: int | None = None, largest: int = LARGEST, seed: int = SEED
) -> dict:
    return dict(
        referrals=referrals,
        programmes=programmes or default_programmes(referrals, largest),
        largest=largest,
        seed=seed,
    )


def fingerprint(params: dict) -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "referrals" / "synthetic").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(params, sort_keys=True).encode())
    digest.update(RECIPE.encode())
    return digest.hexdigest()


# --- building ------------------------------------------------------------------------------


def _app(url: str, bulk_load: bool = False):
    """A testing app on `url`. On PostgreSQL without statement and lock timeouts (a migration's
    backfill of millions of rows, or VACUUM, may take minutes); with `bulk_load`, for the build,
    also without foreign-key checks while rows go in (session_replication_role = replica: the
    builder writes consistent ids; the constraints stay declared and the only other triggers,
    on audit_events and reports, concern tables it does not write) and without waiting for
    each commit to reach the disk. The rows written are the same."""
    from referrals import create_app

    overrides = {"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False, "LOG_LEVEL": "WARNING"}
    if url.startswith("postgresql"):
        options = "-c statement_timeout=0 -c lock_timeout=0"
        if bulk_load:
            options += (
                " -c session_replication_role=replica -c synchronous_commit=off"
                " -c maintenance_work_mem=512MB"
            )
        overrides["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "hide_parameters": True,
            "connect_args": {"options": options},
        }
    return create_app("testing", overrides)


def _versions(db) -> set[str]:
    import sqlalchemy as sa

    if not sa.inspect(db.engine).has_table("alembic_version"):
        return set()
    with db.engine.connect() as c:
        return set(c.scalars(sa.text("SELECT version_num FROM alembic_version")))


def _analyze(db) -> None:
    import sqlalchemy as sa

    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
    else:
        with db.engine.begin() as c:
            c.execute(sa.text("ANALYZE"))


def _summarise(everything: bool) -> None:
    """The dashboard's monthly summary, as the worker keeps it: `everything` after the build
    (which writes with the triggers off, as the replica role), else the months a migration
    marked."""
    from referrals.services.uptake.figures import recount_all, refresh_marked

    started = time.perf_counter()
    programmes, months = recount_all() if everything else refresh_marked()
    print(
        f"  monthly summary: {months} months of {programmes} programmes counted in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )


def _upgrade(url: str) -> tuple[set[str], set[str]]:
    """Apply new migrations; ANALYZE when any applied. The revisions before and after."""
    from flask_migrate import upgrade

    from referrals.extensions import db

    app = _app(url)
    with app.app_context():
        try:
            before = _versions(db)
            upgrade()
            after = _versions(db)
            if after != before:
                _summarise(everything=False)
                _analyze(db)
            return before, after
        finally:
            db.session.remove()
            db.engine.dispose()


def _reusable(name: str, stamp: dict | None, wanted: str, url: str) -> bool:
    """Whether the cache can be used as it is: stamped with `wanted` (and no BENCH_REBUILD=1),
    and brought up to date by the migrations. Says why not, or which migrations it applied."""
    if stamp is None:
        return False  # there is none yet
    if os.environ.get("BENCH_REBUILD") == "1":
        reason = "BENCH_REBUILD=1"
    elif not stamp.get("fingerprint"):
        reason = "unfinished (no stamp)"
    elif stamp["fingerprint"] != wanted:
        reason = "referrals/synthetic or the parameters changed"
    else:
        started = time.perf_counter()
        try:
            before, after = _upgrade(url)
        except Exception as error:  # any failure means: rebuild
            reason = f"the migrations failed on it ({type(error).__name__})"
        else:
            if after != before:
                print(
                    f"data set {name}: migrated from {', '.join(sorted(before)) or 'nothing'} "
                    f"to {', '.join(sorted(after))} and analysed in "
                    f"{time.perf_counter() - started:.0f} s",
                    flush=True,
                )
            return True
    print(f"data set {name}: {reason}; building it again", flush=True)
    return False


def _build(url: str, params: dict) -> dict:
    """The recipe on an empty database; the stamp's facts (without the fingerprint)."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from referrals.extensions import db
    from referrals.models import PostcodeArea, Programme, Referral
    from referrals.synthetic import build

    app = _app(url, bulk_load=True)
    started = time.perf_counter()
    with app.app_context():
        try:
            upgrade()
            built = build(**params)
            db.session.commit()
            programme_ids = list(db.session.scalars(sa.select(Programme.id)))
            db.session.execute(
                sa.insert(PostcodeArea),
                [dict(programme_id=p, pc4_from=1000, pc4_to=9999) for p in programme_ids],
            )
            db.session.commit()
            _summarise(everything=True)
            _analyze(db)
            sizes = dict(
                db.session.execute(
                    sa.select(Referral.programme_id, sa.func.count()).group_by(
                        Referral.programme_id
                    )
                ).all()
            )
        finally:
            db.session.remove()
            db.engine.dispose()
    return dict(
        params=params,
        referrals=built.referrals,
        programmes=built.programmes,
        attendances=built.attendances,
        largest_programme_id=built.largest_programme_id,
        smallest_programme_id=built.smallest_programme_id,
        largest_size=sizes.get(built.largest_programme_id, 0),
        smallest_size=sizes.get(built.smallest_programme_id, 0),
        middle_size=sorted(sizes.values())[len(sizes) // 2] if sizes else 0,
        build_seconds=round(time.perf_counter() - started, 1),
        build_peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )


def describe(label: str, dataset: Dataset) -> str:
    info = dataset.info
    how = "reused" if dataset.reused else f"built in {info['build_seconds']:.0f} s"
    return (
        f"data set {label}: {info['referrals']:,} referrals in {info['programmes']:,} "
        f"programmes (largest #{info['largest_programme_id']}: {info['largest_size']:,}, "
        f"smallest #{info['smallest_programme_id']}: {info['smallest_size']:,}, median "
        f"{info['middle_size']:,}), {info['attendances']:,} attendances; {how} "
        f"(built {info['built_at'][:10]}); working copy ready in {dataset.seconds:.1f} s"
    )


# --- PostgreSQL ----------------------------------------------------------------------------


def _admin():
    import sqlalchemy as sa

    return sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _url(admin, database: str) -> str:
    return admin.url.set(database=database).render_as_string(hide_password=False)


def _stamp(c, name: str) -> dict | None:
    import sqlalchemy as sa

    row = c.execute(
        sa.text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"),
        {"n": name},
    ).first()
    if row is None:
        return None
    try:
        return json.loads(row[0] or "")
    except ValueError:
        return {}


def _quote(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unexpected database name {name!r}")
    return f'"{name}"'


def _create_copy(c, name: str, template: str) -> None:
    """CREATE DATABASE from the template; retried while a connection to it closes."""
    import sqlalchemy as sa

    for attempt in range(20):
        try:
            # FILE_COPY copies the files (one checkpoint), much faster for gigabytes than
            # WAL-logging every block (PostgreSQL 15's default).
            c.exec_driver_sql(
                f"CREATE DATABASE {_quote(name)} TEMPLATE {_quote(template)} STRATEGY FILE_COPY"
            )
            return
        except sa.exc.OperationalError as error:
            if "being accessed by other users" not in str(error) or attempt == 19:
                raise
            time.sleep(0.5)


@contextlib.contextmanager
def postgres_copy(
    referrals: int,
    programmes: int | None = None,
    largest: int = LARGEST,
    seed: int = SEED,
    label: str | None = None,
) -> Iterator[Dataset]:
    """A fresh PostgreSQL working copy of the cached data set; dropped when the block ends."""
    params = parameters(referrals, programmes, largest, seed)
    wanted = fingerprint(params)
    cache = f"{CACHE_PREFIX}{referrals}"
    work = f"{WORK_PREFIX}{referrals}_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    started = time.perf_counter()
    try:
        with admin.connect() as c:
            # One run at a time checks, builds or copies this cache.
            lock = zlib.crc32(cache.encode())
            c.exec_driver_sql(f"SELECT pg_advisory_lock({lock})")
            try:
                stamp = _stamp(c, cache)
                reused = _reusable(cache, stamp, wanted, _url(admin, cache))
                if not reused:
                    c.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote(cache)} WITH (FORCE)")
                    c.exec_driver_sql(f"CREATE DATABASE {_quote(cache)}")
                    print(f"data set {cache}: building {params} (several minutes)...", flush=True)
                    stamp = {"fingerprint": wanted, **_build(_url(admin, cache), params)}
                    comment = json.dumps(stamp).replace("'", "''")
                    c.exec_driver_sql(f"COMMENT ON DATABASE {_quote(cache)} IS '{comment}'")
                _create_copy(c, work, cache)
            finally:
                c.exec_driver_sql(f"SELECT pg_advisory_unlock({lock})")
        dataset = Dataset(
            url=_url(admin, work),
            kind="postgresql",
            info=stamp,
            reused=reused,
            seconds=time.perf_counter() - started,
        )
        print(describe(label or f"{referrals:,} (PostgreSQL)", dataset), flush=True)
        yield dataset
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote(work)} WITH (FORCE)")
        admin.dispose()


# --- SQLite --------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_copy(
    referrals: int,
    programmes: int | None = None,
    largest: int = LARGEST,
    seed: int = SEED,
    label: str | None = None,
) -> Iterator[Dataset]:
    """A fresh SQLite working copy (a temporary file) of the cached data set."""
    params = parameters(referrals, programmes, largest, seed)
    wanted = fingerprint(params)
    CACHE_DIR.mkdir(exist_ok=True)
    cache = CACHE_DIR / f"sqlite-{referrals}.sqlite"
    stamp_path = cache.with_suffix(".json")
    started = time.perf_counter()
    stamp = None
    if stamp_path.exists() and cache.exists():
        with contextlib.suppress(ValueError):
            stamp = json.loads(stamp_path.read_text())
    reused = _reusable(cache.name, stamp, wanted, f"sqlite:///{cache}")
    if not reused:
        stamp_path.unlink(missing_ok=True)
        building = cache.with_suffix(".building")
        building.unlink(missing_ok=True)
        print(f"data set {cache.name}: building {params} (several minutes)...", flush=True)
        stamp = {"fingerprint": wanted, **_build(f"sqlite:///{building}", params)}
        building.replace(cache)
        stamp_path.write_text(json.dumps(stamp, indent=1))
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
        work = Path(tmp) / "work.sqlite"
        shutil.copyfile(cache, work)
        dataset = Dataset(
            url=f"sqlite:///{work}",
            kind="sqlite",
            info=stamp,
            reused=reused,
            seconds=time.perf_counter() - started,
        )
        print(describe(label or f"{referrals:,} (SQLite)", dataset), flush=True)
        yield dataset


def drop_caches() -> None:
    import sqlalchemy as sa

    admin = _admin()
    try:
        with admin.connect() as c:
            names = c.scalars(
                sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": CACHE_PREFIX + "%"},
            ).all()
            for name in names:
                c.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
                print(f"dropped {name}")
    finally:
        admin.dispose()
    shutil.rmtree(CACHE_DIR, ignore_errors=True)


def main(argv: list[str]) -> int:
    if "--drop" in argv:
        drop_caches()
        return 0
    sizes = [int(a) for a in argv if a.isdigit()] or [200_000, 1_000_000]
    for referrals in sizes:
        with postgres_copy(referrals):
            pass
        if "--sqlite" in argv:
            with sqlite_copy(referrals):
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
