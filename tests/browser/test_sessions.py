"""End to end in Chromium: a group's logged sessions, the optional script that empties an absent
member's minutes, the question for a session close to another, and deleting a session.

Eva Smit's demo group has sessions on the last Tuesdays. In the browser she opens the group,
sees them listed newest first, logs one more the day after the latest (marking a member absent:
the script empties the minutes, present again brings them back), confirms it is another
session, and deletes it again after its confirmation page. axe-core checks every page.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from referrals.demo_trajectories import GROUP_NAME
from referrals.extensions import db
from referrals.models import TrainingGroup, TrainingSession
from tests.browser.support import LiveServer, account, assert_accessible, log_in

EVA = "eva@runningtherapiekust.example"


@pytest.fixture(scope="module")
def demo_group(live_server: LiveServer) -> tuple[int, list[date]]:
    """The demo group's id and its session days, newest first."""
    with live_server.app.app_context():
        try:
            group = db.session.scalar(
                sa.select(TrainingGroup).where(TrainingGroup.name == GROUP_NAME)
            )
            days = db.session.scalars(
                sa.select(TrainingSession.held_on)
                .where(TrainingSession.group_id == group.id)
                .order_by(TrainingSession.held_on.desc())
            ).all()
            return group.id, list(days)
        finally:
            db.session.remove()


def session_rows(page: Page):
    return page.locator("#sessions + table tbody tr")


def test_a_session_is_listed_questioned_and_deleted(
    page: Page, axe: Axe, live_server: LiveServer, demo_group
):
    group_id, days = demo_group
    assert len(days) >= 2
    log_in(page, axe, account(EVA))
    page.goto(f"/groups/{group_id}")
    expect(session_rows(page)).to_have_count(len(days))
    first_link = session_rows(page).first.locator("a")
    expect(first_link).to_have_attribute("href", re.compile(r"^/sessions/\d+/edit$"))
    assert_accessible(axe, page)

    page.goto(f"/groups/{group_id}/sessions/new")
    row = page.locator("fieldset.session-row").first
    run = row.locator('input[name$="-done_run_min"]')
    suggested = run.input_value()
    assert suggested != ""
    row.locator('input[name$="-attendance"][value="excused"]').check()
    expect(run).to_have_value("")  # the script emptied it
    row.locator('input[name$="-attendance"][value="present"]').check()
    expect(run).to_have_value(suggested)  # and brings it back

    day_after = date.fromordinal(days[0].toordinal() + 1)
    page.locator('input[name="held_on"]').fill(day_after.isoformat())
    page.locator("main form button[type=submit]").click()
    confirm = page.locator('input[name="confirm_near"]')
    expect(confirm).to_be_visible()
    expect(page.locator("#confirm_near-error")).to_be_visible()
    assert_accessible(axe, page)
    confirm.check()
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/groups/{group_id}$"))
    expect(session_rows(page)).to_have_count(len(days) + 1)

    session_rows(page).first.locator("a").click()
    expect(page).to_have_url(re.compile(r"/sessions/\d+/edit$"))
    assert_accessible(axe, page)
    page.locator('main a[href$="/delete"]').click()
    expect(page).to_have_url(re.compile(r"/sessions/\d+/delete$"))
    assert_accessible(axe, page)
    page.locator("main form button.button--danger").click()
    expect(page).to_have_url(re.compile(rf"/groups/{group_id}$"))
    expect(session_rows(page)).to_have_count(len(days))
    assert_accessible(axe, page)
