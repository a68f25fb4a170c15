"""Small counts: 1 to 4 shows as "<5", and no total gives a hidden count away."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from referrals.services.uptake.disclosure import (
    HIDDEN,
    SMALL,
    protect_mapping,
    protect_parts,
    share,
    share_of_shown,
    show,
)


def texts(shown):
    return [s.text for s in shown]


def test_counts_from_one_to_four_show_as_less_than_five_and_zero_shows():
    assert [show(n).text for n in (0, 1, 4, 5, 12)] == ["0", SMALL, SMALL, "5", "12"]


def test_one_hidden_part_next_to_a_total_hides_the_next_smallest_part_too():
    parts, total = protect_parts([3, 12, 7, 0])
    assert texts(parts) == [SMALL, "12", HIDDEN, "0"] and total.text == "22"


def test_two_hidden_parts_need_no_more_hiding():
    parts, total = protect_parts([3, 2, 9])
    assert texts(parts) == [SMALL, SMALL, "9"] and total.text == "14"


def test_a_small_total_is_hidden_and_so_are_its_parts():
    parts, total = protect_parts([3, 0, 0])
    assert texts(parts) == [SMALL, "0", "0"] and total.text == SMALL


def test_without_a_total_only_the_small_counts_are_hidden():
    parts, total = protect_parts([3, 12], with_total=False)
    assert texts(parts) == [SMALL, "12"]


def test_labels_are_kept():
    parts, total = protect_mapping({"stress": 6, "burnout": 1, "anxiety": 8})
    assert {k: v.text for k, v in parts.items()} == {
        "stress": HIDDEN,
        "burnout": SMALL,
        "anxiety": "8",
    }
    assert total.text == "15"


@given(st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=8))
def test_no_hidden_part_can_be_worked_out_from_the_total(parts):
    shown, total = protect_parts(parts)
    hidden = [i for i, s in enumerate(shown) if s.withheld]
    for i, s in enumerate(shown):
        if 0 < parts[i] < 5:
            assert s.withheld  # every small count is hidden
        if not s.withheld:
            assert s.text == str(parts[i])  # what is shown is true
            assert s.value == parts[i]  # and so is the number a spreadsheet gets
        else:
            assert s.value is None  # a withheld count carries no number to leak
        if s.text == SMALL:
            assert 0 < parts[i] < 5  # "<5" never hides a count of five or more
    if not total.withheld:
        assert total.text == str(sum(parts))
        # The total minus the shown parts is the sum of the hidden ones: never one small count.
        assert len(hidden) != 1


def test_shares_that_would_give_a_small_count_away_are_not_shown():
    assert share(15, 20) == "75%"
    assert share(8, 10) is None  # 2 did not
    assert share(2, 10) is None  # 2 improved
    assert share(9, 10) is None  # 1 not improved
    assert share(3, 3) is None  # all of 3
    assert share(0, 20) == "0%"
    assert share(5, 0) is None


def test_a_share_of_two_shown_figures_is_shown_exactly_when_both_are():
    parts, total = protect_parts([6, 1, 1])  # two small parts next to the total: 6 and 8 show
    assert share_of_shown(parts[0], total) == "75%"
    assert share(6, 8) is None  # the stricter rule for a share shown without its figures
    parts, total = protect_parts([6, 2])  # one small part: 6 is hidden as "x" as well
    assert share_of_shown(parts[0], total) is None
    parts, total = protect_parts([0, 3])  # a small total
    assert share_of_shown(parts[0], total) is None
    assert share_of_shown(show(0), show(0)) is None


def _cell_text(cell) -> str:
    return getattr(cell, "text", str(cell))


def test_a_withheld_present_count_is_withheld_in_the_costs_too(app):
    """Present 6, absent 3, excused 40: the attendance table hides absent (<5) and present (x,
    so that the total does not give absent away). The costs' sessions delivered are the same
    6, and cost / tariff gives them too: both must be withheld with it."""
    from datetime import date

    from referrals.services.uptake import Uptake, uptake_view

    uptake = Uptake(
        programme_id=1,
        start=date(2026, 1, 1),
        end=date(2026, 3, 31),
        attendance={"present": 6, "absent": 3, "excused": 40},
        sessions_delivered=6,
        tariff_cents=2500,
        budget_cents=100_000,
        funnel={"referred": 20, "started": 10, "completed": 6},
    )
    with app.test_request_context():
        view = uptake_view.build(uptake)
        figures = {str(label): str(value) for label, value in view.key_figures}
        tables = {str(t.title): t for t in view.tables}
    attendance = tables["Aanwezigheid bij sessies in de periode"].rows
    attendance = {_cell_text(row[0]): _cell_text(row[1]) for row in attendance}
    assert attendance["Aanwezig"] == "x" and attendance["Afwezig zonder afmelding"] == "<5"
    costs = {_cell_text(row[0]): _cell_text(row[1]) for row in tables["Kosten"].rows}
    assert costs["Gegeven sessies (aanwezig)"] == "x"
    assert costs["Kosten van gegeven sessies"] == "x"
    assert figures["Kosten van gegeven sessies"] == "x"
    assert figures["Deel van het budget gebruikt"] == "–"
