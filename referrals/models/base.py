"""Declarative base with a constraint naming convention and shared column types."""

from __future__ import annotations

import enum
import logging
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names on SQLite and PostgreSQL alike, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC; the one clock the models and services use."""
    return datetime.now(UTC)


# The Netherlands' time zone: the day a registration ends, a programme starts or a person turns
# 18 is a Dutch day, not a UTC one.
LOCAL_ZONE = ZoneInfo("Europe/Amsterdam")


def local_today() -> date:
    """Today's date in the Netherlands."""
    return datetime.now(LOCAL_ZONE).date()


class EncryptedString(sa.types.TypeDecorator):
    """A string stored encrypted (referrals.crypto) and read back in clear; never compared in
    SQL, since each encryption of the same value differs."""

    impl = sa.String(255)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        from referrals.crypto import encrypt

        return encrypt(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        from referrals.crypto import UNREADABLE, decrypt

        try:
            return decrypt(value)
        except ValueError:  # Fernet's InvalidToken: another key (see referrals.crypto)
            logging.getLogger(__name__).error(
                "a stored secret cannot be decrypted with the configured key"
            )
            return UNREADABLE


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use referrals.models.base.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column_type(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A portable enum: VARCHAR plus a named CHECK constraint, storing the members' values."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigIntegerPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
