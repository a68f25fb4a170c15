"""Benchmark: match one referral against 500 therapists (target: under 50 ms).

Run with `make bench`. Builds a throw-away SQLite database with the PC4 coordinates, one
programme, 500 therapists spread over PC4 areas around Noordwijk and Leiden, and one
referral; then times match_referral (objects already loaded, as on the coordinator's page,
and from a cold session) and prints the figures.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade

from referrals import create_app
from referrals.extensions import db
from referrals.models import OrganisationKind, Referral, Role, utcnow
from referrals.services.referrals.matching import match_referral
from referrals.services.therapists.geo import load_pc4_areas

THERAPISTS = 500
RUNS = 50


def build(app) -> int:
    from tests import factories

    rng = random.Random(7)  # noqa: S311 - sample data, not secrets
    with app.test_request_context():
        load_pc4_areas()
        municipality = factories.make_organisation(kind=OrganisationKind.MUNICIPALITY)
        gp_practice = factories.make_organisation(kind=OrganisationKind.GP_PRACTICE)
        programme = factories.make_programme(
            funder=municipality, referrers=[gp_practice], areas="1000-9999"
        )
        gp = factories.make_user(role=Role.REFERRER, organisation=gp_practice)
        areas = [2201, 2202, 2204, 2211, 2215, 2221, 2231, 2311, 2312, 2331, 2341, 2351, 3011, 1011]
        for n in range(THERAPISTS):
            factories.make_therapist(
                user=factories.make_user(role=Role.THERAPIST) if rng.random() < 0.95 else None,
                name=f"Therapeut {n}",
                postcode=f"{rng.choice(areas)} AB",
                capacity=rng.randint(4, 12),
                active_participants=rng.randint(0, 4),
                travel_radius_km=rng.choice([5, 10, 15, 25]),
                offers_group=rng.random() < 0.8,
                offers_individual=rng.random() < 0.7,
                weekdays=tuple(rng.sample(["mon", "tue", "wed", "thu", "fri", "sat"], 3)),
                accepting_referrals=rng.random() < 0.9,
                programmes=[programme],
            )
        referral = factories.make_referral(programme=programme, referrer=gp)
        db.session.commit()
        return referral.id


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        app = create_app("testing", overrides={"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade()
        referral_id = build(app)
        today = utcnow().date()
        with app.test_request_context():
            from referrals.services.therapists import geo

            geo.distance_km("2201", "2311")  # the PC4 index is loaded once per process
            started = time.perf_counter()
            referral = db.session.get(Referral, referral_id)
            result = match_referral(referral, today)
            cold_ms = (time.perf_counter() - started) * 1000
            timings = []
            for _ in range(RUNS):
                started = time.perf_counter()
                result = match_referral(referral, today)
                timings.append((time.perf_counter() - started) * 1000)
        with app.app_context():
            db.engine.dispose()
    timings.sort()
    print(f"match_referral, 1 referral x {THERAPISTS} therapists ({RUNS} runs, SQLite):")
    print(f"  candidates {len(result.candidates)}, left out {len(result.excluded)}")
    print(f"  cold (loads therapists from the database): {cold_ms:.1f} ms")
    print(
        f"  warm: median {statistics.median(timings):.1f} ms, "
        f"p95 {timings[int(RUNS * 0.95) - 1]:.1f} ms, max {timings[-1]:.1f} ms"
    )
    print("  target: under 50 ms")


if __name__ == "__main__":
    main()
