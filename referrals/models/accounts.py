"""Organisations, users and their server-side login sessions."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.models.base import (
    Base,
    EncryptedString,
    TimestampMixin,
    UTCDateTime,
    enum_column_type,
)


class OrganisationKind(enum.StrEnum):
    """What an organisation is; the kind decides its identifier and the roles its users may have."""

    GP_PRACTICE = "gp_practice"  # AGB code, 8 digits; a care provider, may process a BSN
    MUNICIPALITY = "municipality"  # CBS code such as GM0575
    THERAPIST_PRACTICE = "therapist_practice"
    OPERATOR = "operator"  # runs the installation
    FUNDER = "funder"  # a care group, insurer or fund that pays for a programme
    SCHOOL = "school"  # BRIN code; refers students
    EMPLOYER = "employer"  # KvK number; refers employees

    @property
    def is_care_provider(self) -> bool:
        return self is OrganisationKind.GP_PRACTICE


class Role(enum.StrEnum):
    REFERRER = "referrer"
    COORDINATOR = "coordinator"
    THERAPIST = "therapist"
    OFFICER = "officer"
    ADMIN = "admin"


# Which roles an organisation of each kind can hold; services refuse any other pairing.
ROLES_BY_KIND: dict[OrganisationKind, frozenset[Role]] = {
    OrganisationKind.GP_PRACTICE: frozenset({Role.REFERRER}),
    OrganisationKind.MUNICIPALITY: frozenset({Role.REFERRER, Role.COORDINATOR, Role.OFFICER}),
    OrganisationKind.THERAPIST_PRACTICE: frozenset({Role.THERAPIST}),
    OrganisationKind.OPERATOR: frozenset({Role.ADMIN, Role.COORDINATOR}),
    OrganisationKind.FUNDER: frozenset({Role.COORDINATOR, Role.OFFICER}),
    OrganisationKind.SCHOOL: frozenset({Role.REFERRER}),
    OrganisationKind.EMPLOYER: frozenset({Role.REFERRER}),
}


class Organisation(TimestampMixin, Base):
    """A GP practice, municipality, therapist practice, funder, school, employer or the operator."""

    __tablename__ = "organisations"
    __table_args__ = (
        sa.UniqueConstraint("kind", "code"),
        sa.CheckConstraint(
            "kind NOT IN ('gp_practice', 'municipality') OR code IS NOT NULL",
            name="code_required",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrganisationKind] = mapped_column(
        enum_column_type(OrganisationKind, "organisation_kind")
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    # AGB code (GP practice), CBS code (municipality), BRIN (school) or KvK number (others).
    code: Mapped[str | None] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(default=True)

    users: Mapped[list[User]] = relationship(back_populates="organisation")

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.kind.value} {self.code}>"


class User(UserMixin, TimestampMixin, Base):
    """A person who logs in; one organisation, one role, password plus TOTP."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "totp_confirmed_at IS NULL OR totp_secret IS NOT NULL", name="totp_confirmed_has_secret"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[Role] = mapped_column(enum_column_type(Role, "role"))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # Encrypted at rest (referrals.crypto); the model reads and writes it in clear.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedString)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The time step of the last accepted code: a code is accepted once only.
    totp_last_counter: Mapped[int | None] = mapped_column(sa.BigInteger)
    active: Mapped[bool] = mapped_column(default=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship(back_populates="users")
    sessions: Mapped[list[UserSession]] = relationship(back_populates="user")

    # Flask-Login keeps this id in the cookie; it is the server-side session token, set at
    # login by services.sessions, so that ending the session row ends the cookie too.
    session_token = None

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def is_active(self) -> bool:
        return self.active and self.organisation.active

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role.value}>"


class SessionEndReason(enum.StrEnum):
    LOGOUT = "logout"
    PASSWORD_CHANGE = "password_change"  # noqa: S105 - a reason, not a password
    DEACTIVATED = "deactivated"
    SECOND_FACTOR_RESET = "second_factor_reset"


class UserSession(Base):
    """A login session; the cookie holds a random token whose SHA-256 is stored here."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[SessionEndReason | None] = mapped_column(
        enum_column_type(SessionEndReason, "session_end_reason")
    )
    ip_address: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(200))

    user: Mapped[User] = relationship(back_populates="sessions")


class LoginFailure(Base):
    """One failed password or code for an account, from one client address.

    Locks are per account and address (services.accounts.login_sessions): failures from an
    attacker's address do not lock the account for its owner elsewhere. Counted here, not in
    the append-only audit log; rows older than the longest lock window are deleted.
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        sa.Index("ix_login_failures_user_id_address_failed_at", "user_id", "address", "failed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(sa.String(45))
    # "password" or "code": wrong codes also count for the account as a whole (whoever sends
    # them knows the password), see ACCOUNT_CODE_LOCK.
    step: Mapped[str] = mapped_column(sa.String(8), default="password", server_default="password")
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
