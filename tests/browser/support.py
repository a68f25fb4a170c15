"""What the browser tests share besides fixtures: the demo accounts, logging in through the real
pages, and axe-core's WCAG 2.1 A/AA check of the page in view."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pyotp
from axe_playwright_python.sync_playwright import Axe
from flask_babel import force_locale
from flask_babel import gettext as _
from playwright.sync_api import Page, expect

from referrals.demo import ACCOUNTS, DEMO_PASSWORD, DemoAccount
from referrals.extensions import db
from referrals.models import Role, User

TIMEOUT_MS = 10_000
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
EMAIL_LABEL = re.compile(r"e-?mail", re.IGNORECASE)  # "E-mailadres" / "E-mail address"
PASSWORD_LABEL = re.compile(r"wachtwoord|password", re.IGNORECASE)


class LiveServer:
    """The app served on a port of its own, on a database of its own with the demo data."""

    def __init__(self, app, url: str):
        self.app = app
        self.url = url

    def translate(self, message: str) -> str:
        """`message` as the browser sees it: in the default language, compiled catalogue or not."""
        with self.app.test_request_context(), force_locale(self.app.config["BABEL_DEFAULT_LOCALE"]):
            return _(message)

    def organisation_name(self, email: str) -> str:
        with self.app.app_context():
            try:
                user = db.session.scalar(db.select(User).where(User.email == email))
                return user.organisation.name
            finally:
                db.session.remove()


def account(email: str) -> DemoAccount:
    return next(a for a in ACCOUNTS if a.email == email)


def first_account(role: Role) -> DemoAccount:
    return next(a for a in ACCOUNTS if a.role == role)


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def assert_accessible(axe: Axe, page: Page) -> None:
    """No WCAG 2.0/2.1 A or AA violation that axe-core can detect on the current page."""
    results = axe.run(page, options=AXE_OPTIONS)
    violations = results.response["violations"]
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} [{v['helpUrl']}]\n"
        + "\n".join(
            f"    {', '.join(map(str, node['target']))}: {node['html']}" for node in v["nodes"]
        )
        for v in violations
    )
    assert not violations, f"axe found accessibility problems on {page.url}:\n{report}"


def log_in(page: Page, axe: Axe, account: DemoAccount) -> None:
    """Password, then the TOTP code, through the real pages; checks both pages with axe."""
    page.goto("/login")
    assert path_of(page) == "/login"
    assert_accessible(axe, page)
    page.get_by_label(EMAIL_LABEL).fill(account.email)
    page.get_by_label(PASSWORD_LABEL).fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/login/code$"))
    assert_accessible(axe, page)
    page.locator("input[name=code]").fill(pyotp.TOTP(account.totp_secret).now())
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"^[^?#]*://[^/]+/$"))
