"""All models, imported here so that Alembic and the app see the whole schema."""

from referrals.models.accounts import (
    ROLES_BY_KIND,
    Organisation,
    OrganisationKind,
    Role,
    SessionEndReason,
    User,
    UserSession,
)
from referrals.models.audit import AuditAction, AuditEvent
from referrals.models.base import Base, utcnow

__all__ = [
    "ROLES_BY_KIND",
    "AuditAction",
    "AuditEvent",
    "Base",
    "Organisation",
    "OrganisationKind",
    "Role",
    "SessionEndReason",
    "User",
    "UserSession",
    "utcnow",
]
