"""End to end in Chromium: a GP refers a person, the programme's coordinator triages it.

A GP of Huisartsenpraktijk De Duinen walks the referral form through the real pages: a
postcode outside the programme's area is refused next to the field with everything else kept,
the corrected form is submitted and the referral shows up in the GP's list. The Noordwijk
coordinator finds it in the triage queue; the Lelystad coordinator does not. A municipal
social-team referrer gets the form without a BSN field. axe-core checks every page on the way.

The live server (its own, on a freshly loaded database), Chromium and the helpers come from
tests/browser/conftest.py and support.py. Each demo account logs in only once in this module:
a TOTP code is accepted once per account.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.support import (
    account,
    assert_accessible,
    log_in,
    path_of,
)

REFERENCE = re.compile(r"RT-\d{4}-\d{6}")
REFERRAL_PAGE = re.compile(r"/referrals/\d+$")
FORM_PAGE = re.compile(r"/referrals/new/\d+$")

GP = "huisarts@deduinen.example"
NOORDWIJK_COORDINATOR = "coordinator@noordwijk.example"
LELYSTAD_COORDINATOR = "coordinator@lelystad.example"
LELYSTAD_SOCIAL_TEAM = "sociaalteam@lelystad.example"

# What the GP types; the postcode is first one outside the programme (2200-2204, 2210-2211).
OUTSIDE_AREA = "3511 AB"
INSIDE_AREA = "2201 AB"
TEXT_FIELDS = {
    "first_name": "Marieke",
    "last_name": "van Dijk",
    "date_of_birth": "1985-06-15",
    "phone": "06 12345678",
    "bsn": "111222333",
}
DESCRIPTION = "Slaapt slecht sinds een reorganisatie op het werk; wil weer in beweging komen."
REASONS = ["stress", "low_mood"]
PREFERRED_FORM = "group"
DAYS = ["tue", "thu"]


@pytest.fixture(scope="module")
def gp_page(open_page: Callable[[], Page], axe: Axe) -> Page:
    """The GP of De Duinen, logged in through the real password and code pages."""
    page = open_page()
    log_in(page, axe, account(GP))
    return page


@dataclass(frozen=True)
class SubmittedReferral:
    reference: str
    path: str


def fill_referral_form(page: Page, postcode: str) -> None:
    for name, value in TEXT_FIELDS.items():
        page.locator(f"input[name={name}]").fill(value)
    page.locator("input[name=postcode]").fill(postcode)
    for reason in REASONS:
        page.locator(f"input[name=reasons][value={reason}]").check()
    page.locator("textarea[name=description]").fill(DESCRIPTION)
    page.locator(f"input[name=preferred_form][value={PREFERRED_FORM}]").check()
    for day in DAYS:
        page.locator(f"input[name=preferred_days][value={day}]").check()
    page.locator("input[name=consent_to_refer]").check()


def submit(page: Page) -> None:
    page.locator("main form button[type=submit]").click()


def expect_typed_values_kept(page: Page) -> None:
    for name, value in TEXT_FIELDS.items():
        expect(page.locator(f"input[name={name}]")).to_have_value(value)
    expect(page.locator("textarea[name=description]")).to_have_value(DESCRIPTION)
    for reason in REASONS:
        expect(page.locator(f"input[name=reasons][value={reason}]")).to_be_checked()
    expect(page.locator("input[name=reasons][value=burnout]")).not_to_be_checked()
    expect(page.locator(f"input[name=preferred_form][value={PREFERRED_FORM}]")).to_be_checked()
    for day in DAYS:
        expect(page.locator(f"input[name=preferred_days][value={day}]")).to_be_checked()
    expect(page.locator("input[name=preferred_days][value=mon]")).not_to_be_checked()
    expect(page.locator("input[name=consent_to_refer]")).to_be_checked()


@pytest.fixture(scope="module")
def gp_referral(gp_page: Page, axe: Axe) -> SubmittedReferral:
    """The GP refers a person: the home page's card, a refused postcode, then the fixed form."""
    page = gp_page
    page.goto("/")
    # "Refer a person" on the home page; with one programme it leads straight to the form.
    page.locator('main .card a[href="/referrals/new"]').click()
    expect(page).to_have_url(FORM_PAGE)
    form_path = path_of(page)
    expect(page.locator("input[name=bsn]")).to_be_visible()  # a GP practice may send a BSN
    expect(page.locator("main .field__error")).to_have_count(0)
    assert_accessible(axe, page)

    fill_referral_form(page, postcode=OUTSIDE_AREA)
    submit(page)

    # Refused: the same form again, one error, tied to and placed with the postcode field.
    assert path_of(page) == form_path
    postcode = page.locator("input[name=postcode]")
    error = page.locator("#postcode-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("2200-2204")  # the message names the programme's area
    postcode_field = page.locator("main .field", has=postcode)
    expect(postcode_field.locator("#postcode-error")).to_have_count(1)
    expect(postcode).to_have_attribute("aria-invalid", "true")
    expect(postcode).to_have_attribute("aria-describedby", re.compile(r"\bpostcode-error\b"))
    expect(page.locator("main .field__error")).to_have_count(1)
    expect(page.locator('main [role=alert] a[href="#postcode"]')).to_have_count(1)
    expect(postcode).to_have_value(OUTSIDE_AREA)
    expect_typed_values_kept(page)
    assert_accessible(axe, page)

    # Nothing else needs retyping: only the postcode is corrected.
    postcode.fill(INSIDE_AREA)
    submit(page)

    expect(page).to_have_url(REFERRAL_PAGE)
    heading_reference = page.locator("main h1 .reference")
    expect(heading_reference).to_have_text(REFERENCE)
    reference = heading_reference.inner_text().strip()
    return SubmittedReferral(reference=reference, path=path_of(page))


def test_gp_refers_a_person_and_finds_the_referral_in_their_list(
    gp_page: Page, gp_referral: SubmittedReferral, axe: Axe
):
    page = gp_page
    assert REFERENCE.fullmatch(gp_referral.reference)
    # The page after submitting: the confirmation and what was sent, BSN included for the GP.
    assert path_of(page) == gp_referral.path
    expect(page.locator("main [role=status]")).to_contain_text(gp_referral.reference)
    summary = page.locator("main dl.summary")
    expect(summary.first).to_contain_text(f"{TEXT_FIELDS['first_name']} {TEXT_FIELDS['last_name']}")
    expect(summary.first).to_contain_text(INSIDE_AREA)
    expect(summary.first).to_contain_text(TEXT_FIELDS["bsn"])
    expect(summary.nth(1)).to_contain_text(DESCRIPTION)
    assert_accessible(axe, page)

    page.locator('header nav a[href="/referrals"]').click()
    expect(page).to_have_url(re.compile(r"/referrals$"))
    link = page.locator("main table tbody").get_by_role(
        "link", name=gp_referral.reference, exact=True
    )
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", gp_referral.path)
    assert_accessible(axe, page)


def test_programme_coordinator_finds_the_referral_in_the_triage_queue(
    open_page: Callable[[], Page], gp_referral: SubmittedReferral, axe: Axe
):
    page = open_page()
    log_in(page, axe, account(NOORDWIJK_COORDINATOR))

    page.locator('header nav a[href="/triage"]').click()
    expect(page).to_have_url(re.compile(r"/triage$"))
    link = page.locator("main table tbody").get_by_role(
        "link", name=gp_referral.reference, exact=True
    )
    expect(link).to_have_count(1)
    assert_accessible(axe, page)

    link.click()
    expect(page).to_have_url(re.compile(rf"{re.escape(gp_referral.path)}$"))
    expect(page.locator("main h1 .reference")).to_have_text(gp_referral.reference)
    expect(page.locator("main")).to_contain_text(DESCRIPTION)
    expect(page.locator("main")).not_to_contain_text(TEXT_FIELDS["bsn"])  # for referrers only
    assert_accessible(axe, page)


def test_coordinator_of_another_programme_does_not_see_the_referral(
    open_page: Callable[[], Page], gp_referral: SubmittedReferral, axe: Axe
):
    page = open_page()
    log_in(page, axe, account(LELYSTAD_COORDINATOR))

    page.locator('header nav a[href="/triage"]').click()
    expect(page).to_have_url(re.compile(r"/triage$"))
    expect(page.locator("main table.data").first).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(gp_referral.reference)
    expect(page.locator("main table tbody a.reference")).to_have_count(0)

    # Not by its address either: another programme's referral does not exist for them.
    response = page.goto(gp_referral.path)
    assert response is not None and response.status == 404
    expect(page.locator("main")).not_to_contain_text(gp_referral.reference)


def test_social_team_referrer_gets_the_form_without_a_bsn_field(
    open_page: Callable[[], Page], axe: Axe
):
    page = open_page()
    log_in(page, axe, account(LELYSTAD_SOCIAL_TEAM))

    # Referrals in the menu, then "New referral"; one programme, so straight to the form.
    page.locator('header nav a[href="/referrals"]').click()
    expect(page).to_have_url(re.compile(r"/referrals$"))
    page.locator('main a[href="/referrals/new"]').click()
    expect(page).to_have_url(FORM_PAGE)

    expect(page.locator("input[name=first_name]")).to_be_visible()
    expect(page.locator("input[name=postcode]")).to_be_visible()
    expect(page.locator("input[name=bsn]")).to_have_count(0)
    assert_accessible(axe, page)
