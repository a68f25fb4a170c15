"""End to end in Chromium: the real login pages for every role, logout, and axe-core on each page.

A live server runs the app in a background thread on its own database (migrated, demo data
loaded), so what the browser sees is committed data, not the rolled-back test transaction.
Chromium is Debian's (/usr/bin/chromium); nothing is downloaded. A missing browser fails
the test, it never skips.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_migrate import upgrade
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from werkzeug.serving import make_server

from referrals.demo import ACCOUNTS, DEMO_PASSWORD, DemoAccount, load_demo_data
from referrals.extensions import db, limiter
from referrals.models import Role, User
from tests.conftest import make_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
TIMEOUT_MS = 10_000

EMAIL_LABEL = re.compile(r"e-?mail", re.IGNORECASE)  # "E-mailadres" / "E-mail address"
PASSWORD_LABEL = re.compile(r"wachtwoord|password", re.IGNORECASE)
LOGOUT_BUTTON = re.compile(r"uitloggen|afmelden|log out", re.IGNORECASE)

# What only this role's home page shows, as an untranslated message id (see main/index.html).
ROLE_CARD = {
    Role.REFERRER: "Refer a person",
    Role.COORDINATOR: "Triage the queue",
    Role.THERAPIST: "Your offers",
    Role.OFFICER: "Programme dashboards",
}
ADMIN_PAGES = ["/admin/organisations", "/admin/users", "/admin/audit/"]


def first_account(role: Role) -> DemoAccount:
    return next(account for account in ACCOUNTS if account.role == role)


class LiveServer:
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


@pytest.fixture(scope="module")
def live_server(databases) -> Iterator[LiveServer]:
    # CSRF is on here, as in production: the browser posts the real forms with their tokens.
    app = make_app(databases.new("browser"), WTF_CSRF_ENABLED=True)
    # The session factory is shared by every app; put it back to SQLAlchemy's defaults in case
    # a test that used conftest's `db` fixture ran earlier and left its own settings on it.
    db.session.session_factory.configure(bind=None, join_transaction_mode="conditional_savepoint")
    with app.app_context():
        upgrade()
        load_demo_data()
        db.session.commit()
        db.session.remove()
        limiter.reset()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"Chromium not found at {CHROMIUM}; install Debian's chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: no cookies, no language choice."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


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


def test_anonymous_visitor_of_a_protected_page_lands_on_login(page: Page, axe: Axe):
    page.goto("/admin/users")

    assert path_of(page) == "/login"
    expect(page.locator("input[name=email]")).to_be_visible()
    assert_accessible(axe, page)


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_each_role_logs_in_and_sees_its_home_page(
    page: Page, axe: Axe, live_server: LiveServer, role: Role
):
    account = first_account(role)
    log_in(page, axe, account)

    main = page.locator("main")
    expect(main.locator("h1")).to_contain_text(account.name)
    admin_links = main.locator('a[href^="/admin/"]')
    if role == Role.ADMIN:
        expect(main.locator('a[href="/admin/audit/"]')).to_have_count(1)
        expect(main.locator('a[href="/admin/users"]')).to_have_count(1)
        expect(main.locator('a[href="/admin/organisations"]')).to_have_count(1)
    else:
        expect(admin_links).to_have_count(0)
        expect(page.locator('header a[href^="/admin/"]')).to_have_count(0)
        expect(main.locator("p.lead")).to_contain_text(live_server.organisation_name(account.email))
        expect(main.locator(".card h3").first).to_have_text(live_server.translate(ROLE_CARD[role]))
    assert_accessible(axe, page)

    if role == Role.ADMIN:
        for target in ADMIN_PAGES:
            page.locator(f'header nav a[href="{target}"]').click()
            expect(page).to_have_url(re.compile(rf"{re.escape(target)}$"))
            expect(page.locator("main h1")).to_be_visible()
            assert_accessible(axe, page)


def test_logout_ends_the_session(page: Page, axe: Axe):
    # Another account than the one per role above: a TOTP code is accepted only once.
    account = [a for a in ACCOUNTS if a.role == Role.REFERRER][1]
    log_in(page, axe, account)

    page.locator("header").get_by_role("button", name=LOGOUT_BUTTON).click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("main [role=status]")).to_be_visible()  # "You have been logged out."
    assert_accessible(axe, page)

    page.goto("/")
    assert path_of(page) == "/login"
