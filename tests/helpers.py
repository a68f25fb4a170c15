"""Small helpers shared by test modules."""

from __future__ import annotations

import pyotp

from referrals.models import User
from tests.factories import PASSWORD


def text(response) -> str:
    return response.get_data(as_text=True)


def submit_password(client, email: str, password: str = PASSWORD, next_url: str | None = None):
    url = "/login" if next_url is None else f"/login?next={next_url}"
    return client.post(url, data={"email": email, "password": password})


def current_code(user: User) -> str:
    return pyotp.TOTP(user.totp_secret).now()


def log_in_through_pages(client, user: User, password: str = PASSWORD, next_url=None):
    """The real two-step login; returns the response to the code step."""
    first = submit_password(client, user.email, password, next_url)
    assert first.status_code == 302, text(first)
    assert first.headers["Location"] == "/login/code"
    return client.post("/login/code", data={"code": current_code(user)})
