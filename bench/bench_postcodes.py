"""Benchmark: how many PC4 areas get a location, exact or estimated, and how good the estimate is.

Run with `.venv/bin/python -m bench.bench_postcodes` (or `make bench`). Reads the GeoNames rows
that `flask load-postcodes` loads (no database needed) and prints, for the postcodes the product
ships with (the register example file, the demo's therapists, participants and programme areas,
the synthetic data's therapists) and for every number from 1000 to 9999: how many have a centre
of their own, how many an estimate from their PC3 block (geo.estimate_pc4), how many none.
Then it leaves each known PC4 out in turn, estimates it from the others and prints how far the
estimate lies from its real centre, for the rule the product uses and for the nearest neighbour
alone.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable
from pathlib import Path

from referrals import create_app
from referrals.services.therapists.geo import (
    Pc4Index,
    estimate_pc4,
    haversine_km,
    parse_pc4,
    read_pc4_centres,
)

EXAMPLE_FILE = Path(__file__).resolve().parent.parent / "docs" / "brtn-register-example.csv"


def shipped_postcodes() -> dict[str, list[int]]:
    """The PC4s in the example register file, the demo data and the synthetic data."""
    from referrals.demo import PROGRAMMES, THERAPISTS
    from referrals.demo_trajectories import PARTICIPANTS
    from referrals.services.programmes import parse_postcode_areas
    from referrals.services.therapists.register_file import read_register

    register = read_register(EXAMPLE_FILE.read_text(encoding="utf-8-sig"))
    areas = [
        pc4
        for programme in PROGRAMMES
        for low, high in parse_postcode_areas(programme.postcode_areas)
        for pc4 in range(low, high + 1)
    ]
    return {
        "register example file (docs/brtn-register-example.csv)": [
            parse_pc4(row.postcode) for row in register.rows
        ],
        "demo therapists' practices": [parse_pc4(t.postcode) for t in THERAPISTS],
        "demo participants": [parse_pc4(p.postcode) for p in PARTICIPANTS],
        "demo programmes' postcode areas": areas,
        "synthetic therapists' practices": [2201],  # referrals/synthetic/network.py
    }


def tally(index: Pc4Index, codes: Iterable[int]) -> tuple[int, int, int, list[int]]:
    """(exact, estimated, none, the codes with none)."""
    exact = estimated = 0
    missing = []
    for pc4 in codes:
        location = index.locate(pc4)
        if location is None:
            missing.append(pc4)
        elif location.estimated:
            estimated += 1
        else:
            exact += 1
    return exact, estimated, len(missing), missing


def _share(part: int, total: int) -> str:
    return f"{part:5d} ({100 * part / total:5.1f}%)"


def leave_one_out(centres) -> tuple[dict[str, list[float]], tuple]:
    """Error in km of estimating each known PC4 from the other known PC4s of its block, and
    the worst case of the rule used (a GeoNames row far from its block, such as 1234)."""
    errors: dict[str, list[float]] = {"mean of both neighbours (used)": [], "nearest only": []}
    worst: tuple = (0.0,)
    blocks = _blocks(centres)
    for pc4, centre in centres.items():
        others = {k: c for k, c in blocks[pc4 // 10].items() if k != pc4}
        estimate = estimate_pc4(pc4, others)
        if estimate is None:
            continue
        real = (centre.latitude, centre.longitude)
        error = haversine_km(real, estimate.point)
        errors["mean of both neighbours (used)"].append(error)
        worst = max(worst, (error, pc4, centre.place, estimate.via))
        nearest = min(others, key=lambda k: (abs(k - pc4), k))
        point = (others[nearest].latitude, others[nearest].longitude)
        errors["nearest only"].append(haversine_km(real, point))
    return errors, worst


def _blocks(centres) -> dict[int, dict]:
    blocks: dict[int, dict] = {}
    for pc4, centre in centres.items():
        blocks.setdefault(pc4 // 10, {})[pc4] = centre
    return blocks


def main() -> None:
    app = create_app("testing")
    with app.app_context():
        started = time.perf_counter()
        centres = read_pc4_centres()
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        index = Pc4Index(centres)
        build_ms = (time.perf_counter() - started) * 1000
        print(f"GeoNames PC4 centres: {len(centres)} (read in {read_s:.1f} s)")
        print(f"index with estimates built in {build_ms:.1f} ms")
        print()
        print("Postcodes the product ships with (distinct PC4s):")
        for label, codes in shipped_postcodes().items():
            distinct = sorted(set(codes))
            exact, estimated, none, missing = tally(index, distinct)
            line = f"  {label}: {len(distinct)} PC4s, exact {exact}, estimated {estimated}"
            line += f", none {none}" + (f" {missing}" if missing else "")
            print(line)
            for pc4 in distinct:
                location = index.locate(pc4)
                if location is not None and location.estimated:
                    via = ", ".join(f"{k} ({place})" for k, place in location.via)
                    print(f"    {pc4} estimated via {via}")
        print()
        total = 9000
        exact, estimated, none, _missing = tally(index, range(1000, 10000))
        print("Every number from 1000 to 9999 (also the synthetic participants' postcodes):")
        print(f"  exact     {_share(exact, total)}")
        print(f"  estimated {_share(estimated, total)}")
        print(f"  none      {_share(none, total)}")
        print(f"  PC3 blocks with at least one known PC4: {len(_blocks(centres))} of 900")
        print()
        print("Estimate error, each known PC4 left out in turn (km from its GeoNames centre):")
        errors_by_rule, worst = leave_one_out(centres)
        for rule, errors in errors_by_rule.items():
            errors.sort()
            n = len(errors)
            print(
                f"  {rule}: n {n}, median {statistics.median(errors):.1f}, "
                f"p90 {errors[int(n * 0.9)]:.1f}, p99 {errors[int(n * 0.99)]:.1f}, "
                f"max {errors[-1]:.1f}"
            )

        error, pc4, place, via = worst
        print(f"  worst: {pc4} ({place}) {error:.0f} km from its estimate via {via}")


if __name__ == "__main__":
    main()
