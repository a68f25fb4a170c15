"""The BRTN register import: read a CSV file, preview what it would change, then apply it.

The file's format is documented in README.md ("Therapist register import"). A file-wide
problem (not UTF-8, no header with the needed columns) refuses the whole file; a bad row is
rejected with its line number and the good rows still import. Only the register fields are
set: a therapist's availability is theirs and survives every re-import.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from referrals import audit
from referrals.extensions import db
from referrals.models import AuditAction, RegisterImport, Role, Therapist, User, utcnow
from referrals.services import ServiceError
from referrals.services.therapists import (
    is_email_address,
    local_today,
    parse_brtn_number,
    parse_postcode,
    parse_register_date,
    registration_notice,
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
# The fields an import may change; everything else on a therapist is left alone.
REGISTER_FIELDS = ("name", "email", "registered_until", "postcode")
_SHOWN_VALUE_LENGTH = 40


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


@dataclass(frozen=True)
class RowWarning:
    line: int
    message: str


@dataclass(frozen=True)
class FieldChange:
    field: str  # a Therapist attribute, or "user" for a newly linked account
    old: object
    new: object


@dataclass
class TherapistChange:
    row: RegisterRow
    therapist: Therapist
    changes: list[FieldChange]


@dataclass
class ImportPreview:
    """What a file adds, changes, leaves alone and rejects; writes nothing by itself."""

    to_add: list[RegisterRow] = field(default_factory=list)
    to_change: list[TherapistChange] = field(default_factory=list)
    unchanged: list[RegisterRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)
    # Therapist accounts (found by e-mail address) that will be linked, by line number.
    links: dict[int, User] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def changes_anything(self) -> bool:
        return bool(self.to_add or self.to_change)


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


def _accounts_to_link(emails: set[str]) -> dict[str, User]:
    """Therapist accounts, by e-mail address, that no register entry is linked to yet."""
    if not emails:
        return {}
    linked = sa.select(Therapist.user_id).where(Therapist.user_id.is_not(None))
    users = db.session.scalars(
        sa.select(User).where(
            User.role == Role.THERAPIST,
            User.active,
            User.email.in_(emails),
            User.id.not_in(linked),
        )
    )
    return {user.email: user for user in users}


def _changes(therapist: Therapist, row: RegisterRow) -> list[FieldChange]:
    changes = []
    for name in REGISTER_FIELDS:
        new = getattr(row, name)
        old = getattr(therapist, name)
        # An empty e-mail cell leaves a known address alone.
        if new != old and not (name == "email" and new is None):
            changes.append(FieldChange(name, old, new))
    return changes


def preview_import(content: str | bytes, today: date | None = None) -> ImportPreview:
    """What importing `content` would do, compared with the register as it is now."""
    text = decode_register_file(content) if isinstance(content, bytes) else content
    parsed = read_register(text)
    today = today or local_today()
    preview = ImportPreview(rejected=parsed.rejected, ignored_columns=parsed.ignored_columns)
    numbers = [row.brtn_number for row in parsed.rows]
    existing = {
        t.brtn_number: t
        for t in db.session.scalars(sa.select(Therapist).where(Therapist.brtn_number.in_(numbers)))
    }
    accounts = _accounts_to_link({row.email for row in parsed.rows if row.email})
    for row in parsed.rows:
        therapist = existing.get(row.brtn_number)
        changes = _changes(therapist, row) if therapist else []
        email = row.email or (therapist.email if therapist else None)
        if (therapist is None or therapist.user_id is None) and email in accounts:
            user = accounts.pop(email)
            preview.links[row.line] = user
            if therapist is not None:
                changes.append(FieldChange("user", None, user))
        if therapist is None:
            preview.to_add.append(row)
        elif changes:
            preview.to_change.append(TherapistChange(row, therapist, changes))
        else:
            preview.unchanged.append(row)
        notice = registration_notice(row.name, row.registered_until, today)
        if notice:
            preview.warnings.append(RowWarning(row.line, notice))
    return preview


def store_register_file(*, uploaded_by: User, filename: str, data: bytes) -> RegisterImport:
    """Keep an uploaded file for its preview; refuses a file that cannot be read at all."""
    if len(data) > MAX_FILE_BYTES:
        raise ServiceError(_("The file is larger than 2 MB."), "file")
    text = decode_register_file(data)
    read_register(text)
    register_import = RegisterImport(
        uploaded_by_id=uploaded_by.id,
        uploaded_at=utcnow(),
        filename=(filename or "register.csv")[:200],
        content=text,
    )
    db.session.add(register_import)
    db.session.flush()
    audit.record(AuditAction.CREATE, obj=register_import, actor=uploaded_by)
    return register_import


def apply_import(register_import: RegisterImport, today: date | None = None) -> ImportPreview:
    """Write what the preview shows, once: a second confirmation is refused."""
    claimed = db.session.execute(
        sa.update(RegisterImport)
        .where(RegisterImport.id == register_import.id, RegisterImport.applied_at.is_(None))
        .values(applied_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.expire(register_import, ["applied_at"])
    if claimed.rowcount != 1:
        raise ServiceError(_("This file has already been imported."))
    preview = preview_import(register_import.content, today)
    for row in preview.to_add:
        db.session.add(
            Therapist(
                brtn_number=row.brtn_number,
                name=row.name,
                email=row.email,
                registered_until=row.registered_until,
                postcode=row.postcode,
                user=preview.links.get(row.line),
            )
        )
    for change in preview.to_change:
        for item in change.changes:
            setattr(change.therapist, item.field, item.new)
    db.session.flush()
    audit.record(
        AuditAction.UPDATE,
        obj=register_import,
        detail=(
            f"added {len(preview.to_add)}, changed {len(preview.to_change)}, "
            f"unchanged {len(preview.unchanged)}, rejected {len(preview.rejected)}"
        ),
    )
    return preview
