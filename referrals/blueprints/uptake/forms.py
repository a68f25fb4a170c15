"""The officer's form for the municipality's need figures, and the admin's CSV upload."""

from __future__ import annotations

import re

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from referrals.blueprints.common import Form
from referrals.models import local_today
from referrals.services.uptake.reach import parse_pc4_lines

_NUMBER = re.compile(r"[0-9]{1,3}(?:[.,][0-9])?")
_WHOLE = re.compile(r"[0-9]{1,8}")


class WholeNumberField(StringField):
    """An optional whole number typed as text (a typo stays visible next to its message)."""

    def __init__(self, label, low: int, high: int, **kwargs):
        super().__init__(
            label,
            validators=[Optional()],
            render_kw={"inputmode": "numeric", "autocomplete": "off"},
            **kwargs,
        )
        self.low, self.high = low, high

    @property
    def number(self) -> int | None:
        text = (self.data or "").replace(".", "").replace(" ", "")
        return int(text) if _WHOLE.fullmatch(text) else None

    def pre_validate(self, form):
        if not (self.data or "").strip():
            return
        value = self.number
        if value is None or not self.low <= value <= self.high:
            raise ValidationError(
                _l("Enter a whole number from %(low)s to %(high)s.", low=self.low, high=self.high)
            )


class PercentField(StringField):
    """An optional share in percent, with one decimal after a comma or point (11,4)."""

    def __init__(self, label, **kwargs):
        super().__init__(
            label, validators=[Optional()], render_kw={"inputmode": "decimal"}, **kwargs
        )

    @property
    def number(self) -> float | None:
        text = (self.data or "").strip().removesuffix("%").strip()
        return float(text.replace(",", ".")) if _NUMBER.fullmatch(text) else None

    def pre_validate(self, form):
        if not (self.data or "").strip():
            return
        value = self.number
        if value is None or not 0 <= value <= 100:
            raise ValidationError(_l("Enter a share from 0 to 100, like 11,4."))

    @classmethod
    def text_of(cls, value: float | None) -> str:
        return "" if value is None else format_decimal(value, "0.0")


def _source(label):
    return StringField(
        label,
        validators=[Optional(), Length(max=200, message=_l("Use at most 200 characters."))],
    )


def _year(label):
    return WholeNumberField(label, 2000, 2100)


class NeedForm(Form):
    adult_residents = WholeNumberField(
        _l("Adult residents of the programme's area"),
        1,
        20_000_000,
        description=_l("The number of residents of 18 and older, for example from CBS."),
    )
    residents_source = _source(_l("Source of the number of residents"))
    residents_year = _year(_l("Year of the number of residents"))
    k10_low_percent = PercentField(_l("Share of adults with a K10 of 10 to 15 (%)"))
    k10_moderate_percent = PercentField(_l("Share of adults with a K10 of 16 to 29 (%)"))
    k10_high_percent = PercentField(
        _l("Share of adults with a K10 of 30 or more (%)"),
        description=_l(
            "High risk of anxiety or depression, from the GGD health monitor (11,4% nationally"
            " in 2022)."
        ),
    )
    k10_source = _source(_l("Source of the K10 shares"))
    k10_year = _year(_l("Year of the K10 shares"))
    pc4_residents = TextAreaField(
        _l("Adult residents per postcode area (optional)"),
        validators=[Optional(), Length(max=20_000, message=_l("Use at most 20,000 characters."))],
        description=_l('One postcode area per line: the PC4 and the number, like "2201;5400".'),
    )
    pc4_source = _source(_l("Source of the residents per postcode area"))
    pc4_year = _year(_l("Year of the residents per postcode area"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        this_year = local_today().year
        for year in (self.residents_year, self.k10_year, self.pc4_year):
            if not year.errors and year.number is not None and year.number > this_year:
                year.errors = [*year.errors, _l("Enter a year up to %(year)s.", year=this_year)]
                valid = False
        # Each figure with its source and year, as the officer has them.
        groups = (
            ((self.adult_residents,), self.residents_source, self.residents_year),
            (
                (self.k10_low_percent, self.k10_moderate_percent, self.k10_high_percent),
                self.k10_source,
                self.k10_year,
            ),
            ((self.pc4_residents,), self.pc4_source, self.pc4_year),
        )
        for figures, source, year in groups:
            if any((f.data or "").strip() for f in figures):
                if not (source.data or "").strip() and not source.errors:
                    source.errors = [*source.errors, _l("Enter where this figure comes from.")]
                    valid = False
                if year.number is None and not year.errors:
                    year.errors = [*year.errors, _l("Enter the year of this figure.")]
                    valid = False
        shares = (self.k10_low_percent, self.k10_moderate_percent, self.k10_high_percent)
        given = [f for f in shares if (f.data or "").strip()]
        if given and len(given) < 3 and not any(f.errors for f in shares):
            for field in shares:
                if field not in given:
                    field.errors = [*field.errors, _l("Enter all three shares, or none.")]
            valid = False
        elif (
            len(given) == 3
            and not any(f.errors for f in shares)
            and abs(sum(f.number for f in shares) - 100) > 1.0
        ):
            self.k10_high_percent.errors = [
                *self.k10_high_percent.errors,
                _l("The three shares must add up to 100%."),
            ]
            valid = False
        if (self.pc4_residents.data or "").strip() and not self.pc4_residents.errors:
            _found, bad = parse_pc4_lines(self.pc4_residents.data)
            if bad:
                self.pc4_residents.errors = [
                    *self.pc4_residents.errors,
                    _l(
                        'Line %(lines)s cannot be read: write a PC4 and a number, like "2201;5400",'
                        " each PC4 once.",
                        lines=", ".join(str(n) for n in bad[:10]),
                    ),
                ]
                valid = False
        return valid


class NeedUploadForm(Form):
    file = FileField(
        _l("Need figures (CSV)"),
        validators=[
            FileRequired(_l("Choose the CSV file.")),
            FileAllowed(["csv", "txt"], _l("Choose a .csv or .txt file.")),
            FileSize(1_000_000, message=_l("The file is larger than 1 MB.")),
        ],
        description=_l(
            "Columns: programma_id; inwoners_18plus; bron_inwoners; jaar_inwoners; k10_laag;"
            " k10_matig; k10_hoog; bron_k10; jaar_k10. Separated by ; and saved as UTF-8."
        ),
    )
