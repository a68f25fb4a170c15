"""Referral intake: checks, submission, duplicates and the state transitions of a referral.

Every transition is one function here. Each moves the state with a conditional UPDATE
(`... WHERE state IN (allowed)`), so two people acting at once cannot both succeed, on
SQLite and PostgreSQL alike; it records a ReferralEvent and an audit row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from stdnum.exceptions import InvalidComponent
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.nl import bsn as stdnum_bsn
from stdnum.nl import postcode as stdnum_postcode

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    OPEN_STATES,
    AuditAction,
    NotificationKind,
    OfferState,
    Participant,
    PreferredForm,
    Programme,
    Reason,
    Referral,
    ReferralState,
    RejectionReason,
    Role,
    User,
    Weekday,
    local_today,
    utcnow,
)
from referrals.services import ServiceError, serialize_on
from referrals.services.notifications import enqueue
from referrals.services.notifications.texts import notification_text
from referrals.services.referrals.offers import close_open_offers, offer_to_best_match
from referrals.services.states import apply_transition, record_event

MAX_AGE = 120
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{8,18}$")


class InvalidReferral(ServiceError):
    """Several fields can be wrong at once; `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())), next(iter(errors)), errors=errors)


class DuplicateReferral(ServiceError):
    """The person already has an open referral in this programme; the referrer must confirm."""

    def __init__(self, duplicates: list[Referral]):
        super().__init__(_("This person already has an open referral in this programme."))
        self.duplicates = duplicates


class AlreadySubmitted(ServiceError):
    """This very form was sent before and saved: `referral` is what it saved."""

    def __init__(self, referral: Referral):
        super().__init__(_("This referral had already been submitted."))
        self.referral = referral


_SUBMISSION_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def valid_submission_key(value: str | None) -> bool:
    return bool(value) and bool(_SUBMISSION_KEY.match(value))


@dataclass
class ParticipantDetails:
    first_name: str
    last_name: str
    date_of_birth: date | None  # None: not given, or not a date (the form said which)
    postcode: str
    phone: str | None = None
    email: str | None = None
    bsn: str | None = None


@dataclass
class ReferralDetails:
    reasons: list[str]
    description: str
    preferred_form: str
    preferred_days: list[str] = field(default_factory=list)
    consent_to_refer: bool = False
    consent_share_progress: bool = False


def normalise_postcode(value: str) -> str:
    """`3511ab` -> `3511 AB`; raises ServiceError on the postcode field."""
    try:
        return stdnum_postcode.validate(value or "")
    except InvalidComponent:
        # The right shape, but letters PostNL never hands out: say so, not "4 digits, 2 letters".
        letters = "".join(value.split())[-2:].upper()
        raise ServiceError(
            _(
                "Postcodes with the letters %(letters)s do not exist: SA, SD and SS are not "
                "used in Dutch postcodes. Check the postcode.",
                letters=letters,
            ),
            "postcode",
        ) from None
    except StdnumError:
        raise ServiceError(
            _("Enter a Dutch postcode of 4 digits and 2 letters, like 1234 AB."), "postcode"
        ) from None


def normalise_bsn(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return stdnum_bsn.validate(value)
    except StdnumError:
        raise ServiceError(
            _("This is not a valid BSN. A BSN has 9 digits and passes the 11-test."), "bsn"
        ) from None


def _participant_errors(details: ParticipantDetails, referrer: User, today: date) -> dict:
    errors: dict[str, str] = {}
    if not details.first_name.strip():
        errors["first_name"] = _("Enter the first name.")
    if not details.last_name.strip():
        errors["last_name"] = _("Enter the last name.")
    if details.date_of_birth is None:
        errors["date_of_birth"] = _("Enter the date of birth, like 1-3-1980.")
    elif details.date_of_birth > today:
        errors["date_of_birth"] = _("The date of birth lies in the future.")
    elif today.year - details.date_of_birth.year > MAX_AGE:
        errors["date_of_birth"] = _("Check the date of birth: that is more than 120 years ago.")
    try:
        details.postcode = normalise_postcode(details.postcode)
    except ServiceError as error:
        errors["postcode"] = error.message
    phone, email = (details.phone or "").strip(), (details.email or "").strip()
    if not phone and not email:
        errors["phone"] = _("Enter a phone number or an e-mail address (or both).")
    elif phone and not _PHONE.match(phone):
        errors["phone"] = _("Enter a phone number of 10 digits, like 06 12345678.")
    details.phone, details.email = phone or None, email.lower() or None
    if details.bsn and not referrer.organisation.kind.is_care_provider:
        errors["bsn"] = _("Only a care provider may send a BSN.")
    else:
        try:
            details.bsn = normalise_bsn(details.bsn)
        except ServiceError as error:
            errors["bsn"] = error.message
    return errors


def _referral_errors(details: ReferralDetails) -> dict:
    errors: dict[str, str] = {}
    if not details.reasons:
        errors["reasons"] = _("Choose at least one reason.")
    elif not set(details.reasons) <= {r.value for r in Reason}:
        errors["reasons"] = _("Choose reasons from the list.")
    if not details.description.strip():
        errors["description"] = _("Describe briefly why you refer this person.")
    if details.preferred_form not in {f.value for f in PreferredForm}:
        errors["preferred_form"] = _("Choose group, individual or no preference.")
    if not set(details.preferred_days) <= {d.value for d in Weekday}:
        errors["preferred_days"] = _("Choose days from the list.")
    if not details.consent_to_refer:
        errors["consent_to_refer"] = _(
            "A referral needs the participant's consent. Ask for it before you refer."
        )
    return errors


def _eligibility_errors(programme: Programme, details: ParticipantDetails, today: date) -> dict:
    errors: dict[str, str] = {}
    # Only a postcode that passed its own check can be compared with the area.
    valid_postcode = re.fullmatch(r"\d{4} [A-Z]{2}", details.postcode or "")
    if valid_postcode and not programme.covers_postcode(details.postcode):
        areas = ", ".join(str(area) for area in programme.postcode_areas)
        errors["postcode"] = _(
            "This postcode lies outside the programme's area (%(areas)s).", areas=areas
        )
    born = details.date_of_birth
    if born is None:
        return errors
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if 0 <= age < programme.min_age:
        errors["date_of_birth"] = _(
            "This programme is for people of %(age)d and older.", age=programme.min_age
        )
    return errors


def can_refer_to(user: User, programme: Programme, today: date | None = None) -> bool:
    return (
        user.role is Role.REFERRER
        and programme.is_open_on(today or local_today())
        and any(o.id == user.organisation_id for o in programme.referrer_organisations)
    )


def find_duplicates(programme: Programme, details: ParticipantDetails) -> list[Referral]:
    """Open referrals in the programme for the same BSN, or same name, birth date and postcode."""
    same_person = sa.and_(
        sa.func.lower(Participant.first_name) == details.first_name.strip().lower(),
        sa.func.lower(Participant.last_name) == details.last_name.strip().lower(),
        Participant.date_of_birth == details.date_of_birth,
        Participant.postcode == details.postcode,
    )
    if details.bsn:
        same_person = sa.or_(same_person, Participant.bsn == details.bsn)
    query = (
        sa.select(Referral)
        .join(Referral.participant)
        .where(Referral.programme_id == programme.id, Referral.state.in_(OPEN_STATES), same_person)
        .order_by(Referral.id)
    )
    return list(db.session.scalars(query))


def check_referral(
    referrer: User, programme: Programme, participant: ParticipantDetails, details: ReferralDetails
) -> dict[str, str]:
    """Every problem with a referral, by field; normalises postcode, BSN and contact details."""
    today = local_today()
    errors = _participant_errors(participant, referrer, today) | _referral_errors(details)
    for name, message in _eligibility_errors(programme, participant, today).items():
        errors.setdefault(name, message)
    return errors


def submit_referral(
    *,
    referrer: User,
    programme: Programme,
    participant: ParticipantDetails,
    details: ReferralDetails,
    confirm_duplicate: bool = False,
    submission_key: str | None = None,
) -> Referral:
    """Check everything, then save the participant and the referral as `submitted`.

    Raises InvalidReferral (field messages), DuplicateReferral (unless confirmed),
    AlreadySubmitted (this form's key was saved before) or ServiceError; nothing is written
    before all checks pass. Submissions for one person in one programme run one at a time
    (`serialize_on`), so two at once cannot both pass the duplicate check.
    """
    if not can_refer_to(referrer, programme):
        raise ServiceError(_("Your organisation cannot refer to this programme."))
    errors = check_referral(referrer, programme, participant, details)
    if errors:
        raise InvalidReferral(errors)
    serialize_on(*_person_lock_names(programme, participant))
    if valid_submission_key(submission_key):
        earlier = db.session.scalar(
            sa.select(Referral).where(Referral.submission_key == submission_key)
        )
        if earlier is not None:
            if earlier.referrer_id != referrer.id:
                raise ServiceError(_("This form cannot be sent again. Open a new form."))
            raise AlreadySubmitted(earlier)
    else:
        submission_key = None
    duplicates = find_duplicates(programme, participant)
    if duplicates and not confirm_duplicate:
        raise DuplicateReferral(duplicates)
    return _save_referral(
        referrer, programme, participant, details, bool(duplicates), submission_key
    )


def _person_lock_names(programme: Programme, details: ParticipantDetails) -> list[str]:
    """One name per way the duplicate rule can recognise the person (name, birth date and
    postcode; BSN), within the programme. No personal data leaves the transaction: the
    names are hashed into lock numbers by the database."""
    names = [
        f"referral:{programme.id}:person:{details.first_name.strip().lower()}"
        f"|{details.last_name.strip().lower()}|{details.date_of_birth}|{details.postcode}"
    ]
    if details.bsn:
        names.append(f"referral:{programme.id}:bsn:{details.bsn}")
    return names


def _save_referral(
    referrer, programme, participant, details, duplicate_confirmed, submission_key=None
) -> Referral:
    now = utcnow()
    person = Participant(
        first_name=participant.first_name.strip(),
        last_name=participant.last_name.strip(),
        date_of_birth=participant.date_of_birth,
        postcode=participant.postcode,
        phone=participant.phone,
        email=participant.email,
        bsn=participant.bsn,
    )
    referral = Referral(
        programme=programme,
        participant=person,
        referring_organisation_id=referrer.organisation_id,
        referrer=referrer,
        reasons=sorted(set(details.reasons)),
        description=details.description.strip(),
        preferred_form=PreferredForm(details.preferred_form),
        preferred_days=[d.value for d in Weekday if d.value in set(details.preferred_days)],
        consent_to_refer=True,
        consent_share_progress=bool(details.consent_share_progress),
        state=ReferralState.SUBMITTED,
        submitted_at=now,
        submission_key=submission_key,
    )
    db.session.add(referral)
    db.session.flush()
    referral.reference = f"RT-{now.year}-{referral.id:06d}"
    reason = "duplicate_confirmed" if duplicate_confirmed else None
    record_event(referral, referrer, None, ReferralState.SUBMITTED, reason=reason, note=None)
    audit.record(AuditAction.CREATE, actor=referrer, obj=referral, participant_id=person.id)
    for coordinator in programme.coordinators:
        if coordinator.is_active:
            subject, body = notification_text(NotificationKind.NEW_REFERRAL, referral)
            enqueue(NotificationKind.NEW_REFERRAL, coordinator, subject, body)
    db.session.flush()
    if programme.auto_offer:
        offer_to_best_match(referral, actor=None)
    return referral


def withdraw_referral(referral: Referral, *, actor: User, reason: str) -> Referral:
    """The referrer takes back a submitted or offered referral, saying why."""
    if not reason.strip():
        raise ServiceError(_("Say why the referral is withdrawn."), "reason")
    # Offer first, then referral: the same lock order as accepting and declining, so a
    # withdrawal and an acceptance at the same moment wait for each other, never deadlock.
    closed = close_open_offers(referral, OfferState.WITHDRAWN)
    apply_transition(referral, "withdraw", actor, note=reason.strip(), closed_at=utcnow())
    # Those who were about to act on it: the coordinators, and the therapist it was offered to.
    told = [*referral.programme.coordinators, *(offer.therapist.user for offer in closed)]
    subject, body = notification_text(NotificationKind.REFERRAL_WITHDRAWN, referral)
    for user in told:
        if user is not None and user.is_active:
            enqueue(NotificationKind.REFERRAL_WITHDRAWN, user, subject, body)
    return referral


def reject_referral(
    referral: Referral, *, actor: User, reason: RejectionReason, note: str = ""
) -> Referral:
    """The coordinator rejects a submitted referral; the referrer is told and sees why."""
    if reason is RejectionReason.OTHER and not note.strip():
        raise ServiceError(_("Explain the reason when you choose 'other'."), "note")
    apply_transition(
        referral,
        "reject",
        actor,
        reason=reason.value,
        note=note.strip() or None,
        closed_at=utcnow(),
        rejection_reason=reason,
    )
    if referral.referrer.is_active:
        subject, body = notification_text(NotificationKind.REFERRAL_REJECTED, referral)
        enqueue(NotificationKind.REFERRAL_REJECTED, referral.referrer, subject, body)
    return referral
