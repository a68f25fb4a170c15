"""Programmes: funded running-therapy offers, who refers into them, who coordinates them."""

from __future__ import annotations

import enum
from datetime import date
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.models.accounts import Organisation, User
from referrals.models.base import Base, TimestampMixin

if TYPE_CHECKING:
    from referrals.models.therapists import Therapist


class Questionnaire(enum.StrEnum):
    """Outcome instruments a programme may use (free to use; see FIELD.md)."""

    MHC_SF = "mhc_sf"
    K10 = "k10"
    WHO5 = "who5"


programme_referrers = sa.Table(
    "programme_referrers",
    Base.metadata,
    sa.Column("programme_id", sa.ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id"), primary_key=True),
)

programme_coordinators = sa.Table(
    "programme_coordinators",
    Base.metadata,
    sa.Column("programme_id", sa.ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True),
)


class Programme(TimestampMixin, Base):
    """A funded programme that people are referred into."""

    __tablename__ = "programmes"
    __table_args__ = (
        sa.CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="period_order"),
        sa.CheckConstraint("min_age >= 0 AND min_age <= 120", name="min_age_range"),
        sa.CheckConstraint("funded_places >= 0", name="funded_places_positive"),
        sa.CheckConstraint("trajectory_weeks BETWEEN 1 AND 104", name="weeks_range"),
        sa.CheckConstraint("supervised_sessions BETWEEN 1 AND 200", name="sessions_range"),
        sa.CheckConstraint("tariff_cents >= 0", name="tariff_positive"),
        sa.CheckConstraint("offer_deadline_days BETWEEN 1 AND 30", name="deadline_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    funder_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    min_age: Mapped[int] = mapped_column(default=18)
    funded_places: Mapped[int]
    trajectory_weeks: Mapped[int] = mapped_column(default=12)
    supervised_sessions: Mapped[int] = mapped_column(default=12)
    # Money in whole cents: no floating point in amounts that are invoiced.
    tariff_cents: Mapped[int]
    questionnaires: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    # Offers: working days a therapist has to answer, and whether the best match gets an offer
    # as soon as a referral comes in.
    offer_deadline_days: Mapped[int] = mapped_column(default=5, server_default="5")
    auto_offer: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The follow-up questionnaire this many months after closing; None: no follow-up.
    follow_up_months: Mapped[int | None]

    funder: Mapped[Organisation] = relationship()
    referrer_organisations: Mapped[list[Organisation]] = relationship(
        secondary=programme_referrers, order_by="Organisation.name"
    )
    coordinators: Mapped[list[User]] = relationship(
        secondary=programme_coordinators, order_by="User.name"
    )
    therapists: Mapped[list[Therapist]] = relationship(
        secondary="programme_therapists", order_by="Therapist.name"
    )
    postcode_areas: Mapped[list[PostcodeArea]] = relationship(
        back_populates="programme",
        cascade="all, delete-orphan",
        order_by="PostcodeArea.pc4_from",
    )

    def covers_postcode(self, postcode: str) -> bool:
        """Whether a normalised postcode (`1234 AB`) lies in one of the programme's PC4 areas."""
        pc4 = int(postcode[:4])
        return any(area.pc4_from <= pc4 <= area.pc4_to for area in self.postcode_areas)

    def is_open_on(self, day: date) -> bool:
        return (
            self.active and self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)
        )

    def __repr__(self) -> str:
        return f"<Programme {self.id} {self.name!r}>"


class PostcodeArea(Base):
    """A PC4 code (from == to) or an inclusive range of PC4 codes a programme covers."""

    __tablename__ = "postcode_areas"
    __table_args__ = (
        sa.CheckConstraint("pc4_from BETWEEN 1000 AND 9999", name="from_range"),
        sa.CheckConstraint("pc4_to BETWEEN pc4_from AND 9999", name="to_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        sa.ForeignKey("programmes.id", ondelete="CASCADE"), index=True
    )
    pc4_from: Mapped[int]
    pc4_to: Mapped[int]

    programme: Mapped[Programme] = relationship(back_populates="postcode_areas")

    def __str__(self) -> str:
        return (
            str(self.pc4_from) if self.pc4_from == self.pc4_to else f"{self.pc4_from}-{self.pc4_to}"
        )


class ProgrammeNeed(TimestampMixin, Base):
    """The municipality's own figures on the need in a programme's area, as the officer (or
    the admin, from a CSV) entered them, each with its source and year: the adult residents,
    and the shares of adults in each K10 band from the GGD health monitor (30 or more is high
    risk). services.uptake.reach sets the programme's reach against them."""

    __tablename__ = "programme_needs"
    __table_args__ = (
        sa.CheckConstraint("adult_residents IS NULL OR adult_residents > 0", name="residents"),
        *(
            sa.CheckConstraint(
                f"{column} IS NULL OR ({column} >= 0 AND {column} <= 100)", name=column
            )
            for column in ("k10_low_percent", "k10_moderate_percent", "k10_high_percent")
        ),
    )

    programme_id: Mapped[int] = mapped_column(
        sa.ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True
    )
    adult_residents: Mapped[int | None]
    residents_source: Mapped[str | None] = mapped_column(sa.String(200))
    residents_year: Mapped[int | None]
    k10_low_percent: Mapped[float | None] = mapped_column(sa.Numeric(4, 1, asdecimal=False))
    k10_moderate_percent: Mapped[float | None] = mapped_column(sa.Numeric(4, 1, asdecimal=False))
    k10_high_percent: Mapped[float | None] = mapped_column(sa.Numeric(4, 1, asdecimal=False))
    k10_source: Mapped[str | None] = mapped_column(sa.String(200))
    k10_year: Mapped[int | None]
    pc4_source: Mapped[str | None] = mapped_column(sa.String(200))
    pc4_year: Mapped[int | None]
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    pc4_residents: Mapped[list[Pc4Residents]] = relationship(
        cascade="all, delete-orphan", order_by="Pc4Residents.pc4"
    )


class Pc4Residents(Base):
    """Adult residents of one PC4 area of a programme, as entered with the programme's need."""

    __tablename__ = "pc4_residents"
    __table_args__ = (
        sa.CheckConstraint("pc4 BETWEEN 1000 AND 9999", name="pc4_range"),
        sa.CheckConstraint("adult_residents >= 0", name="residents"),
    )

    programme_id: Mapped[int] = mapped_column(
        sa.ForeignKey("programme_needs.programme_id", ondelete="CASCADE"), primary_key=True
    )
    pc4: Mapped[int] = mapped_column(primary_key=True)
    adult_residents: Mapped[int]
