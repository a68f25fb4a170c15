"""The walk/run plan generator: properties over all lengths and starts, and worked examples;
the plan's words in the interface's language."""

from __future__ import annotations

import io
import re

import pytest
from flask_babel import force_locale
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from referrals.services.trajectories import plan_from_json, plan_to_json
from referrals.services.trajectories.training_plans import (
    FINAL_STEP,
    LADDER,
    MAX_WEEKS,
    MIN_WEEKS,
    TEMPLATES,
    Session,
    choose_start,
    edit_week,
    generate_plan,
    repeat_week,
    step_back,
)
from tests.helpers import text
from tests.training_setup import make_practice

weeks_st = st.integers(MIN_WEEKS, MAX_WEEKS)
steps_st = st.integers(0, FINAL_STEP)
templates_st = st.sampled_from(sorted(TEMPLATES))
fast = settings(max_examples=150, deadline=None, database=None)


def steps(plan) -> list[int]:
    return [LADDER.index(w.session) for w in plan.weeks]


def run_minutes(plan) -> list[int]:
    return [w.session.total_run_min for w in plan.weeks]


def assert_valid(plan, *, from_week: int = 1) -> None:
    """Numbered 1..n, sessions within the bounds, running never less from `from_week` on."""
    tpl = TEMPLATES[plan.template]
    assert [w.number for w in plan.weeks] == list(range(1, len(plan.weeks) + 1))
    assert all(tpl.allows(w.session) for w in plan.weeks)
    for ladder_minutes in (run_minutes(plan), [w.session.run_min for w in plan.weeks]):
        tail = ladder_minutes[from_week - 1 :]
        assert tail == sorted(tail)


def test_ladder_grows_running_and_shrinks_walking():
    for a, b in zip(LADDER, LADDER[1:], strict=False):
        assert b.total_run_min > a.total_run_min
        assert b.run_min > a.run_min
        assert b.walk_min <= a.walk_min
    assert LADDER[-1].is_continuous and LADDER[-1].run_min == 30


@fast
@given(weeks=weeks_st, start=steps_st, template=templates_st)
def test_generated_plans_are_valid(weeks, start, template):
    plan = generate_plan(weeks=weeks, template=template, start_step=start)
    assert len(plan.weeks) == weeks
    assert plan.weeks[0].session == LADDER[start]
    assert_valid(plan)
    assert plan.history == ()


@fast
@given(weeks=weeks_st, start=steps_st)
def test_standard_plans_reach_the_target_in_the_last_week(weeks, start):
    plan = generate_plan(weeks=weeks, start_step=start)
    assert plan.reaches_target
    # Outside a request the words are the English msgids.
    assert plan.weeks[-1].session.describe() == (
        "5 min walking, 30 min continuous running, 5 min walking"
    )


@fast
@given(weeks=weeks_st, start=steps_st)
def test_gentle_plans_never_skip_and_hold_each_step_two_weeks(weeks, start):
    plan = generate_plan(weeks=weeks, template="gentle", start_step=start)
    s = steps(plan)
    assert all(b - a in (0, 1) for a, b in zip(s, s[1:], strict=False))
    for step in set(s) - {s[-1]}:
        assert s.count(step) >= 2
    enough_weeks = weeks >= 2 * (FINAL_STEP - start) + 1
    assert plan.reaches_target == enough_weeks
    if not enough_weeks:
        assert s[-1] == start + (weeks - 1) // 2


@fast
@given(data=st.data(), weeks=weeks_st, start=steps_st, template=templates_st)
def test_step_back_lowers_only_that_week_and_replans_the_rest(data, weeks, start, template):
    plan = generate_plan(weeks=weeks, template=template, start_step=start)
    candidates = [w.number for w in plan.weeks if w.session != LADDER[0]]
    if not candidates:
        with pytest.raises(ValueError, match="eerste stap"):
            step_back(plan, 1, "te zwaar")
        return
    number = data.draw(st.sampled_from(candidates))
    new, change = step_back(plan, number, "te zwaar")
    assert new.weeks[: number - 1] == plan.weeks[: number - 1]
    assert run_minutes(new)[number - 1] < run_minutes(plan)[number - 1]
    assert steps(new)[number - 1] == steps(plan)[number - 1] - 1
    assert_valid(new, from_week=number)
    assert len(new.weeks) == weeks
    if template == "standard" and number < weeks:
        assert new.reaches_target
    assert change.kind == "step_back" and change.week_number == number
    assert (change.old_session, change.new_session) == (
        plan.week(number).session,
        new.week(number).session,
    )
    assert new.history == (change,)


@fast
@given(data=st.data(), weeks=weeks_st, start=steps_st, template=templates_st)
def test_repeat_keeps_the_length_and_copies_the_week(data, weeks, start, template):
    plan = generate_plan(weeks=weeks, template=template, start_step=start)
    number = data.draw(st.integers(1, weeks - 1))
    new, change = repeat_week(plan, number, "nog niet gelukt")
    assert len(new.weeks) == weeks
    assert new.weeks[:number] == plan.weeks[:number]
    assert new.week(number + 1).session == plan.week(number).session
    repeat = new.week(number + 1)
    assert (repeat.note, repeat.note_kind, repeat.note_week) == (
        "nog niet gelukt",
        "repeat",
        number,
    )
    assert repeat.note_text() == f"Repeat of week {number}: nog niet gelukt"
    assert_valid(new)
    if number < weeks - 1:
        assert new.weeks[-1].session == plan.weeks[-1].session
    assert change.kind == "repeat" and change.week_number == number + 1
    assert new.history == (change,)


def test_twelve_week_standard_from_the_start():
    plan = generate_plan()
    assert plan.template == "standard" and len(plan.weeks) == 12
    assert steps(plan) == [0, 0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8]
    first = plan.week(1).session
    assert (first.run_min, first.walk_min, first.repeats) == (1, 2, 6)
    assert (first.total_run_min, first.total_min) == (6, 28)
    assert first.describe() == (
        "5 min walking, then 6 × (1 min running, 2 min walking), 5 min walking"
    )
    assert plan.week(7).session.describe() == (
        "5 min walking, then 4 × (5 min running, 2 min walking), 5 min walking"
    )
    assert plan.week(12).session.total_min == 40


def test_short_standard_skips_steps_and_gentle_stops_short():
    assert steps(generate_plan(weeks=4)) == [0, 2, 5, 8]
    gentle = generate_plan(template="gentle")
    assert steps(gentle) == [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5]
    assert not gentle.reaches_target
    assert generate_plan(weeks=17, template="gentle").reaches_target


@pytest.mark.parametrize(
    ("can_walk", "can_run", "step"),
    [(20, 30, 0), (60, 0, 0), (45, 3, 0), (45, 5, 1), (45, 10, 4), (45, 15, 7), (60, 30, 8)],
)
def test_choose_start_from_the_intake(can_walk, can_run, step):
    assert choose_start(can_walk, can_run) == step


def test_a_runner_of_ten_minutes_starts_further_along():
    plan = generate_plan(start_step=choose_start(40, 10))
    assert plan.week(1).session.total_run_min > generate_plan().week(1).session.total_run_min


def test_edit_week_keeps_history():
    plan = generate_plan()
    easier = Session(10, 2, 3, 4, 5)
    edited, change = edit_week(plan, 5, easier, " knie ")
    assert edited.week(5).session == easier and edited.week(5).note == "knie"
    assert change.kind == "edit" and change.old_session == plan.week(5).session
    again, second = step_back(edited, 5, "nog steeds zwaar")
    assert again.history == (change, second)
    assert second.old_session == easier and second.new_session == LADDER[0]
    assert plan.history == () and plan.week(5).session == LADDER[2]


@pytest.mark.parametrize("weeks", [0, 3, 27, 12.0, True])
def test_unsupported_lengths(weeks):
    with pytest.raises(ValueError, match="weken"):
        generate_plan(weeks=weeks)


def test_other_value_errors():
    plan = generate_plan()
    with pytest.raises(ValueError, match="sjabloon"):
        generate_plan(template="fast")
    for start in (-1, FINAL_STEP + 1):
        with pytest.raises(ValueError, match="startstap"):
            generate_plan(start_step=start)
    with pytest.raises(ValueError, match="bestaat niet"):
        step_back(plan, 13, "x")
    with pytest.raises(ValueError, match="reden"):
        repeat_week(plan, 2, "  ")
    with pytest.raises(ValueError, match="laatste week"):
        repeat_week(plan, 12, "x")
    with pytest.raises(ValueError, match="45 min"):
        edit_week(plan, 3, Session(10, 10, 2, 3, 5), "x")
    with pytest.raises(ValueError):
        Session(5, 3, 0, 2, 5)
    with pytest.raises(ValueError):
        Session(5, 0, 2, 2, 5)
    with pytest.raises(ValueError):
        choose_start(-1, 0)


# The plan's words in the interface's language: week 1 of a standard plan from step 0, and the
# note of a repeated week.
WEEK_1 = {
    "en": "5 min walking, then 6 × (1 min running, 2 min walking), 5 min walking",
    "nl": "5 min wandelen, dan 6 × (1 min hardlopen, 2 min wandelen), 5 min wandelen",
}
REPEAT_NOTE = {"en": "Repeat of week 2: Te zwaar", "nl": "Herhaling van week 2: Te zwaar"}
STEP_BACK_NOTE = {"en": "Step back: Kuit", "nl": "Stap terug: Kuit"}


def plan_row(page: str, week: int) -> str:
    """The Session cell of one week's row in the plan table, tags dropped."""
    table = page.split('<h2 id="plan">')[1].split("</table>")[0]
    row = re.search(rf"<tr><td>{week}</td><td>(.*?)</td>", table, re.DOTALL)
    return " ".join(re.sub(r"<[^>]+>", " ", row[1]).split())


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_plan_page_speaks_the_interface_language(app, client, db, login_as, language):
    practice = make_practice(participants=1)
    trajectory = practice.trajectories[0]
    login_as(user=practice.user)
    client.post("/language", data={"language": language, "next": "/"})
    url = f"/trajectories/{trajectory.id}"
    for week, action, reason in (("2", "repeat", "Te zwaar"), ("6", "step_back", "Kuit")):
        data = {"week_number": week, "action": action, "reason": reason}
        assert client.post(f"{url}/plan", data=data).status_code == 302
    page = text(client.get(url))
    other = "nl" if language == "en" else "en"
    assert plan_row(page, 1) == WEEK_1[language]
    assert plan_row(page, 3) == f"{WEEK_1[language]} {REPEAT_NOTE[language]}"
    assert plan_row(page, 6).endswith(STEP_BACK_NOTE[language])
    assert WEEK_1[other] not in page and REPEAT_NOTE[other] not in page
    # The printed plan, in the same language.
    pdf = client.get(f"{url}/plan.pdf").data
    printed = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert WEEK_1[language] in printed and REPEAT_NOTE[language] in printed
    assert WEEK_1[other] not in printed
    # Stored as numbers and keys: no sentence in either language.
    db.session.refresh(trajectory)
    stored = str(trajectory.plan)
    assert "Te zwaar" in stored
    for words in (*WEEK_1.values(), "Herhaling", "Repeat", "Stap terug", "Step back", "wandelen"):
        assert words not in stored


def test_a_note_stored_as_a_dutch_sentence_is_shown_in_english(app):
    """Plans stored before the notes were keys still read (and translate) as they should."""
    plan = generate_plan()
    data = plan_to_json(plan)
    for index, note in (
        (2, "Herhaling van week 2: te zwaar"),
        (5, "Stap terug: kuit"),
        (7, "Vakantie"),
    ):
        week = data["weeks"][index]
        del week["note_kind"], week["note_week"]
        week["note"] = note
    stored = plan_from_json(data)
    assert (stored.week(3).note, stored.week(3).note_kind, stored.week(3).note_week) == (
        "te zwaar",
        "repeat",
        2,
    )
    with app.test_request_context(), force_locale("en"):
        assert stored.week(3).note_text() == "Repeat of week 2: te zwaar"
        assert stored.week(6).note_text() == "Step back: kuit"
        assert stored.week(8).note_text() == "Vakantie"
    with app.test_request_context(), force_locale("nl"):
        assert stored.week(3).note_text() == "Herhaling van week 2: te zwaar"
        assert stored.week(1).session.describe() == WEEK_1["nl"]
    assert plan_from_json(plan_to_json(stored)) == stored
