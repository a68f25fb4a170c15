"""Disclosure control: random rounding to base 5 over fixed periods, and differencing.

The F1 case: an officer compares the figures of two periods whose referrals differ by one,
and reads that person's source, reason, outcome or score band off the difference. Here every
pair of periods an officer can choose is compared, and so are random data sets with one
referral removed: no cell difference may pin anything down. A count cell pins a person down
when only one of "the person is in this cell" and "the person is not" can give the two cells
shown (services.uptake.disclosure.possible_counts: what a reader can infer from one cell).
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referrals.models import (
    DropoutReason,
    Moment,
    Outcome,
    QuestionnaireResponse,
    Referral,
    Role,
    Trajectory,
)
from referrals.services.uptake import InstrumentOutcome, Uptake, periods, programme_uptake
from referrals.services.uptake.disclosure import (
    EXACT,
    SMALL,
    Rounded,
    Shown,
    possible_counts,
    round_randomly,
    rounding_for,
    share,
)
from referrals.services.uptake.figures import referral_key, utc_bounds
from referrals.services.uptake.uptake_view import build, protected, rounding_of, roundings_of
from tests import factories

SECRET = "testing-secret-key-not-for-production"


# --- the rounding itself -------------------------------------------------------------------


def test_a_multiple_of_five_stays_and_any_other_count_goes_to_a_neighbouring_multiple():
    for count in range(0, 40):
        results = {round_randomly(count, chance / 100) for chance in range(100)}
        if count % 5 == 0:
            assert results == {count}
        else:
            assert results == {5 * (count // 5), 5 * (count // 5 + 1)}


def test_the_rounding_is_right_on_average():
    """Over evenly spread chances, the mean of the rounded counts is the count itself."""
    for count in range(0, 30):
        rounded = [round_randomly(count, (i + 0.5) / 1000) for i in range(1000)]
        assert sum(rounded) / len(rounded) == pytest.approx(count)


def test_a_count_that_rounds_to_zero_shows_as_less_than_five_and_exact_figures_are_exact():
    rounding = Rounded(b"k" * 32)
    assert rounding.count(0, "reason", "stress") == Shown(SMALL, True)
    assert rounding.count(5, "reason", "stress") == Shown("5", value=5)
    shown_one = {Rounded(bytes([n]) * 32).count(1, "cell").text for n in range(60)}
    assert shown_one == {SMALL, "5"}  # a true 1 is never shown as 1
    assert EXACT.count(3, "cell") == Shown("3", value=3)


def test_the_same_figures_asked_again_round_the_same_way():
    first = [Rounded(b"a" * 32).count(n, "month", n) for n in range(50)]
    again = [Rounded(b"a" * 32).count(n, "month", n) for n in range(50)]
    other = [Rounded(b"b" * 32).count(n, "month", n) for n in range(50)]
    assert first == again and first != other


def test_the_key_follows_the_programme_the_period_and_what_the_period_holds():
    base = rounding_for(SECRET, 1, "2026-10-01", "2026-11-30", "5|123|a").key
    assert base == rounding_for(SECRET, 1, "2026-10-01", "2026-11-30", "5|123|a").key
    for changed in (
        (2, "2026-10-01", "2026-11-30", "5|123|a"),
        (1, "2026-10-01", "2026-10-31", "5|123|a"),
        (1, "2026-10-01", "2026-11-30", "5|124|a"),
    ):
        assert rounding_for(SECRET, *changed).key != base
    assert rounding_for("another secret", 1, "2026-10-01", "2026-11-30", "5|123|a").key != base


def test_a_share_is_of_the_shown_counts():
    assert share(Shown("5", value=5), Shown("20", value=20)) == "25%"
    assert share(Shown(SMALL, True), Shown("20", value=20)) is None
    assert share(Shown("10", value=10), Shown("5", value=5)) is None  # rounded apart
    assert share(Shown("0", value=0), Shown("0", value=0)) is None


def test_what_a_reader_can_infer_from_one_cell():
    assert list(possible_counts(Shown(SMALL, True))) == [0, 1, 2, 3, 4]
    assert list(possible_counts(Shown("5", value=5))) == list(range(1, 10))
    assert list(possible_counts(Shown("10", value=10))) == list(range(6, 15))


# --- differencing ----------------------------------------------------------------------------


def cells(view) -> dict[tuple, object]:
    """Every cell of a view by (table, row label, column): Shown for a count, else its text;
    the key figures as one more table."""
    found: dict[tuple, object] = {}
    for table in view.tables:
        for row in table.rows:
            for column, value in enumerate(row[1:], start=1):
                found[(table.title, str(row[0]), column)] = (
                    value if isinstance(value, Shown) else str(value)
                )
    for label, value in view.key_figures:
        found[("key figures", label, 1)] = value
    return found


def pinned(with_person: Shown, without: Shown, *, exact: bool = False) -> str | None:
    """What the pair of shown cells proves about the one person more in the first, or None
    (`exact`: the cells are the true counts)."""
    if exact:
        a, b = {with_person.value}, {without.value}
    else:
        a, b = set(possible_counts(with_person)), set(possible_counts(without))
    if not a & b:
        return "in the cell"
    if not a & {n + 1 for n in b}:
        return "not in the cell"
    return None


# Attendance counts sessions held in the period, by everyone active then (most referred
# before it): one participant counts several times, and two periods differ by all the
# sessions of the months between them, not by one person. Those cells, the costs made of them
# and their key figures are the programme's activity, not the cohort's, and are left out.
ACTIVITY = {
    "Aanwezigheid bij sessies in de periode",
    "Kosten",
    "Opkomst",
    "Kosten van gegeven sessies",
    "Deel van het budget gebruikt",
    "Actieve deelnemers tegenover gefinancierde plaatsen",
    "Capaciteit van therapeuten in gebruik",
}


def of_the_cohort(found: dict[tuple, object]) -> dict[tuple, object]:
    return {k: v for k, v in found.items() if k[0] not in ACTIVITY and k[1] not in ACTIVITY}


def assert_nothing_pinned(larger, smaller, where) -> int:
    """Compare two views of periods whose referrals differ by one; the count cells compared."""
    big, small = of_the_cohort(cells(larger)), of_the_cohort(cells(smaller))
    # The longer period has rows of its own (a month more): they are that month's figures,
    # rounded as such. The rows both show are compared.
    assert small.keys() <= big.keys(), where
    # ... and only those: no row shows up just because the one person more is in it.
    extra = {key for key in big if key not in small}
    assert {key[0] for key in extra} <= {"Verwijzingen ontvangen per maand"}, (where, extra)
    big = {key: value for key, value in big.items() if key in small}
    compared = 0
    counts_equal: dict[str, bool] = {}
    for key in big:
        if isinstance(big[key], Shown):
            assert isinstance(small[key], Shown), (where, key)
            for shown in (big[key], small[key]):  # rounded as the method says
                assert shown.text == SMALL or shown.value % 5 == 0, (where, key, shown.text)
            proof = pinned(big[key], small[key])
            assert proof is None, (where, key, big[key].text, small[key].text, proof)
            compared += 1
            same = big[key] == small[key]
            counts_equal[key[0]] = counts_equal.get(key[0], True) and same
    # Shares, amounts and the like come from the shown counts only: where every count of a
    # table is the same, so is every other cell of it.
    everything_equal = all(counts_equal.values())
    for key in big:
        table_equal = counts_equal.get(key[0]) and key[0] != "key figures"
        if not isinstance(big[key], Shown) and (table_equal or everything_equal):
            assert big[key] == small[key], (where, key)
    return compared


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def few_dozen(db, reporting_today):
    """34 referrals from July to November 2026, November holding one (the F1 referral: a
    GP's, for stress and low mood, offered, accepted, started and completed, K10 moderate to
    low). Sources, reasons, outcomes and K10 bands vary over the others."""
    world = factories.make_world(social_team=True)
    programme = world.programme
    programme.starts_on = date(2026, 7, 1)
    programme.questionnaires = ["k10"]
    therapist = factories.make_therapist(programmes=[programme], capacity=40)
    recorder = factories.make_user(role=Role.THERAPIST)
    days = [date(2026, 7, 3 + 3 * i) for i in range(8)]
    days += [date(2026, 8, 2 + 3 * i) for i in range(9)]
    days += [date(2026, 9, 1 + 3 * i) for i in range(6)]
    days += [date(2026, 10, 2 + 3 * i) for i in range(10)]
    days += [date(2026, 11, 20)]
    outcomes = [Outcome.COMPLETED, Outcome.DROPPED_OUT, Outcome.REGULAR_SPORT, None]
    bands = [(30, "high", 14, "low"), (22, "moderate", 20, "moderate"), (12, "low", 11, "low")]
    for number, day in enumerate(days):
        f1 = day.month == 11
        referrer = world.gp if f1 or number % 3 else world.social_worker
        referral = factories.make_referral(programme=programme, referrer=referrer)
        referral.submitted_at = at(day)
        referral.reasons = ["stress", "low_mood"] if f1 else [["stress"], ["anxiety"]][number % 2]
        if not f1 and number % 4 == 3:
            continue  # waiting: never offered
        outcome = Outcome.COMPLETED if f1 else outcomes[number % 4]
        closed = at(day + timedelta(days=5)) if outcome else None
        trajectory = Trajectory(
            referral=referral,
            therapist=therapist,
            started_at=at(day + timedelta(days=1)),
            first_session_on=day + timedelta(days=2),
            outcome=outcome,
            dropout_reason=DropoutReason.MOTIVATION if outcome is Outcome.DROPPED_OUT else None,
            closed_at=closed,
        )
        db.session.add(trajectory)
        intake, before, end, after = (24, "moderate", 14, "low") if f1 else bands[number % 3]
        for moment, score, band in ((Moment.INTAKE, intake, before), (Moment.END, end, after)):
            db.session.add(
                QuestionnaireResponse(
                    trajectory=trajectory,
                    instrument="k10",
                    moment=moment,
                    taken_on=day,
                    answers={},
                    score=score,
                    category=band,
                    recorded_by=recorder,
                )
            )
    db.session.flush()
    return programme


def cohort(db, programme, period) -> set[int]:
    """The ids of the referrals the period counts (received in it, in Dutch days)."""
    first, after = utc_bounds(period.start, period.end)
    return set(
        db.session.scalars(
            sa.select(Referral.id).where(
                Referral.programme_id == programme.id,
                Referral.submitted_at >= first,
                Referral.submitted_at < after,
            )
        )
    )


def test_no_two_periods_an_officer_can_choose_give_one_person_away(app, db, few_dozen):
    programme = few_dozen
    choosable = periods.available(programme)
    assert {p.key for p in choosable} >= {"all", "2026", "2026-Q3", "2026-Q4", "2026-10"}
    with app.test_request_context():
        views = {
            p.key: (
                protected(programme_uptake(programme, p.start, p.end)),
                cohort(db, programme, p),
            )
            for p in choosable
        }
    # One quantity is rounded once: the referrals received in every table of a view, a month's
    # own row in every period that holds it, the therapists' capacity in every period.
    for key, (view, _ids) in views.items():
        found = cells(view)
        received = {
            found[(title, label, 1)].text
            for title, label, _column in found
            if label == "Totaal"
            and title
            in (
                "Verwijzingen ontvangen per maand",
                "Verwijzingen per verwijzende organisatie",
                "Verwijzingen per soort verwijzer",
                "Verwijzingen naar leeftijd bij verwijzing",
            )
        }
        assert received == {found[("Van verwijzing tot resultaat", "Verwezen", 1)].text}, key
    august = {
        key: cells(view)[("Verwijzingen ontvangen per maand", "2026-08", 1)].text
        for key, (view, _ids) in views.items()
        if ("Verwijzingen ontvangen per maand", "2026-08", 1) in cells(view)
    }
    assert set(august) >= {"2026-08", "2026-Q3", "2026", "all"} and len(set(august.values())) == 1
    # The same by their keys (9 referrals in August round to 5 or 10: a check of what shows
    # alone could pass by chance).
    with app.test_request_context():
        keys = [
            roundings_of(programme_uptake(programme, p.start, p.end))
            for p in choosable
            if p.start <= date(2026, 8, 1) <= p.end
        ]
    assert len({r.month("2026-08").key for r in keys}) == 1
    assert len({r.steady.key for r in keys}) == 1
    assert len({r.period.key for r in keys}) == len(keys)
    capacity = {
        cells(view)[("key figures", "Capaciteit van therapeuten in gebruik", 1)]
        for view, _ids in views.values()
    }
    assert len(capacity) == 1
    pairs = 0
    for (one, (view_one, ids_one)), (two, (view_two, ids_two)) in itertools.combinations(
        views.items(), 2
    ):
        if len(ids_one ^ ids_two) != 1 or not (ids_one <= ids_two or ids_two <= ids_one):
            continue
        larger, smaller = (
            (view_one, view_two) if len(ids_one) > len(ids_two) else (view_two, view_one)
        )
        assert assert_nothing_pinned(larger, smaller, (one, two)) >= 40
        pairs += 1
    # The fourth quarter to date and October differ by the November referral alone; so do
    # the year to date and January to October, and the programme to date and its start.
    assert pairs >= 1
    with app.test_request_context():
        q4 = build(programme_uptake(programme, date(2026, 10, 1), date(2026, 11, 30)))
        october = build(programme_uptake(programme, date(2026, 10, 1), date(2026, 10, 31)))
    # The same difference in exact figures (what the officers saw before): the F1 person's
    # source, reasons, outcome and K10 bands can be read off, so the check above has teeth.
    exact_q4, exact_october = cells(q4), cells(october)
    proofs = {
        key[0]
        for key in exact_october
        if isinstance(exact_q4[key], Shown)
        and pinned(exact_q4[key], exact_october[key], exact=True) == "in the cell"
    }
    assert {
        "Verwijzingen per soort verwijzer",
        "Redenen voor verwijzing (een verwijzing kan er meer hebben)",
        "Van verwijzing tot resultaat",
        "K10-klachtenniveau voor en na",
    } <= proofs


# --- the same, over random small data sets ---------------------------------------------------

REASONS = ("stress", "low_mood", "anxiety", "burnout")
KINDS = ("gp_practice", "municipality")
STAGES = ("offered", "accepted", "started")
ENDS = ("completed", "dropped_out", "regular_sport", None)
BANDS = ("low", "moderate", "high")

person = st.fixed_dictionaries(
    {
        "month": st.sampled_from(["2026-09", "2026-10", "2026-11"]),
        "kind": st.sampled_from(KINDS),
        "reasons": st.sets(st.sampled_from(REASONS), min_size=1, max_size=2),
        "stage": st.integers(min_value=0, max_value=3),  # how far: 0 waiting .. 3 started
        "end": st.sampled_from(ENDS),
        "wait": st.integers(min_value=0, max_value=70),
        "before": st.sampled_from(BANDS),
        "after": st.sampled_from(BANDS),
        "sessions": st.integers(min_value=0, max_value=6),
    }
)


def uptake_of(people: list[dict], ids: list[int]) -> Uptake:
    """The Uptake the product would count for these referrals (test_figures and test_uptake
    hold the counting to the rows; here only the protection is tried)."""
    uptake = Uptake(programme_id=1, start=date(2026, 9, 1), end=date(2026, 11, 30))
    uptake.received = len(people)
    uptake.by_month = dict(Counter({"2026-09": 0, "2026-10": 0, "2026-11": 0}))
    for p in people:
        uptake.by_month[p["month"]] += 1
    kinds = Counter(p["kind"] for p in people)
    # As the product lists them: every referring organisation of the programme, with or
    # without referrals in the period.
    uptake.by_organisation_kind = {k: kinds[k] for k in KINDS}
    uptake.by_organisation = {f"Praktijk {k}": n for k, n in uptake.by_organisation_kind.items()}
    uptake.by_reason = dict(Counter(r for p in people for r in p["reasons"]))
    started = [p for p in people if p["stage"] >= 3]
    uptake.funnel = {"referred": len(people)}
    for number, stage in enumerate(STAGES, start=1):
        uptake.funnel[stage] = sum(1 for p in people if p["stage"] >= number)
    for end in ENDS[:3]:
        uptake.funnel[end] = sum(1 for p in started if p["end"] == end)
    uptake.dropout_reasons = {"motivation": uptake.funnel["dropped_out"]}
    for number, stage in enumerate(("offer", "acceptance", "session"), start=1):
        uptake.wait_days[stage] = dict(
            Counter(p["wait"] + number for p in people if p["stage"] >= number)
        )
    present = sum(p["sessions"] for p in started)
    uptake.attendance = {"present": present, "excused": len(started), "absent": 0}
    uptake.sessions_delivered = present
    measured = [p for p in started if p["end"]]
    uptake.outcomes = [
        InstrumentOutcome(
            instrument="k10",
            name="K10",
            higher_is_better=False,
            pairs=len(measured),
            mean_change=None,
            improved=sum(1 for p in measured if BANDS.index(p["after"]) < BANDS.index(p["before"])),
            bands_before=dict(Counter(p["before"] for p in measured)),
            bands_after=dict(Counter(p["after"] for p in measured)),
        )
    ]
    uptake.tariff_cents, uptake.funded_places, uptake.budget_cents = 4500, 20, 20 * 12 * 4500
    uptake.cohort_key = sum(referral_key(i) for i in ids)
    return uptake


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(person, min_size=1, max_size=30), st.data())
def test_removing_any_one_referral_pins_nothing_down(app, people, data):
    gone = data.draw(st.integers(min_value=0, max_value=len(people) - 1), label="removed")
    ids = list(range(100, 100 + len(people)))
    rest, rest_ids = people[:gone] + people[gone + 1 :], ids[:gone] + ids[gone + 1 :]
    with app.test_request_context():
        larger_uptake, smaller_uptake = uptake_of(people, ids), uptake_of(rest, rest_ids)
        # Every cell is rounded afresh: the key differs whenever the referrals do.
        assert rounding_of(larger_uptake).key != rounding_of(smaller_uptake).key
        larger, smaller = protected(larger_uptake), protected(smaller_uptake)
    assert assert_nothing_pinned(larger, smaller, gone) >= 30
