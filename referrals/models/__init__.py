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
from referrals.models.base import LOCAL_ZONE, Base, local_today, utcnow
from referrals.models.intake import (
    OPEN_STATES,
    Participant,
    PreferredForm,
    Reason,
    Referral,
    ReferralEvent,
    ReferralState,
    RejectionReason,
    Weekday,
)
from referrals.models.notifications import Notification, NotificationKind
from referrals.models.programmes import (
    PostcodeArea,
    Programme,
    Questionnaire,
    programme_coordinators,
    programme_referrers,
)
from referrals.models.therapists import (
    DeclineReason,
    Offer,
    OfferState,
    Pc4Area,
    RegisterImport,
    Therapist,
    programme_therapists,
)
from referrals.models.trajectories import Trajectory

__all__ = [
    "LOCAL_ZONE",
    "local_today",
    "DeclineReason",
    "Offer",
    "OfferState",
    "Pc4Area",
    "RegisterImport",
    "Therapist",
    "Trajectory",
    "programme_therapists",
    "OPEN_STATES",
    "ROLES_BY_KIND",
    "Notification",
    "NotificationKind",
    "Participant",
    "PostcodeArea",
    "PreferredForm",
    "Programme",
    "Questionnaire",
    "Reason",
    "Referral",
    "ReferralEvent",
    "ReferralState",
    "RejectionReason",
    "Weekday",
    "programme_coordinators",
    "programme_referrers",
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
