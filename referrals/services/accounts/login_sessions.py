"""Login: password, second factor (TOTP), account locks and server-side sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import sqlalchemy as sa
from flask import current_app, request
from sqlalchemy.orm import joinedload

from referrals import audit
from referrals.extensions import client_network, db
from referrals.models import (
    AuditAction,
    LoginFailure,
    SessionEndReason,
    User,
    UserSession,
    utcnow,
)
from referrals.services.accounts.passwords import (
    burn_verification_time,
    hash_password,
    needs_rehash,
    verify_password,
)

# A code is valid in its own 30-second step and the one before and after (clock drift).
TOTP_DRIFT_STEPS = 1


@dataclass(frozen=True)
class PasswordCheck:
    """The outcome of the first login step. A refused check says nothing about why: an
    unknown address, a wrong password and a lock get the same answer."""

    user: User | None

    @property
    def ok(self) -> bool:
        return self.user is not None


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _address() -> str:
    """The client's address, an IPv6 one as its /64 network: one connection has a whole /64."""
    return client_network(audit.client_address())


def is_locked(user: User, address: str | None = None, now: datetime | None = None) -> bool:
    """Whether `address` (default: this request's client) failed too often for `user` in any
    of the ACCOUNT_LOCK_RULES windows. Another address is not locked by it."""
    now = now or utcnow()
    rules = current_app.config["ACCOUNT_LOCK_RULES"]
    code_limit, code_window = current_app.config["ACCOUNT_CODE_LOCK"]
    here = LoginFailure.address == (address or _address())
    counts = db.session.execute(
        sa.select(
            *(
                sa.func.count().filter(here, LoginFailure.failed_at > now - window)
                for _, window in rules
            ),
            sa.func.count().filter(
                LoginFailure.step == "code", LoginFailure.failed_at > now - code_window
            ),
        ).where(LoginFailure.user_id == user.id)
    ).one()
    *from_here, codes = counts
    if codes >= code_limit:
        return True  # the password is known to someone guessing codes: refused everywhere
    return any(count >= limit for count, (limit, _) in zip(from_here, rules, strict=True))


def record_login_failure(user: User | None, reason: str, *, step: str = "password") -> None:
    """Audit a failed attempt and, for a known account, count it for this client address
    (one row per failure, so simultaneous failures are all counted)."""
    audit.record(
        AuditAction.LOGIN_FAILED,
        actor=user,
        object_type="users" if user else None,
        object_id=user.id if user else None,
        detail=reason,
    )
    if user is None:
        return
    now = utcnow()
    cfg = current_app.config
    longest = max(window for _, window in (*cfg["ACCOUNT_LOCK_RULES"], cfg["ACCOUNT_CODE_LOCK"]))
    db.session.execute(
        # Every account's, not only this one's: the table holds at most the last hour's failures.
        sa.delete(LoginFailure).where(LoginFailure.failed_at <= now - longest)
    )
    db.session.add(LoginFailure(user_id=user.id, address=_address(), step=step, failed_at=now))
    db.session.flush()


def forget_login_failures(user: User, address: str | None = None) -> None:
    """After a full login from `address` (or, by the admin, from everywhere): the count is 0."""
    query = sa.delete(LoginFailure).where(LoginFailure.user_id == user.id)
    if address is not None:
        query = query.where(LoginFailure.address == address)
    db.session.execute(query)


def check_password(email: str, password: str) -> PasswordCheck:
    """First factor. Audits failures. An unknown or inactive account, a wrong password and an
    account locked for this address all take the time of a password check and all give the
    same refusal, so that the answer does not tell whether an account exists."""
    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active:
        burn_verification_time(password)
        record_login_failure(user, "unknown or inactive account")
        return PasswordCheck(user=None)
    locked = is_locked(user)
    if not verify_password(user.password_hash, password) or locked:
        record_login_failure(user, "account locked" if locked else "wrong password")
        return PasswordCheck(user=None)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return PasswordCheck(user=user)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=user.email, issuer_name=current_app.config["TOTP_ISSUER"]
    )


def _matching_counter(secret: str, code: str, now: datetime) -> int | None:
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for counter in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if secrets.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def verify_second_factor(user: User, code: str) -> bool:
    """Check a TOTP code and spend it: the same code (or an older one) is never accepted again.

    The counter moves forward with a conditional UPDATE, so two requests racing with the
    same code cannot both succeed, on SQLite or PostgreSQL.
    """
    if is_locked(user) or not user.totp_secret:
        record_login_failure(user, "account locked" if is_locked(user) else "no authenticator")
        return False
    counter = _matching_counter(user.totp_secret, code, utcnow())
    if counter is not None:
        result = db.session.execute(
            sa.update(User)
            .where(
                User.id == user.id,
                sa.or_(User.totp_last_counter.is_(None), User.totp_last_counter < counter),
            )
            .values(totp_last_counter=counter)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            db.session.refresh(user)
            return True
    record_login_failure(user, "wrong or reused code", step="code")
    return False


def confirm_enrolment(user: User, code: str) -> bool:
    """Finish enrolling an authenticator with a first valid code."""
    if not verify_second_factor(user, code):
        return False
    user.totp_confirmed_at = utcnow()
    audit.record(AuditAction.UPDATE, actor=user, obj=user, detail="authenticator enrolled")
    return True


def start_session(user: User, *, is_login: bool = True) -> str:
    """Open a server-side session for a fully authenticated user; returns the cookie token."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        UserSession(
            user=user,
            token_hash=_hash_token(token),
            created_at=now,
            last_seen_at=now,
            ip_address=audit.client_address(),
            user_agent=(request.user_agent.string or "")[:200] or None,
        )
    )
    user.session_token = token
    if is_login:
        forget_login_failures(user, _address())
    db.session.flush()
    if is_login:
        audit.record(AuditAction.LOGIN, actor=user, obj=user)
    return token


def find_session(token: str) -> UserSession | None:
    """The live session for `token`, or None when it ended, idled out or grew too old."""
    if not token:
        return None
    # One query for what every page needs: the session, its user and the user's organisation.
    user_session = db.session.scalar(
        sa.select(UserSession)
        .where(UserSession.token_hash == _hash_token(token))
        .options(joinedload(UserSession.user).joinedload(User.organisation))
    )
    if user_session is None or user_session.ended_at is not None:
        return None
    cfg = current_app.config
    now = utcnow()
    if now - user_session.last_seen_at > cfg["SESSION_IDLE_TIMEOUT"]:
        return None
    if now - user_session.created_at > cfg["SESSION_ABSOLUTE_TIMEOUT"]:
        return None
    if not user_session.user.is_active:
        return None
    return user_session


def touch_session(session_id: int) -> None:
    """Move a session's idle clock forward (a bookkeeping write, done after the response)."""
    db.session.execute(
        sa.update(UserSession).where(UserSession.id == session_id).values(last_seen_at=utcnow())
    )


def end_session(token: str, reason: SessionEndReason) -> None:
    # One query for what every page needs: the session, its user and the user's organisation.
    user_session = db.session.scalar(
        sa.select(UserSession)
        .where(UserSession.token_hash == _hash_token(token))
        .options(joinedload(UserSession.user).joinedload(User.organisation))
    )
    if user_session is not None and user_session.ended_at is None:
        user_session.ended_at = utcnow()
        user_session.end_reason = reason
        if reason is SessionEndReason.LOGOUT:
            audit.record(AuditAction.LOGOUT, actor=user_session.user, obj=user_session.user)
        db.session.flush()


def end_all_sessions(user: User, reason: SessionEndReason) -> int:
    """End every open session of `user`; a copied cookie stops working at once."""
    result = db.session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def change_password(user: User, new_password: str) -> str:
    """Set a new password, end every session and return the token of a fresh one."""
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    end_all_sessions(user, SessionEndReason.PASSWORD_CHANGE)
    audit.record(AuditAction.UPDATE, actor=user, obj=user, detail="password changed")
    return start_session(user, is_login=False)
