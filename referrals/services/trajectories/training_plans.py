"""Walk/run training plans for a running-therapy trajectory (no database; plain values in and
out, and the words of a plan are translated only when shown).

A plan has one session per week. Every session is a warm-up walk, blocks of running and walking,
and a cool-down walk. The sessions come from one ladder of steps (`LADDER`) in which the running
block and the total running only grow, and the last step is 30 minutes of continuous running.

Templates:
- "standard": the last week always reaches the target, skipping ladder steps when the programme
  is short (4 weeks from step 0 goes 0, 2, 5, 8) and holding steps when it is long.
- "gentle": never skips a step and holds every step at least two weeks (`weeks_per_step`). It
  reaches the target only when there are enough weeks (2 per remaining step, plus the last week,
  so 17 weeks from step 0); otherwise the last week is the furthest step it can reach.

Therapist changes return a new `Plan` (plans are immutable) and a `PlanChange`; the plan's
`history` keeps every change with its reason.
- `edit_week` replaces one week's session (it must stay within the template's bounds).
- `repeat_week` puts a copy of the week right after it. The plan keeps its length by dropping one
  later week: the latest week that only repeated its predecessor (so no step is lost), otherwise
  the week before the last (a step is skipped, the last week keeps the target). Repeating the
  second-to-last week leaves the target out; the last week itself cannot be repeated.
- `step_back` puts the week on the highest ladder step with less running, and re-plans the
  following weeks from there to the template's end (hand edits in those weeks are replaced).

Texts: the plan is stored as numbers and keys, never as sentences. `Session.describe()` and
`Week.note_text()` make the words at display time with gettext, in the page's language (the
English msgid outside a request). A week's note keeps only the therapist's reason, with
`note_kind` ("repeat", "step_back" or "" for the reason alone) and `note_week` (the week it
repeats); notes stored before that as Dutch sentences are read back by `stored_note`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

WARM_UP_MIN = 5
COOL_DOWN_MIN = 5
MIN_WEEKS, MAX_WEEKS = 4, 26


@dataclass(frozen=True)
class Session:
    warm_up_walk_min: int
    run_min: int
    walk_min: int
    repeats: int
    cool_down_walk_min: int

    def __post_init__(self):
        values = (self.warm_up_walk_min, self.run_min, self.walk_min, self.repeats)
        if any(type(v) is not int or v < 0 for v in (*values, self.cool_down_walk_min)):
            raise ValueError("minuten en herhalingen zijn gehele getallen, niet negatief")
        if self.run_min < 1 or self.repeats < 1:
            raise ValueError("een sessie heeft minstens één blok van minstens 1 min hardlopen")
        if self.walk_min == 0 and self.repeats != 1:
            raise ValueError("blokken zonder wandelen zijn één aaneengesloten blok")

    @property
    def is_continuous(self) -> bool:
        return self.walk_min == 0

    @property
    def total_run_min(self) -> int:
        return self.run_min * self.repeats

    @property
    def total_min(self) -> int:
        blocks = self.repeats * (self.run_min + self.walk_min)
        return self.warm_up_walk_min + blocks + self.cool_down_walk_min

    def describe(self) -> str:
        """The session in words, in the current language (made when shown, never stored)."""
        if self.is_continuous:
            middle = _("%(run)d min continuous running", run=self.run_min)
        else:
            middle = _(
                "then %(repeats)d × (%(run)d min running, %(walk)d min walking)",
                repeats=self.repeats,
                run=self.run_min,
                walk=self.walk_min,
            )
        return _(
            "%(warm_up)d min walking, %(middle)s, %(cool_down)d min walking",
            warm_up=self.warm_up_walk_min,
            middle=middle,
            cool_down=self.cool_down_walk_min,
        )


def _step(run: int, walk: int, repeats: int) -> Session:
    return Session(WARM_UP_MIN, run, walk, repeats, COOL_DOWN_MIN)


# Running block and total running strictly increase step by step; walking blocks only shrink.
LADDER: tuple[Session, ...] = (
    _step(1, 2, 6),  # 6 min running, 28 min in all
    _step(2, 2, 5),  # 10
    _step(3, 2, 4),  # 12
    _step(4, 2, 4),  # 16
    _step(5, 2, 4),  # 20
    _step(6, 1, 4),  # 24
    _step(9, 1, 3),  # 27
    _step(14, 1, 2),  # 28
    _step(30, 0, 1),  # 30 continuous, 40 min in all
)
FINAL_STEP = len(LADDER) - 1


@dataclass(frozen=True)
class Template:
    name: str
    label: str
    target_run_min: int = 30
    min_total_min: int = 20
    max_total_min: int = 45
    weeks_per_step: int = 1  # >1: never skip a step, hold each step at least this many weeks

    def allows(self, session: Session) -> bool:
        return self.min_total_min <= session.total_min <= self.max_total_min

    def end_step(self, start: int, count: int) -> int:
        """The step reached after `count` weeks (the first one on `start`)."""
        if self.weeks_per_step == 1:
            return FINAL_STEP
        return min(FINAL_STEP, start + (count - 1) // self.weeks_per_step)


TEMPLATES: dict[str, Template] = {
    "standard": Template("standard", _l("Standard")),
    "gentle": Template("gentle", _l("Gentle"), weeks_per_step=2),
}

NoteKind = Literal["", "repeat", "step_back"]


@dataclass(frozen=True)
class Week:
    number: int
    session: Session
    note: str = ""  # the therapist's reason, as typed
    note_kind: NoteKind = ""  # what the plan did to this week, shown in words around the note
    note_week: int | None = None  # for a repeat: the week it repeats

    def note_text(self) -> str:
        """The note as the plan shows it, in the current language."""
        if self.note_kind == "repeat":
            return _("Repeat of week %(week)d: %(reason)s", week=self.note_week, reason=self.note)
        if self.note_kind == "step_back":
            return _("Step back: %(reason)s", reason=self.note)
        return self.note


# The sentences notes were stored as before they were kept as keys (always in Dutch).
_STORED_REPEAT = re.compile(r"Herhaling van week (\d+): (.*)", re.DOTALL)
_STORED_STEP_BACK = re.compile(r"Stap terug: (.*)", re.DOTALL)


def stored_note(stored: dict) -> dict:
    """A stored week's note fields (`note`, `note_kind`, `note_week`), also from a plan stored
    when the note was a Dutch sentence."""
    note, kind = stored.get("note", ""), stored.get("note_kind")
    if kind is not None:
        return {"note": note, "note_kind": kind, "note_week": stored.get("note_week")}
    if match := _STORED_REPEAT.fullmatch(note):
        return {"note": match[2], "note_kind": "repeat", "note_week": int(match[1])}
    if match := _STORED_STEP_BACK.fullmatch(note):
        return {"note": match[1], "note_kind": "step_back", "note_week": None}
    return {"note": note, "note_kind": "", "note_week": None}


NOTE_FIELDS = ("note", "note_kind", "note_week")


ChangeKind = Literal["edit", "repeat", "step_back"]


@dataclass(frozen=True)
class PlanChange:
    week_number: int
    kind: ChangeKind
    old_session: Session
    new_session: Session
    reason: str


@dataclass(frozen=True)
class Plan:
    template: str
    weeks: tuple[Week, ...]
    history: tuple[PlanChange, ...] = ()

    def week(self, number: int) -> Week:
        if type(number) is not int or not 1 <= number <= len(self.weeks):
            raise ValueError(f"week {number!r} bestaat niet in dit schema")
        return self.weeks[number - 1]

    @property
    def reaches_target(self) -> bool:
        last = self.weeks[-1].session
        return last.is_continuous and last.run_min >= TEMPLATES[self.template].target_run_min


def choose_start(can_walk_min: int, can_run_min: int) -> int:
    """The ladder step to start on, from the intake: what the participant can do now.

    Less than 30 minutes of walking: step 0. Otherwise the highest step whose running block is at
    most what they can run continuously and whose total running is at most twice that (so 10
    minutes of running starts on 5 × 4, 5 minutes on 2 × 5).
    """
    for value in (can_walk_min, can_run_min):
        if type(value) is not int or value < 0:
            raise ValueError("minuten zijn gehele getallen, niet negatief")
    if can_walk_min < 30:
        return 0
    fits = [
        i
        for i, s in enumerate(LADDER)
        if s.run_min <= can_run_min and s.total_run_min <= 2 * can_run_min
    ]
    return max(fits, default=0)


def _template(name: str) -> Template:
    if name not in TEMPLATES:
        raise ValueError(f"onbekend schema-sjabloon {name!r}")
    return TEMPLATES[name]


def _steps(start: int, end: int, count: int) -> list[int]:
    """`count` non-decreasing steps from `start` to `end` (floor interpolation)."""
    if count == 1:
        return [start]
    return [start + (i * (end - start)) // (count - 1) for i in range(count)]


def generate_plan(*, weeks: int = 12, template: str = "standard", start_step: int = 0) -> Plan:
    tpl = _template(template)
    if type(weeks) is not int or not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise ValueError(f"een schema duurt {MIN_WEEKS} tot {MAX_WEEKS} weken")
    if type(start_step) is not int or not 0 <= start_step <= FINAL_STEP:
        raise ValueError(f"startstap ligt tussen 0 en {FINAL_STEP}")
    steps = _steps(start_step, tpl.end_step(start_step, weeks), weeks)
    return Plan(tpl.name, tuple(Week(n, LADDER[s]) for n, s in enumerate(steps, start=1)))


def _reason(reason: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("geef een reden voor de wijziging")
    return reason.strip()


def _renumber(weeks: list[Week]) -> tuple[Week, ...]:
    return tuple(replace(w, number=n) for n, w in enumerate(weeks, start=1))


def _changed(plan: Plan, weeks, change: PlanChange) -> tuple[Plan, PlanChange]:
    return replace(plan, weeks=_renumber(list(weeks)), history=(*plan.history, change)), change


def edit_week(
    plan: Plan, week_number: int, session: Session, reason: str
) -> tuple[Plan, PlanChange]:
    old, why = plan.week(week_number), _reason(reason)
    tpl = TEMPLATES[plan.template]
    if not tpl.allows(session):
        raise ValueError(
            f"een sessie duurt {tpl.min_total_min} tot {tpl.max_total_min} min, "
            f"niet {session.total_min}"
        )
    weeks = list(plan.weeks)
    weeks[week_number - 1] = Week(week_number, session, why)
    return _changed(plan, weeks, PlanChange(week_number, "edit", old.session, session, why))


def repeat_week(plan: Plan, week_number: int, reason: str) -> tuple[Plan, PlanChange]:
    week, why = plan.week(week_number), _reason(reason)
    n = len(plan.weeks)
    if week_number == n:
        raise ValueError("de laatste week kan niet herhaald worden binnen het schema")
    repeat = Week(week_number + 1, week.session, why, "repeat", week_number)
    weeks = [*plan.weeks[:week_number], repeat, *plan.weeks[week_number:]]
    # Drop one later week: the latest that only repeats its predecessor (not the one right after
    # the repeat, which would undo it), else the week before the last (or the last, when it
    # directly follows the repeat).
    holding = [i for i in range(week_number + 2, n + 1) if weeks[i].session == weeks[i - 1].session]
    drop = holding[-1] if holding else max(week_number + 1, n - 1)
    del weeks[drop]
    replaced = plan.weeks[week_number].session
    change = PlanChange(week_number + 1, "repeat", replaced, week.session, why)
    return _changed(plan, weeks, change)


def step_back(plan: Plan, week_number: int, reason: str) -> tuple[Plan, PlanChange]:
    week, why = plan.week(week_number), _reason(reason)
    lower = [i for i, s in enumerate(LADDER) if s.total_run_min < week.session.total_run_min]
    if not lower:
        raise ValueError("deze week staat al op de eerste stap")
    step = lower[-1]
    remaining = len(plan.weeks) - week_number
    tpl = TEMPLATES[plan.template]
    steps = _steps(step, tpl.end_step(step, remaining + 1), remaining + 1)
    weeks = [
        *plan.weeks[: week_number - 1],
        Week(week_number, LADDER[step], why, "step_back"),
        *(Week(0, LADDER[s]) for s in steps[1:]),
    ]
    change = PlanChange(week_number, "step_back", week.session, LADDER[step], why)
    return _changed(plan, weeks, change)
