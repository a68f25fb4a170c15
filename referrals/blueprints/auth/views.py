"""Login with password and TOTP, authenticator enrolment, logout and password change."""

from __future__ import annotations

from datetime import datetime

import segno
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup

from referrals.blueprints.auth import bp
from referrals.blueprints.auth.forms import ChangePasswordForm, LoginForm, SecondFactorForm
from referrals.extensions import db, limiter
from referrals.models import SessionEndReason, User, utcnow
from referrals.security import safe_next_url
from referrals.services import ServiceError
from referrals.services.accounts import check_password_strength, login_sessions
from referrals.services.accounts.passwords import verify_password

PENDING_KEY = "pending_login"


def login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _pending_user() -> User | None:
    """The user who passed the password step in this browser, within the allowed time."""
    pending = session.get(PENDING_KEY)
    if not pending:
        return None
    started = datetime.fromisoformat(pending["started"])
    if utcnow() - started > current_app.config["PENDING_LOGIN_TIMEOUT"]:
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(User, pending["user_id"])
    if user is None or not user.is_active or login_sessions.is_locked(user):
        session.pop(PENDING_KEY, None)
        return None
    return user


def _finish_login(user: User):
    """Both factors passed: a brand-new cookie session bound to a new server-side token."""
    next_url = session.get(PENDING_KEY, {}).get("next")
    login_sessions.start_session(user)
    session.clear()
    login_user(user)
    return redirect(safe_next_url(next_url))


def _submit_code(user: User, form: SecondFactorForm, check_code):
    """Handle a posted code: log in when `check_code` accepts it, else explain or lock out.

    Returns a response to send, or None to show the form again with its errors.
    """
    if not form.validate_on_submit():
        return None
    if user.totp_confirmed_at is not None and not user.totp_secret:
        # Stored under another encryption key: no code can be checked until an admin resets it.
        form.code.errors.append(
            _(
                "Your authenticator app can no longer be checked here. Ask your administrator "
                "to reset it; you then set it up again at your next login."
            )
        )
        return None
    if check_code(user, form.code.data):
        return _finish_login(user)
    if login_sessions.is_locked(user):
        session.pop(PENDING_KEY, None)
        flash(_("Too many failed attempts. This account is locked for a while."), "error")
        return redirect(url_for("auth.login"))
    form.code.errors.append(_("This code is not valid. Wait for a new code and try again."))
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        check = login_sessions.check_password(form.email.data, form.password.data)
        if check.ok:
            session.clear()
            session[PENDING_KEY] = {
                "user_id": check.user.id,
                "started": utcnow().isoformat(),
                "next": safe_next_url(request.args.get("next")),
            }
            if check.user.totp_confirmed_at is None:
                return redirect(url_for("auth.enrol"))
            return redirect(url_for("auth.second_factor"))
        # One answer for every refusal: it must not tell whether the account exists or is locked.
        form.form_errors.append(
            _(
                "The e-mail address or password is not correct. After too many failed attempts "
                "from this device, logging in is also refused here for up to an hour."
            )
        )
    return render_template("auth/login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def second_factor():
    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if user.totp_confirmed_at is None:
        return redirect(url_for("auth.enrol"))
    form = SecondFactorForm()
    # The page is there for the code alone: the cursor starts in it (not on the enrol page,
    # where the instructions come first).
    form.code.render_kw = {**form.code.render_kw, "autofocus": True}
    response = _submit_code(user, form, login_sessions.verify_second_factor)
    if response is not None:
        return response
    return render_template("auth/second_factor.html", form=form)


@bp.route("/login/authenticator", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def enrol():
    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if user.totp_confirmed_at is not None:
        return redirect(url_for("auth.second_factor"))
    if user.totp_secret is None:
        user.totp_secret = login_sessions.new_totp_secret()
    form = SecondFactorForm()
    response = _submit_code(user, form, login_sessions.confirm_enrolment)
    if response is not None:
        return response
    uri = login_sessions.provisioning_uri(user, user.totp_secret)
    qr_svg = segno.make(uri, error="m").svg_inline(
        scale=5, dark="#000000", light="#ffffff", title=_("QR code for your authenticator app")
    )
    secret_groups = " ".join(
        user.totp_secret[i : i + 4] for i in range(0, len(user.totp_secret), 4)
    )
    return render_template(
        "auth/enrol.html",
        form=form,
        # segno draws the SVG from the otpauth URI alone; no user input reaches it unescaped.
        qr_svg=Markup(qr_svg),  # noqa: S704
        secret=secret_groups,
    )


@bp.post("/logout")
def logout():
    login_sessions.end_session(current_user.session_token, SessionEndReason.LOGOUT)
    logout_user()
    session.clear()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        min_length = current_app.config["PASSWORD_MIN_LENGTH"]
        try:
            if not verify_password(user.password_hash, form.current_password.data):
                raise ServiceError(_("This is not your current password."), "current_password")
            check_password_strength(form.new_password.data, min_length)
            if form.new_password.data == form.current_password.data:
                raise ServiceError(
                    _("Choose a password different from the current one."), "new_password"
                )
        except ServiceError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            login_sessions.change_password(user, form.new_password.data)
            login_user(user)
            flash(
                _("Your password has been changed. Other sessions have been logged out."), "success"
            )
            return redirect(url_for("main.index"))
    return render_template(
        "auth/change_password.html",
        form=form,
        min_length=current_app.config["PASSWORD_MIN_LENGTH"],
    )
