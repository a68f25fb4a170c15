"""End to end in Chromium: a coordinator offers a referral, the therapist accepts, the GP sees it.

A GP referral of Huisartsenpraktijk De Duinen into the Noordwijk programme is set up through
the intake service (committed in the live server's database). The Noordwijk coordinator finds
it in the triage queue, sees Eva Smit in the ranked list with why, and offers it to her; the
referral moves to the open offers. Eva finds the offer in her inbox and sees only the first
name until she accepts; then the full details. The GP opens the referral and sees it
accepted, with Eva as the therapist. axe-core checks every page on the way.

The live server (its own, on a freshly loaded database), Chromium and the helpers come from
tests/browser/conftest.py and support.py. Each demo account logs in only once in this module:
a TOTP code is accepted once per account.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from referrals.extensions import db
from referrals.models import Programme, Therapist, User
from referrals.services.referrals.intake import ParticipantDetails, ReferralDetails, submit_referral
from referrals.services.therapists.geo import load_pc4_areas
from tests.browser.support import (
    LiveServer,
    account,
    assert_accessible,
    log_in,
    path_of,
)

GP = "huisarts@deduinen.example"
NOORDWIJK_COORDINATOR = "coordinator@noordwijk.example"
EVA = "eva@runningtherapiekust.example"
EVA_NAME = "Eva Smit"
PROGRAMME = "Runningtherapie op recept Noordwijk"

# Names that occur nowhere else on the pages (not in a programme, place or demo account).
FIRST_NAME = "Maud"
LAST_NAME = "Kwakernaak"
POSTCODE = "2201 AB"  # Noordwijk, the same PC4 as Eva's practice (2201 CK)

# "0,0 km · 8 van 8 plekken vrij · groep op di en do" / "0.0 km · 8 of 8 places free · ..."
EXPLANATION = re.compile(r"\d+[.,]\d\s*km.*\d+\s*(van|of|/)\s*\d+", re.IGNORECASE)


@dataclass(frozen=True)
class Setup:
    referral_id: int
    reference: str
    eva_therapist_id: int


@pytest.fixture(scope="module")
def setup(live_server: LiveServer) -> Setup:
    """The postcode centres (for distances) and a GP referral, committed in the live database."""
    with live_server.app.app_context():
        try:
            load_pc4_areas()
            referrer = db.session.scalar(sa.select(User).where(User.email == GP))
            programme = db.session.scalar(sa.select(Programme).where(Programme.name == PROGRAMME))
            referral = submit_referral(
                referrer=referrer,
                programme=programme,
                participant=ParticipantDetails(
                    first_name=FIRST_NAME,
                    last_name=LAST_NAME,
                    date_of_birth=date(1985, 6, 15),
                    postcode=POSTCODE,
                    phone="06 12345678",
                ),
                details=ReferralDetails(
                    reasons=["stress", "low_mood"],
                    description="Slaapt slecht sinds een reorganisatie op het werk.",
                    preferred_form="group",
                    preferred_days=["tue", "thu"],
                    consent_to_refer=True,
                    consent_share_progress=True,
                ),
            )
            eva = db.session.scalar(sa.select(Therapist).join(User).where(User.email == EVA))
            db.session.commit()
            return Setup(referral.id, referral.reference, eva.id)
        finally:
            db.session.remove()


def reference_link(page: Page, table_index: int, reference: str):
    return (
        page.locator("main table.data")
        .nth(table_index)
        .locator("tbody")
        .get_by_role("link", name=reference, exact=True)
    )


@pytest.fixture(scope="module")
def offered_page(open_page: Callable[[], Page], setup: Setup, axe: Axe) -> Page:
    """The coordinator matches the referral and offers it to Eva; the page is the queue after."""
    page = open_page()
    log_in(page, axe, account(NOORDWIJK_COORDINATOR))

    page.locator('header nav a[href="/triage"]').click()
    expect(page).to_have_url(re.compile(r"/triage$"))
    expect(reference_link(page, 0, setup.reference)).to_have_count(1)
    match_path = f"/triage/{setup.referral_id}/match"
    page.locator(f'main a[href="{match_path}"]').click()
    expect(page).to_have_url(re.compile(rf"{re.escape(match_path)}$"))
    expect(page.locator("main h1 .reference")).to_have_text(setup.reference)

    # Eva is ranked, with a line that says why: distance, free places, form and days.
    eva_form_selector = (
        f'form[action$="/triage/{setup.referral_id}/offer"]'
        f':has(input[type=hidden][name=therapist_id][value="{setup.eva_therapist_id}"])'
    )
    eva_form = page.locator(f"main {eva_form_selector}")
    expect(eva_form).to_have_count(1)
    eva_row = page.locator("main table.data tbody tr", has=page.locator(eva_form_selector))
    expect(eva_row.locator("td").nth(1)).to_contain_text(EVA_NAME)
    expect(eva_row.locator("td").nth(2)).to_have_text(EXPLANATION)
    expect(eva_form.locator("button[type=submit]")).to_contain_text(EVA_NAME)
    assert_accessible(axe, page)

    eva_form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/triage$"))
    return page


def test_coordinator_offers_the_referral_to_a_ranked_therapist(
    offered_page: Page, setup: Setup, axe: Axe
):
    page = offered_page
    assert path_of(page) == "/triage"
    # The confirmation names the referral and Eva.
    expect(page.locator("main .flash-messages")).to_contain_text(setup.reference)
    expect(page.locator("main .flash-messages")).to_contain_text(EVA_NAME)
    # No longer waiting for triage, but under the open offers, with Eva as the therapist.
    expect(reference_link(page, 0, setup.reference)).to_have_count(0)
    expect(page.locator(f'main a[href="/triage/{setup.referral_id}/match"]')).to_have_count(0)
    offered_link = reference_link(page, 1, setup.reference)
    by_reference = page.get_by_role("link", name=setup.reference, exact=True)
    expect(offered_link).to_have_count(1)
    offered_row = page.locator("main table.data").nth(1).locator("tbody tr", has=by_reference)
    expect(offered_row.locator("td").nth(1)).to_have_text(EVA_NAME)
    assert_accessible(axe, page)


@pytest.fixture(scope="module")
def accepted_page(
    open_page: Callable[[], Page], offered_page: Page, setup: Setup, axe: Axe
) -> Page:
    """Eva opens the offer from her inbox (first name only) and accepts it."""
    page = open_page()
    log_in(page, axe, account(EVA))

    page.locator('header nav a[href="/offers"]').click()
    expect(page).to_have_url(re.compile(r"/offers$"))
    link = reference_link(page, 0, setup.reference)
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", re.compile(r"^/offers/\d+$"))
    offer_path = link.get_attribute("href")
    by_reference = page.get_by_role("link", name=setup.reference, exact=True)
    offer_row = page.locator("main table.data").first.locator("tbody tr", has=by_reference)
    expect(offer_row).to_contain_text(FIRST_NAME)
    expect(page.locator("main")).not_to_contain_text(LAST_NAME)
    assert_accessible(axe, page)

    link.click()
    expect(page).to_have_url(re.compile(rf"{re.escape(offer_path)}$"))
    expect(page.locator("main h1 .reference")).to_have_text(setup.reference)
    participant = page.locator("main dl.summary").first
    expect(participant.locator("dd").first).to_have_text(FIRST_NAME)
    expect(page.locator("main")).not_to_contain_text(LAST_NAME)
    expect(page.locator("main")).not_to_contain_text("06 12345678")
    assert_accessible(axe, page)

    page.locator(f'main form[action="{offer_path}/accept"] button[type=submit]').click()
    expect(page).to_have_url(re.compile(rf"{re.escape(offer_path)}$"))
    expect(page.locator('main form[action$="/accept"]')).to_have_count(0)
    return page


def test_therapist_sees_the_full_details_after_accepting(accepted_page: Page, axe: Axe):
    page = accepted_page
    participant = page.locator("main dl.summary").first
    expect(participant.locator("dd").first).to_have_text(f"{FIRST_NAME} {LAST_NAME}")
    expect(participant).to_contain_text(POSTCODE)
    expect(participant).to_contain_text("06 12345678")
    expect(page.locator('main a[href$="/decline"]')).to_have_count(0)
    assert_accessible(axe, page)

    # The inbox now lists the participant under "Your participants", by full name.
    page.locator('header nav a[href="/offers"]').click()
    expect(page).to_have_url(re.compile(r"/offers$"))
    expect(page.locator("main table.data").nth(1)).to_contain_text(f"{FIRST_NAME} {LAST_NAME}")


def test_gp_sees_the_referral_accepted_by_the_therapist(
    open_page: Callable[[], Page], accepted_page: Page, setup: Setup, axe: Axe
):
    page = open_page()
    log_in(page, axe, account(GP))

    page.locator('header nav a[href="/referrals"]').click()
    expect(page).to_have_url(re.compile(r"/referrals$"))
    link = reference_link(page, 0, setup.reference)
    expect(link).to_have_count(1)
    row = page.locator(
        "main table.data tbody tr",
        has=page.get_by_role("link", name=setup.reference, exact=True),
    )
    expect(row.locator(".state")).to_have_class(re.compile(r"\bstate--accepted\b"))
    link.click()

    expect(page).to_have_url(re.compile(rf"/referrals/{setup.referral_id}$"))
    expect(page.locator("main h1 .reference")).to_have_text(setup.reference)
    expect(page.locator("main .state")).to_have_class(re.compile(r"\bstate--accepted\b"))
    referral_summary = page.locator("main dl.summary").nth(1)
    expect(referral_summary.locator("dd", has_text=EVA_NAME)).to_have_count(1)
    # The history shows each step: submitted, offered, accepted.
    expect(page.locator("main ol.timeline li")).to_have_count(3)
    assert_accessible(axe, page)
