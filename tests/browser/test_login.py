"""End to end in Chromium: the real login pages for every role, logout, and axe on each page."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from referrals.demo import ACCOUNTS
from referrals.models import Role
from tests.browser.support import LiveServer, assert_accessible, first_account, log_in, path_of

LOGOUT_BUTTON = re.compile(r"uitloggen|afmelden|log out", re.IGNORECASE)

# What only this role's home page shows, as an untranslated message id (see main/index.html).
ROLE_CARD = {
    Role.REFERRER: "Refer a person",
    Role.COORDINATOR: "Triage the queue",
    Role.THERAPIST: "Your offers",
    Role.OFFICER: "Programme dashboards",
}
ADMIN_PAGES = ["/admin/organisations", "/admin/users", "/admin/audit/"]


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
