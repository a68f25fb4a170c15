"""Reading a BRTN register file: UTF-8 CSV with `;` or `,`, a header naming the columns in any
order, and a row per therapist. A file-wide problem (not UTF-8, no header with the needed
columns) refuses the whole file; a bad row is rejected with its line number and the reasons.
The format is documented in README.md ("Therapist register import").
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

from referrals.services import ServiceError
from referrals.services.therapists import (
    is_email_address,
    parse_brtn_number,
    parse_postcode,
    parse_register_date,
)

MAX_FILE_BYTES = 2 * 1024 * 1024
# Header names, compared in lower case with everything but letters and digits removed,
# so "BRTN-nummer", "brtn_number" and "Registratie nummer" all match.
COLUMN_ALIASES = {
    "brtn_number": {
        "brtnnumber",
        "brtnnummer",
        "brtnnr",
        "brtn",
        "registratienummer",
        "registratienr",
        "registrationnumber",
    },
    "name": {"name", "naam", "fullname", "volledigenaam"},
    "email": {"email", "emailaddress", "emailadres", "mail"},
    "registered_until": {
        "registereduntil",
        "geregistreerdtot",
        "geldigtot",
        "validuntil",
        "registratiegeldigtot",
    },
    "postcode": {"postcode", "postalcode", "zipcode", "praktijkpostcode"},
}
REQUIRED_COLUMNS = ("brtn_number", "name", "registered_until", "postcode")
_SHOWN_VALUE_LENGTH = 40  # a rejected value is shown up to this length


@dataclass(frozen=True)
class RegisterRow:
    """One good row of the file, normalised."""

    line: int
    brtn_number: str
    name: str
    email: str | None
    registered_until: date
    postcode: str


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reasons: tuple[str, ...]
    brtn_number: str  # as typed, to help find the row
    name: str


@dataclass
class _Parsed:
    rows: list[RegisterRow]
    rejected: list[RejectedRow]
    ignored_columns: list[str]


def decode_register_file(data: bytes) -> str:
    """UTF-8 text with or without a byte-order mark; anything else is refused."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServiceError(
            _(
                "The file is not UTF-8 text. In Excel choose Save as, "
                "'CSV UTF-8 (comma delimited)'."
            ),
            "file",
        ) from None
    if "\x00" in text:
        raise ServiceError(_("The file holds binary data; upload a CSV text file."), "file")
    return text


def _column_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _columns(header: list[str]) -> tuple[dict[str, int], list[str]]:
    """Which column holds which field, and the headers that mean nothing to the import."""
    positions: dict[str, int] = {}
    ignored = []
    for index, cell in enumerate(header):
        key = _column_key(cell)
        name = next((f for f, aliases in COLUMN_ALIASES.items() if key in aliases), None)
        if name is None:
            if cell.strip():
                ignored.append(cell.strip())
        elif name in positions:
            raise ServiceError(
                _(
                    "The columns '%(first)s' and '%(second)s' mean the same; keep one of them.",
                    first=header[positions[name]].strip(),
                    second=cell.strip(),
                ),
                "file",
            )
        else:
            positions[name] = index
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing:
        raise ServiceError(
            _(
                "The first line must name the columns. Missing: %(missing)s. "
                "Expected: registratienummer, naam, e-mail (optional), geldig tot, postcode.",
                missing=", ".join(_column_label(name) for name in missing),
            ),
            "file",
        )
    return positions, ignored


def _column_label(name: str) -> str:
    return {
        "brtn_number": _("registration number"),
        "name": _("name"),
        "registered_until": _("registered until"),
        "postcode": _("postcode"),
    }[name]


def _delimiter(first_line: str) -> str:
    return ";" if first_line.count(";") > first_line.count(",") else ","


def _records(text: str):
    """(line number, cells) for the header and each non-blank record after it."""
    lines = list(io.StringIO(text, newline=""))
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        raise ServiceError(_("The file is empty."), "file")
    first = lines[start].strip().lstrip("\ufeff")
    if re.fullmatch(r"sep=[;,]", first, re.IGNORECASE):
        # Excel's hint line ("sep=;") names the separator; the header follows it.
        delimiter = first[-1]
        start = next((i for i in range(start + 1, len(lines)) if lines[i].strip()), len(lines))
    else:
        delimiter = _delimiter(first)
    reader = csv.reader(lines[start:], delimiter=delimiter)
    consumed = 0
    try:
        for cells in reader:
            line = start + consumed + 1
            consumed = reader.line_num
            cells = [cell.strip() for cell in cells]
            if any(cells):
                yield line, cells
    except csv.Error as error:
        raise ServiceError(
            _("Line %(line)d cannot be read: %(error)s.", line=start + consumed + 1, error=error),
            "file",
        ) from None


def _shown(value: str) -> str:
    return value if len(value) <= _SHOWN_VALUE_LENGTH else value[:_SHOWN_VALUE_LENGTH] + "…"


def _read_number(value: str, reasons: list[str]) -> str | None:
    if not value:
        reasons.append(_("the registration number is missing"))
        return None
    try:
        return parse_brtn_number(value)
    except ValueError:
        reasons.append(
            _(
                "registration number '%(value)s' is not 3 to 10 digits (optionally after BRTN)",
                value=_shown(value),
            )
        )
        return None


def _read_date(value: str, reasons: list[str]) -> date | None:
    if not value:
        reasons.append(_("the 'registered until' date is missing"))
        return None
    try:
        return parse_register_date(value)
    except ValueError:
        reasons.append(
            _(
                "'%(value)s' is not a date like 2026-12-31 or 31-12-2026",
                value=_shown(value),
            )
        )
        return None


def _read_postcode(value: str, reasons: list[str]) -> str | None:
    if not value:
        reasons.append(_("the postcode is missing"))
        return None
    try:
        return parse_postcode(value)
    except ValueError:
        reasons.append(_("'%(value)s' is not a Dutch postcode like 1234 AB", value=_shown(value)))
        return None


def _read_row(line: int, values: dict[str, str], seen: dict[str, int]):
    """A RegisterRow, or a RejectedRow naming every problem of the row."""
    reasons: list[str] = []
    number = _read_number(values["brtn_number"], reasons)
    name = values["name"]
    if not name:
        reasons.append(_("the name is missing"))
    elif len(name) > 200:
        reasons.append(_("the name is longer than 200 characters"))
    email = values.get("email", "").lower() or None
    if email is not None and not is_email_address(email):
        reasons.append(_("'%(value)s' is not an e-mail address", value=_shown(email)))
    registered_until = _read_date(values["registered_until"], reasons)
    postcode = _read_postcode(values["postcode"], reasons)
    if number is not None:
        if number in seen:
            reasons.append(
                _(
                    "registration number %(number)s is already on line %(line)d",
                    number=number,
                    line=seen[number],
                )
            )
        else:
            seen[number] = line
    if reasons:
        return RejectedRow(line, tuple(reasons), _shown(values["brtn_number"]), _shown(name))
    return RegisterRow(line, number, name, email, registered_until, postcode)


def read_register(text: str) -> _Parsed:
    """Parse the file into good and rejected rows; ServiceError for a file-wide problem."""
    records = _records(text)
    first = next(records, None)
    if first is None:
        raise ServiceError(_("The file is empty."), "file")
    header = first[1]
    positions, ignored = _columns(header)
    parsed = _Parsed(rows=[], rejected=[], ignored_columns=ignored)
    seen: dict[str, int] = {}
    for line, cells in records:
        values = {name: cells[i] if i < len(cells) else "" for name, i in positions.items()}
        row = _read_row(line, values, seen)
        (parsed.rejected if isinstance(row, RejectedRow) else parsed.rows).append(row)
    if not parsed.rows and not parsed.rejected:
        raise ServiceError(_("The file has a header but no therapists."), "file")
    return parsed
