"""Outcome instruments described as data, and the scoring of their answers.

Pure: no database, no request. Adding an instrument means describing it as an `Instrument` and
calling `register`; scoring, missing-item handling and interpretation follow from the description:

- total: the sum (or mean) of the item answers, times `multiplier` (WHO-5: raw sum x 4);
- missing items: a score (the total, or a subscale over its own items) is computed only when at most
  `max_missing` of its items are unanswered; those are replaced by the mean of the answered items
  (prorating). With `max_missing=0` an incomplete score is None. `min_answered` follows from it:
  with fewer items answered there is no total score, and services.outcomes stores nothing
  (`too_few_answered` says why);
- interpretation: `bands` on the total, or `categories` (rules on counts of answers, such as
  Keyes' flourishing/languishing diagnosis), which are decided only on complete answers.

Item texts are Dutch data, not interface strings: they are shown as the instrument prints them.
They are written from memory of the published Dutch versions and must be checked against the
official forms before they are shown to participants (see each instrument's comment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from flask_babel import gettext

from referrals.labels import N_
from referrals.models import Questionnaire

UNKNOWN_ITEM = N_("Unknown question number.")
NOT_AN_ANSWER = N_("Not a valid answer: choose a whole number from %(low)s to %(high)s.")
OUT_OF_RANGE = N_("Choose an answer from %(low)s to %(high)s.")


@dataclass(frozen=True)
class Band:
    """An interpretation that applies from `lower` (inclusive) up to the next band's lower."""

    lower: float
    key: str


@dataclass(frozen=True)
class Criterion:
    """At least `at_least` of `items` were answered with a value in `values` (inclusive range)."""

    items: tuple[int, ...]
    values: tuple[int, int]
    at_least: int


@dataclass(frozen=True)
class Category:
    """An interpretation that applies when all its criteria hold; the first that holds wins."""

    key: str
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class Instrument:
    key: str
    name: str
    prompt: str  # the stem shown above the items
    items: tuple[str, ...]  # item texts; item numbers are 1-based positions
    answer_range: tuple[int, int]  # inclusive
    answer_labels: tuple[str, ...]  # one per answer value, from the lowest value up
    subscales: Mapping[str, tuple[int, ...]] = field(default_factory=dict, hash=False)
    aggregate: str = "sum"  # "sum" or "mean" of the item answers, for total and subscales
    multiplier: float = 1  # applied to the total only (WHO-5: 4)
    max_missing: int = 0  # per score: unanswered items allowed, replaced by the answered mean
    bands: tuple[Band, ...] = ()  # on the total, ascending
    categories: tuple[Category, ...] = ()  # decided on complete answers only
    default_category: str | None = None  # when no category holds
    higher_is_better: bool = True  # the direction of improvement (K10: lower is better)
    language: str = "nl"  # of the prompt, items and answers (marked as such on the page)
    source: str = ""

    def __post_init__(self) -> None:
        low, high = self.answer_range
        numbers = range(1, len(self.items) + 1)
        object.__setattr__(self, "subscales", MappingProxyType(dict(self.subscales)))
        used = [n for items in self.subscales.values() for n in items]
        used += [n for c in self.categories for crit in c.criteria for n in crit.items]
        if len(self.answer_labels) != high - low + 1:
            raise ValueError(f"{self.key}: one answer label per value from {low} to {high}")
        if self.aggregate not in ("sum", "mean"):
            raise ValueError(f"{self.key}: aggregate must be 'sum' or 'mean'")
        if any(n not in numbers for n in used):
            raise ValueError(f"{self.key}: subscale or category refers to an unknown item")
        if [b.lower for b in self.bands] != sorted(b.lower for b in self.bands):
            raise ValueError(f"{self.key}: bands must be in ascending order")
        if self.categories and self.default_category is None:
            raise ValueError(f"{self.key}: categories need a default_category")
        if not 0 <= self.max_missing < len(self.items):
            raise ValueError(f"{self.key}: max_missing must leave at least one item to answer")

    @property
    def min_answered(self) -> int:
        """How many items must be answered for a total score: the instrument's own missing-item
        rule (all items, or all but `max_missing` when it prorates). Fewer cannot be saved."""
        return len(self.items) - self.max_missing


@dataclass(frozen=True)
class Score:
    instrument: str
    total: float | None
    subscales: Mapping[str, float | None] = field(hash=False)
    band: str | None  # interpretation key: a band of the total, or a category
    complete: bool
    missing: tuple[int, ...]
    prorated: bool = False  # the total replaced a missing item by the mean of the others


INSTRUMENTS: dict[str, Instrument] = {}


def register(instrument: Instrument) -> Instrument:
    if instrument.key in INSTRUMENTS:
        raise ValueError(f"instrument {instrument.key!r} is already registered")
    INSTRUMENTS[instrument.key] = instrument
    return instrument


def get_instrument(key: str) -> Instrument:
    return INSTRUMENTS[str(key)]  # Questionnaire is a StrEnum: str() gives its value


def _whole_number(value: object) -> int | None:
    """The integer a form value stands for, or None. Booleans and fractions are not answers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():  # isdigit alone also accepts '²' and the like
            try:
                return int(text)
            except ValueError:
                return None
    return None


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate_answers(instrument_key: str, answers: object) -> dict[int | str, str]:
    """Error message per item (translated when an app context is active); {} when all is well.

    Unanswered items (None or a blank string) are not errors: `score` handles them. Keys that are
    not item numbers at all are reported under `str(key)`. Never raises on the answers.
    """
    instrument = get_instrument(instrument_key)
    low, high = instrument.answer_range
    if not isinstance(answers, Mapping):
        return {0: gettext(NOT_AN_ANSWER, low=low, high=high)}
    errors: dict[int | str, str] = {}
    for key, value in answers.items():
        number = _whole_number(key)
        if number is None or not 1 <= number <= len(instrument.items):
            errors[str(key) if number is None else number] = gettext(UNKNOWN_ITEM)
        elif _is_blank(value):
            continue
        elif (answer := _whole_number(value)) is None:
            errors[number] = gettext(NOT_AN_ANSWER, low=low, high=high)
        elif not low <= answer <= high:
            errors[number] = gettext(OUT_OF_RANGE, low=low, high=high)
    return errors


def unanswered_items(instrument: Instrument, answers: Mapping[object, object]) -> list[int]:
    """The item numbers without an answer (blank, None or not given at all)."""
    given = {_whole_number(key): value for key, value in answers.items()}
    return [n for n in range(1, len(instrument.items) + 1) if _is_blank(given.get(n))]


def too_few_answered(instrument: Instrument, answers: Mapping[object, object]) -> str | None:
    """Why the answers cannot be saved: fewer answered than the instrument needs for a score
    (an untouched form is the usual case). Names the unanswered items and how many more."""
    missing = unanswered_items(instrument, answers)
    more = instrument.min_answered - (len(instrument.items) - len(missing))
    if more <= 0:
        return None
    if len(missing) == len(instrument.items):
        return gettext(
            "No question has been answered, so nothing was saved. Answer at least %(min)d of"
            " the %(total)d questions.",
            min=instrument.min_answered,
            total=len(instrument.items),
        )
    not_answered = gettext(
        "Questions not answered: %(numbers)s.", numbers=", ".join(str(n) for n in missing)
    )
    too_few = gettext(
        "Too few questions answered for a score, so nothing was saved: answer %(more)d more.",
        more=more,
    )
    return f"{too_few} {not_answered}"


def _aggregate(instrument: Instrument, values: list[int | None]) -> float | None:
    answered = [v for v in values if v is not None]
    if not answered or len(values) - len(answered) > instrument.max_missing:
        return None
    if instrument.aggregate == "mean":
        return sum(answered) / len(answered)
    # Prorated sum: each missing item counts as the mean of the answered ones. Multiplying before
    # the one division keeps whole totals exact, so band boundaries compare exactly.
    return sum(answered) * len(values) / len(answered)


def _category(instrument: Instrument, by_item: dict[int, int]) -> str | None:
    for category in instrument.categories:
        if all(
            sum(crit.values[0] <= by_item[n] <= crit.values[1] for n in crit.items) >= crit.at_least
            for crit in category.criteria
        ):
            return category.key
    return instrument.default_category


def score(instrument_key: str, answers: Mapping[object, object]) -> Score:
    """Score answers {item number: value or None}; absent items count as unanswered.

    Raises ValueError (with the messages of `validate_answers`) when an answer is invalid.
    """
    instrument = get_instrument(instrument_key)
    if errors := validate_answers(instrument_key, answers):
        raise ValueError(errors)
    given = {
        _whole_number(k): None if _is_blank(v) else _whole_number(v) for k, v in answers.items()
    }
    numbers = range(1, len(instrument.items) + 1)
    values = [given.get(n) for n in numbers]
    missing = tuple(n for n, v in zip(numbers, values, strict=True) if v is None)
    total = _aggregate(instrument, values)
    if total is not None:
        total *= instrument.multiplier
    subscales = {
        name: _aggregate(instrument, [given.get(n) for n in items])
        for name, items in instrument.subscales.items()
    }
    band = None
    if instrument.categories:
        if not missing:
            band = _category(instrument, {n: given[n] for n in numbers})
    elif total is not None:
        band = next((b.key for b in reversed(instrument.bands) if b.lower <= total), None)
    return Score(
        instrument=instrument.key,
        total=total,
        subscales=subscales,
        band=band,
        complete=not missing,
        missing=missing,
        prorated=total is not None and bool(missing),
    )


# MHC-SF: Keyes (2002, 2009); Dutch version and manual: Lamers, Westerhof, Bohlmeijer, ten Klooster
# & Keyes (2011), J Clin Psychol 67(1):99-110. Scored as the Dutch manual does, as MEAN item scores
# (0-5) for the total and each subscale. Missing items: the manual gives no imputation rule that we
# know of, so a subscale mean is computed only when that subscale is complete and the total only
# when all 14 items are (a mean over fewer items would weigh the subscales differently). Keyes'
# diagnosis is decided on complete answers only. Wording and answers as the Dutch form published
# by de Beurs, Kosterman, Anten, Bohlmeijer & Westerhof (Tijdschrift voor Gedragstherapie, 2022).
_KEYES_OTHERS = tuple(range(4, 15))
register(
    Instrument(
        key=Questionnaire.MHC_SF.value,
        name="MHC-SF",
        prompt="In de afgelopen maand, hoe vaak had u het gevoel ...",
        items=(
            "dat u gelukkig was?",
            "dat u geïnteresseerd was in het leven?",
            "dat u tevreden was?",
            "dat u iets belangrijks hebt bijgedragen aan de samenleving?",
            "dat u deel uitmaakte van een gemeenschap"
            " (zoals een sociale groep, uw buurt, uw stad)?",
            "dat onze samenleving beter wordt voor mensen?",
            "dat mensen in principe goed zijn?",
            "dat u begrijpt hoe onze maatschappij werkt?",
            "dat u de meeste aspecten van uw persoonlijkheid graag mocht?",
            "dat u goed kon omgaan met uw alledaagse verantwoordelijkheden?",
            "dat u warme en vertrouwde relaties met anderen had?",
            "dat u werd uitgedaagd om te groeien of een beter mens te worden?",
            "dat u zelfverzekerd uw eigen ideeën en meningen gedacht en geuit hebt?",
            "dat uw leven een richting of zin heeft?",
        ),
        answer_range=(0, 5),
        answer_labels=(
            "nooit",
            "1 of 2 keer",
            "ongeveer 1 keer per week",
            "2 of 3 keer per week",
            "bijna elke dag",
            "elke dag",
        ),
        subscales={
            "emotional": (1, 2, 3),
            "social": (4, 5, 6, 7, 8),
            "psychological": (9, 10, 11, 12, 13, 14),
        },
        aggregate="mean",
        categories=(
            Category(
                "flourishing",
                (Criterion((1, 2, 3), (4, 5), 1), Criterion(_KEYES_OTHERS, (4, 5), 6)),
            ),
            Category(
                "languishing",
                (Criterion((1, 2, 3), (0, 1), 1), Criterion(_KEYES_OTHERS, (0, 1), 6)),
            ),
        ),
        default_category="moderate",
        source="Lamers et al. 2011 (Dutch MHC-SF); Keyes 2002 (diagnosis)",
    )
)

# K10: Kessler et al. (2002), Psychol Med 32:959-976, as Statistics Netherlands (CBS) and the GGD
# Gezondheidsmonitor ask and score it, so that a programme's results sit next to the
# municipality's own figures: the Dutch wording and answers (altijd, meestal, soms, af en toe,
# nooit; scored 5 to 1), the bands 10-15 low, 16-29 moderate, 30-50 high risk of anxiety or
# depression (applied to the unrounded total), and the missing-item rule: with 1 or 2 items
# missing the score is imputed, with 3 or more there is none. The monitor imputes a population's
# mean on the missing item; for one person we use the mean of their own answered items
# (prorating), as individual use of the K10 does (e.g. ALSWH).
register(
    Instrument(
        key=Questionnaire.K10.value,
        name="K10",
        prompt="De volgende vragen gaan over hoe u zich voelde in de afgelopen 4 weken.",
        items=(
            "Hoe vaak voelde u zich erg vermoeid zonder duidelijke reden?",
            "Hoe vaak voelde u zich zenuwachtig?",
            "Hoe vaak was u zo zenuwachtig dat u niet tot rust kon komen?",
            "Hoe vaak voelde u zich hopeloos?",
            "Hoe vaak voelde u zich rusteloos of ongedurig?",
            "Hoe vaak voelde u zich zo rusteloos dat u niet meer stil kon zitten?",
            "Hoe vaak voelde u zich somber of depressief?",
            "Hoe vaak had u het gevoel dat alles veel moeite kostte?",
            "Hoe vaak voelde u zich zo somber dat niets hielp om u op te vrolijken?",
            "Hoe vaak vond u zichzelf afkeurenswaardig, minderwaardig of waardeloos?",
        ),
        answer_range=(1, 5),
        answer_labels=("nooit", "af en toe", "soms", "meestal", "altijd"),
        max_missing=2,
        bands=(Band(10, "low"), Band(16, "moderate"), Band(30, "high")),
        higher_is_better=False,
        source="Kessler et al. 2002; CBS / GGD Gezondheidsmonitor (wording, bands, missing items)",
    )
)

# WHO-5: WHO Collaborating Centre in Mental Health, Hillerød (1998); Topp et al. (2015), Psychother
# Psychosom 84:167-176. Raw sum 0-25 x 4 = 0-100; a raw sum below 13 (a total of 48 or less, as
# totals go in steps of 4) suggests poor well-being. No score with any item missing. Wordings from
# memory of the official Dutch version: check.
register(
    Instrument(
        key=Questionnaire.WHO5.value,
        name="WHO-5",
        prompt="Hoe heeft u zich de afgelopen twee weken gevoeld?",
        items=(
            "Ik voelde me vrolijk en in een goede stemming",
            "Ik voelde me rustig en ontspannen",
            "Ik voelde me actief en energiek",
            "Ik voelde me fris en uitgerust toen ik wakker werd",
            "Mijn dagelijks leven was gevuld met dingen die mij interesseren",
        ),
        answer_range=(0, 5),
        answer_labels=(
            "helemaal niet",
            "af en toe",
            "minder dan de helft van de tijd",
            "meer dan de helft van de tijd",
            "het grootste deel van de tijd",
            "de hele tijd",
        ),
        multiplier=4,
        bands=(Band(0, "poor_wellbeing"), Band(52, "adequate_wellbeing")),
        source="WHO-5 (Psychiatric Centre North Zealand 1998); Topp et al. 2015",
    )
)
