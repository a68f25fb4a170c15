"""The BRTN register import: preview what a file (read by register_file) would change, keep
the file until the admin confirms, then apply it once. Only the register fields are set: a
therapist's availability is theirs and survives every re-import.

An end date earlier than the stored one is warned about and applied only when the admin ticks
it: an older export of the register would otherwise cut registrations short without a word.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from referrals import audit
from referrals.extensions import db
from referrals.models import AuditAction, RegisterImport, Role, Therapist, User, utcnow
from referrals.services import ServiceError
from referrals.services.therapists import (
    local_today,
    registration_notice,
)
from referrals.services.therapists.register_file import (
    MAX_FILE_BYTES,
    RegisterRow,
    RejectedRow,
    decode_register_file,
    read_register,
)

# The fields an import may change; everything else on a therapist is left alone.
REGISTER_FIELDS = ("name", "email", "registered_until", "postcode")


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

    @property
    def shortened(self) -> FieldChange | None:
        """The end-date change, when the file's date is earlier than the stored one."""
        return next(
            (c for c in self.changes if c.field == "registered_until" and c.new < c.old), None
        )

    @property
    def shortening_key(self) -> str:
        """What the admin ticks to confirm this shortening: the registration number and the
        stored date, so a date changed since the preview is not shortened unseen."""
        shortened = self.shortened
        return f"{self.row.brtn_number}:{shortened.old.isoformat()}" if shortened else ""


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
    # After applying: rows whose earlier end date was not confirmed and so not written.
    kept_end_dates: list[TherapistChange] = field(default_factory=list)

    @property
    def changes_anything(self) -> bool:
        return bool(self.to_add or self.to_change)

    @property
    def shortenings(self) -> list[TherapistChange]:
        """Changes that would move a registration's end date earlier."""
        return [change for change in self.to_change if change.shortened]


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


def _hold_back_shortenings(preview: ImportPreview, confirmed: Collection[str]) -> None:
    """Take the end-date shortenings the admin did not confirm out of what is written; a row
    that changed nothing else is then no change at all."""
    to_change = []
    for change in preview.to_change:
        shortened = change.shortened
        if shortened is not None and change.shortening_key not in confirmed:
            preview.kept_end_dates.append(change)
            change = replace(change, changes=[c for c in change.changes if c is not shortened])
        if change.changes:
            to_change.append(change)
    preview.to_change = to_change
    # A notice about the file's end date says nothing about a date that was kept.
    kept = {change.row.line for change in preview.kept_end_dates}
    preview.warnings = [warning for warning in preview.warnings if warning.line not in kept]


def apply_import(
    register_import: RegisterImport,
    today: date | None = None,
    *,
    shorten: Collection[str] = (),
) -> ImportPreview:
    """Write what the preview shows, once: a second confirmation is refused. An end date that
    moves earlier is written only when its `shortening_key` is in `shorten`; the others keep
    their stored date and are listed in `kept_end_dates`."""
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
    shortened = len(preview.shortenings)
    _hold_back_shortenings(preview, set(shorten))
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
    detail = (
        f"added {len(preview.to_add)}, changed {len(preview.to_change)}, "
        f"unchanged {len(preview.unchanged)}, rejected {len(preview.rejected)}"
    )
    if shortened:
        kept = len(preview.kept_end_dates)
        detail += f", end dates shortened {shortened - kept}, kept {kept}"
    audit.record(AuditAction.UPDATE, obj=register_import, detail=detail)
    return preview
