"""Reach against need: the municipality's own figures for a programme's area, and its PC4 areas.

The officer enters the need (models.ProgrammeNeed): the adult residents of the area, the shares
of adults per K10 band from the GGD health monitor (a K10 of 30 or more is high risk), and,
where the municipality has them, the adult residents per PC4, each with its source and year.
The admin can import the same from a CSV. The uptake view sets the referrals against them.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    AuditAction,
    Pc4Area,
    Pc4Residents,
    Programme,
    ProgrammeNeed,
    User,
)
from referrals.services import ServiceError

K10_BANDS = ("low", "moderate", "high")


@dataclass(frozen=True)
class AreaPc4:
    pc4: int
    place: str
    latitude: float
    longitude: float


@dataclass
class Need:
    """What the programme's need figures say, or None for a figure not entered."""

    adult_residents: int | None = None
    residents_source: str = ""
    residents_year: int | None = None
    k10_percent: dict[str, float | None] = field(default_factory=dict)  # band -> share in %
    k10_source: str = ""
    k10_year: int | None = None
    pc4_residents: dict[int, int] = field(default_factory=dict)
    pc4_source: str = ""
    pc4_year: int | None = None

    @property
    def high_risk_residents(self) -> float | None:
        high = self.k10_percent.get("high")
        if self.adult_residents is None or high is None:
            return None
        return self.adult_residents * high / 100


def load_need(programme_id: int) -> Need:
    row = db.session.scalars(
        sa.select(ProgrammeNeed)
        .where(ProgrammeNeed.programme_id == programme_id)
        .options(selectinload(ProgrammeNeed.pc4_residents))
    ).one_or_none()
    if row is None:
        return Need()
    return Need(
        adult_residents=row.adult_residents,
        residents_source=row.residents_source or "",
        residents_year=row.residents_year,
        k10_percent={
            "low": row.k10_low_percent,
            "moderate": row.k10_moderate_percent,
            "high": row.k10_high_percent,
        },
        k10_source=row.k10_source or "",
        k10_year=row.k10_year,
        pc4_residents={r.pc4: r.adult_residents for r in row.pc4_residents},
        pc4_source=row.pc4_source or "",
        pc4_year=row.pc4_year,
    )


def area_of(programme: Programme) -> list[AreaPc4]:
    """The PC4 areas of the programme's postcode ranges that have a known centre, by PC4."""
    ranges = [(a.pc4_from, a.pc4_to) for a in programme.postcode_areas]
    if not ranges:
        return []
    rows = db.session.execute(
        sa.select(Pc4Area.pc4, Pc4Area.place, Pc4Area.latitude, Pc4Area.longitude)
        .where(sa.or_(*(Pc4Area.pc4.between(low, high) for low, high in ranges)))
        .order_by(Pc4Area.pc4)
    ).all()
    return [AreaPc4(*row) for row in rows]


# --- entering the need ------------------------------------------------------------------


@dataclass
class NeedInput:
    adult_residents: int | None
    residents_source: str
    residents_year: int | None
    k10_low_percent: float | None
    k10_moderate_percent: float | None
    k10_high_percent: float | None
    k10_source: str
    k10_year: int | None
    pc4_residents: dict[int, int]
    pc4_source: str
    pc4_year: int | None


def save_need(programme: Programme, values: NeedInput, *, actor: User) -> ProgrammeNeed:
    """Store the programme's need figures (replacing what was there, the PC4 rows included);
    logged as an update of the programme. The caller commits."""
    k10 = [values.k10_low_percent, values.k10_moderate_percent, values.k10_high_percent]
    if all(v is not None for v in k10) and abs(sum(k10) - 100) > 1.0:
        raise ServiceError(_("The three K10 shares must add up to 100%."))
    row = db.session.get(ProgrammeNeed, programme.id)
    if row is None:
        row = ProgrammeNeed(programme_id=programme.id)
        db.session.add(row)
    for name in (
        "adult_residents",
        "residents_source",
        "residents_year",
        "k10_low_percent",
        "k10_moderate_percent",
        "k10_high_percent",
        "k10_source",
        "k10_year",
        "pc4_source",
        "pc4_year",
    ):
        value = getattr(values, name)
        setattr(row, name, value if value != "" else None)
    row.updated_by_id = actor.id
    row.pc4_residents = [
        Pc4Residents(pc4=pc4, adult_residents=count)
        for pc4, count in sorted(values.pc4_residents.items())
    ]
    db.session.flush()
    audit.record(
        AuditAction.UPDATE, actor=actor, obj=programme, detail="need figures of the programme"
    )
    return row


def parse_pc4_lines(text: str) -> tuple[dict[int, int], list[int]]:
    """ "2201;5400" per line (a comma, tab or space may stand for the semicolon; blank lines
    are skipped): (PC4 -> adult residents, the numbers of the lines that could not be read)."""
    found: dict[int, int] = {}
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = [
            p for p in line.replace(",", ";").replace("\t", ";").replace(" ", ";").split(";") if p
        ]
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            bad.append(number)
            continue
        pc4, count = int(parts[0]), int(parts[1])
        if not 1000 <= pc4 <= 9999 or pc4 in found or count > 10_000_000:
            bad.append(number)
            continue
        found[pc4] = count
    return found, bad


# --- the admin's CSV import ----------------------------------------------------------------

CSV_COLUMNS = (
    "programma_id",
    "inwoners_18plus",
    "bron_inwoners",
    "jaar_inwoners",
    "k10_laag",
    "k10_matig",
    "k10_hoog",
    "bron_k10",
    "jaar_k10",
)


@dataclass
class ImportResult:
    saved: list[int] = field(default_factory=list)  # programme ids
    errors: list[str] = field(default_factory=list)  # "row 3: ..." (nothing saved if any)


def import_need_csv(data: bytes, *, actor: User) -> ImportResult:
    """The need figures of several programmes from a CSV (semicolon-separated, as Dutch Excel
    writes it, UTF-8 with or without BOM; the header names CSV_COLUMNS). All rows or none:
    with any error nothing is saved. The caller commits."""
    result = ImportResult()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.errors.append(_("The file is not UTF-8 text."))
        return result
    reader = csv.DictReader(io.StringIO(text), delimiter=";")
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        result.errors.append(_("Columns missing: %(columns)s.", columns=", ".join(missing)))
        return result
    parsed: list[tuple[Programme, NeedInput]] = []
    for number, row in enumerate(reader, start=2):
        problems, values = _csv_row(row)
        programme = None
        if values is not None:
            programme = db.session.get(Programme, values.pop("programme_id"))
            if programme is None:
                problems.append(_("no programme with this id"))
        if problems:
            result.errors.append(
                _("row %(row)s: %(problems)s", row=number, problems="; ".join(problems))
            )
            continue
        existing = load_need(programme.id)
        parsed.append(
            (
                programme,
                NeedInput(
                    **values,
                    pc4_residents=existing.pc4_residents,
                    pc4_source=existing.pc4_source,
                    pc4_year=existing.pc4_year,
                ),
            )
        )
    if not parsed and not result.errors:
        result.errors.append(_("The file holds no rows."))
    if result.errors:
        return result
    for programme, values in parsed:
        try:
            save_need(programme, values, actor=actor)
        except ServiceError as error:
            result.errors.append(_("programme %(id)s: %(error)s", id=programme.id, error=error))
    if not result.errors:
        result.saved = [programme.id for programme, _ in parsed]
    return result


def _csv_row(row: dict) -> tuple[list[str], dict | None]:
    """One row's values, with the need form's rules: numbers in range (no NaN or infinity),
    the three K10 shares all or none and adding up to 100, and each figure with its source and
    year."""
    problems: list[str] = []

    def number(name: str, kind=int, low=0, high=None):
        raw = (row.get(name) or "").strip().replace(",", ".")
        if not raw:
            return None
        try:
            value = kind(raw)
        except (ValueError, OverflowError):
            problems.append(_("%(column)s is not a number", column=name))
            return None
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            problems.append(_("%(column)s is out of range", column=name))
            return None
        return value

    programme_id = number("programma_id", low=1, high=2**31 - 1)
    if programme_id is None and not problems:
        problems.append(_("%(column)s is empty", column="programma_id"))
    values = {
        "programme_id": programme_id,
        "adult_residents": number("inwoners_18plus", low=1, high=20_000_000),
        "residents_source": (row.get("bron_inwoners") or "").strip()[:200],
        "residents_year": number("jaar_inwoners", low=2000, high=2100),
        "k10_low_percent": number("k10_laag", float, 0, 100),
        "k10_moderate_percent": number("k10_matig", float, 0, 100),
        "k10_high_percent": number("k10_hoog", float, 0, 100),
        "k10_source": (row.get("bron_k10") or "").strip()[:200],
        "k10_year": number("jaar_k10", low=2000, high=2100),
    }
    shares = [values[k] for k in ("k10_low_percent", "k10_moderate_percent", "k10_high_percent")]
    given = [v for v in shares if v is not None]
    if given and len(given) < 3:
        problems.append(_("give all three K10 shares, or none"))
    elif len(given) == 3 and abs(sum(given) - 100) > 1.0:
        problems.append(_("the three K10 shares must add up to 100"))
    for figure, source, year, columns in (
        (
            values["adult_residents"],
            "residents_source",
            "residents_year",
            "bron_inwoners, jaar_inwoners",
        ),
        (given or None, "k10_source", "k10_year", "bron_k10, jaar_k10"),
    ):
        if figure is not None and (not values[source] or values[year] is None):
            problems.append(_("give the source and year (%(columns)s)", columns=columns))
    return problems, (None if problems else values)
