"""Which therapists fit a referral, in what order, and why; and why the others do not.

Matching reads only: the programme's therapists are filtered in Python against the
referral, with distances from the in-memory PC4 index, so one referral against 500
therapists stays far below 50 ms (see bench/bench_matching.py, `make bench`).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from datetime import date

from babel.numbers import get_decimal_symbol
from flask_babel import get_locale, get_translations

from referrals.labels import WEEKDAY_SHORT_MESSAGES
from referrals.models import OfferState, PreferredForm, Referral, Therapist, Weekday, utcnow
from referrals.services.therapists import geo

# Flask-Babel's gettext looks up the request's locale and catalogue on every call, which
# costs more than the matching itself for 500 therapists; one match uses one lookup.
_WORDING: contextvars.ContextVar[tuple | None] = contextvars.ContextVar("wording", default=None)


def _wording() -> tuple:
    wording = _WORDING.get()
    if wording is None:
        locale = get_locale()
        wording = (get_translations(), get_decimal_symbol(locale) if locale else ",")
    return wording


def _(message: str, **variables) -> str:
    """gettext (for extraction too) with the catalogue looked up once per match."""
    text = _wording()[0].gettext(message)
    return text % variables if variables else text


def _km(value: float) -> str:
    return f"{value:.1f}".replace(".", _wording()[1])


# Distances within the same band count as equally near; within a band, fit with the
# preferred days and then free places decide (4.2 km and 4.6 km are the same to a runner).
DISTANCE_BAND_KM = 2.0


@dataclass
class Candidate:
    therapist: Therapist
    distance_km: float | None
    free_places: int
    common_days: list[str]
    explanation: str = ""
    # Where a distance rests on an estimated PC4 centre (geo.estimate_pc4): the known
    # PC4s, with their places, that stand in for the participant's and the practice's area.
    home_via: tuple[tuple[int, str], ...] = ()
    practice_via: tuple[tuple[int, str], ...] = ()

    def sort_key(self) -> tuple:
        near = self.distance_km if self.distance_km is not None else float("inf")
        return (near // DISTANCE_BAND_KM, -len(self.common_days), -self.free_places, near)


@dataclass
class Excluded:
    therapist: Therapist
    reasons: list[str]


@dataclass
class MatchResult:
    candidates: list[Candidate] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


def _offers_form(therapist: Therapist, wanted: PreferredForm) -> bool:
    if wanted is PreferredForm.GROUP:
        return therapist.offers_group
    if wanted is PreferredForm.INDIVIDUAL:
        return therapist.offers_individual
    return therapist.offers_group or therapist.offers_individual


def _form_words(therapist: Therapist, wanted: PreferredForm) -> str:
    group = therapist.offers_group and wanted is not PreferredForm.INDIVIDUAL
    individual = therapist.offers_individual and wanted is not PreferredForm.GROUP
    if group and individual:
        return _("group or individual")
    return _("group") if group else _("individual")


def _days_words(days: list[str]) -> str:
    """ "di en do", "ma, wo en vr": the short day names joined as in a sentence."""
    labels = [_(WEEKDAY_SHORT_MESSAGES[Weekday(day)]) for day in days]
    if len(labels) <= 1:
        return "".join(labels)
    return _("%(first)s and %(last)s", first=", ".join(labels[:-1]), last=labels[-1])


def via_words(via: tuple[tuple[int, str], ...]) -> str:
    """ "2211 (Noordwijkerhout)", "2204 en 2206 (Noordwijk)", "2212 (Noordwijkerhout) en 2215
    (Voorhout)": the known PC4s an estimate comes from, each place named once."""
    places = [place for _pc4, place in via]
    if len(via) == 2 and places[0] == places[1]:
        codes = _("%(first)s and %(last)s", first=via[0][0], last=via[1][0])
        return f"{codes} ({places[0]})" if places[0] else codes
    labels = [f"{pc4} ({place})" if place else str(pc4) for pc4, place in via]
    if len(labels) == 1:
        return labels[0]
    return _("%(first)s and %(last)s", first=", ".join(labels[:-1]), last=labels[-1])


def _distance_words(candidate: Candidate) -> list[str]:
    if candidate.distance_km is None:
        return [_("distance unknown")]
    parts = [_("%(km)s km", km=_km(candidate.distance_km))]
    if candidate.home_via:
        parts.append(_("distance estimated via %(via)s", via=via_words(candidate.home_via)))
    if candidate.practice_via:
        parts.append(
            _("practice location estimated via %(via)s", via=via_words(candidate.practice_via))
        )
    return parts


def explain(candidate: Candidate, wanted: PreferredForm) -> str:
    """One line in plain language, e.g. "4,2 km · 3 van 8 plekken vrij · groep op di en do", with
    "afstand geschat via 2211 (Noordwijkerhout)" after the distance when it is an estimate."""
    therapist = candidate.therapist
    parts = [
        *_distance_words(candidate),
        _(
            "%(free)d of %(capacity)d places free",
            free=candidate.free_places,
            capacity=therapist.capacity,
        ),
    ]
    form_words = _form_words(therapist, wanted)
    days = candidate.common_days or [d for d in therapist.weekdays]
    if days:
        parts.append(_("%(form)s on %(days)s", form=form_words, days=_days_words(days)))
    else:
        parts.append(form_words)
    return " · ".join(parts)


def passed_over(referral: Referral) -> set[int]:
    """Therapists who declined this referral or let its offer expire (also an offer still open
    in the database whose deadline passed before the worker expired it)."""
    now = utcnow()
    return {
        offer.therapist_id
        for offer in referral.offers
        if offer.state in (OfferState.DECLINED, OfferState.EXPIRED) or offer.is_overdue_at(now)
    }


def exclusion_reasons(
    therapist: Therapist,
    referral: Referral,
    today: date,
    distance_km: float | None,
    declined: set[int] | None = None,
) -> list[str]:
    """Why `therapist` cannot get `referral` now; empty when they can."""
    reasons = []
    if not therapist.is_registered_on(today):
        reasons.append(_("registration expired"))
    if not therapist.accepting_referrals:
        reasons.append(_("takes no new referrals now"))
    if therapist.user_id is None:
        reasons.append(_("has no account to receive offers"))
    elif not therapist.user.is_active:
        reasons.append(_("account deactivated"))
    if therapist.free_places <= 0:
        reasons.append(_("full"))
    if not _offers_form(therapist, referral.preferred_form):
        reasons.append(
            _("offers no group sessions")
            if referral.preferred_form is PreferredForm.GROUP
            else _("offers no individual sessions")
        )
    if distance_km is not None and distance_km > therapist.travel_radius_km:
        reasons.append(
            _(
                "too far (%(km)s km, travels up to %(radius)d km)",
                km=_km(distance_km),
                radius=therapist.travel_radius_km,
            )
        )
    if therapist.id in (passed_over(referral) if declined is None else declined):
        reasons.append(_("declined or let this referral pass before"))
    return reasons


def match_referral(referral: Referral, today: date) -> MatchResult:
    """Rank the programme's therapists for `referral` and explain every place and absence."""
    locale = get_locale()
    token = _WORDING.set((get_translations(), get_decimal_symbol(locale) if locale else ","))
    try:
        return _rank(referral, today)
    finally:
        _WORDING.reset(token)


def _home_notice(postcode: str, home: geo.Pc4Location | None) -> str | None:
    if home is None:
        return _(
            "The location of postcode %(postcode)s is unknown, so distances cannot be shown.",
            postcode=postcode,
        )
    if home.estimated:
        return _(
            "Postcode %(postcode)s is not in the postcode data; distances are estimated via "
            "%(via)s.",
            postcode=postcode,
            via=via_words(home.via),
        )
    return None


def _rank(referral: Referral, today: date) -> MatchResult:
    result = MatchResult()
    index = geo.Pc4Index.current()
    postcode = referral.participant.postcode
    home = index.locate(postcode)
    notice = _home_notice(postcode, home)
    if notice:
        result.notices.append(notice)
    wanted_days = list(referral.preferred_days)
    declined = passed_over(referral)
    for therapist in referral.programme.therapists:
        practice = index.locate(therapist.postcode)
        known = home is not None and practice is not None
        distance = geo.haversine_km(home.point, practice.point) if known else None
        reasons = exclusion_reasons(therapist, referral, today, distance, declined)
        if reasons:
            result.excluded.append(Excluded(therapist, reasons))
            continue
        common = [d for d in wanted_days if d in therapist.weekdays]
        result.candidates.append(
            Candidate(
                therapist,
                distance,
                therapist.free_places,
                common,
                home_via=home.via if known else (),
                practice_via=practice.via if known else (),
            )
        )
    result.candidates.sort(key=Candidate.sort_key)
    for candidate in result.candidates:
        candidate.explanation = explain(candidate, referral.preferred_form)
    result.excluded.sort(key=lambda item: item.therapist.name)
    return result
