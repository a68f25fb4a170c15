"""End to end in Chromium: a therapist runs a trajectory to its end, the GP reads the letter.

Three GP referrals of Huisartsenpraktijk De Duinen into the Noordwijk programme are set up
through the services (committed in the live server's database): offered to and accepted by
Eva Smit, the intakes recorded, all three in one of Eva's groups. In the browser Eva opens her
groups from the menu, logs a group session (one participant present with minutes and a Borg
score, one absent with notice), and sees it on the participant's trajectory page with the
chart; she enters the K10 intake questionnaire item by item and sees the score; she closes
the trajectory as completed with her advice, after checking the letter. The GP then opens
the referral, sees it completed with a link to the closing letter, and the letter (a PDF)
names the participant and carries the advice. axe-core checks every page on the way.

The live server (its own, on a freshly loaded database), Chromium and the helpers come from
tests/browser/conftest.py and support.py. Each demo account logs in only once in this module:
a TOTP code is accepted once per account.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from referrals.extensions import db
from referrals.models import (
    Attendance,
    Programme,
    Therapist,
    Trajectory,
    User,
    Weekday,
    local_today,
)
from referrals.services.referrals.intake import ParticipantDetails, ReferralDetails, submit_referral
from referrals.services.referrals.offers import accept_offer, offer_referral
from referrals.services.trajectories import record_intake
from referrals.services.trajectories.groups import add_member, create_group
from referrals.services.trajectories.training_sessions import (
    AttendanceEntry,
    log_session,
    planned_on,
)
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
PROGRAMME = "Runningtherapie op recept Noordwijk"
GROUP = "Zaterdaggroep Strandafslag"

# Names that occur nowhere else on the pages (not in the demo data, a place or an account).
PARTICIPANT = ("Wieteke", "Zonneveld")
OTHERS = [("Hidde", "Oosterhuis"), ("Femke", "Lammertsma")]
DONE_RUN_MIN, DONE_TOTAL_MIN, BORG = 4, 31, 14
K10_ANSWERS = (3, 2, 3, 2, 2, 1, 3, 3, 2, 2)  # 1-5 per item: 23, moderate risk
ADVICE = "Blijf twee keer per week lopen met de beginnersgroep van de atletiekvereniging."


@dataclass(frozen=True)
class Setup:
    referral_id: int
    reference: str
    trajectory_id: int
    absent_trajectory_id: int
    other_trajectory_id: int
    group_id: int


def _accepted_with_intake(cast: dict, first_name: str, last_name: str, born: date) -> Trajectory:
    referral = submit_referral(
        referrer=cast["gp"],
        programme=cast["programme"],
        participant=ParticipantDetails(
            first_name=first_name,
            last_name=last_name,
            date_of_birth=born,
            postcode="2202 AB",
            phone="06 23456789",
        ),
        details=ReferralDetails(
            reasons=["stress"],
            description="Gespannen en moe; wil weer buiten bewegen.",
            preferred_form="group",
            preferred_days=["sat"],
            consent_to_refer=True,
            consent_share_progress=True,
        ),
    )
    offer = offer_referral(referral, cast["therapist"], actor=cast["coordinator"])
    accept_offer(offer, actor=cast["eva"])
    trajectory = db.session.scalars(
        sa.select(Trajectory).where(Trajectory.referral_id == referral.id)
    ).one()
    record_intake(
        trajectory,
        actor=cast["eva"],
        intake_on=local_today() - timedelta(days=14),
        can_walk_min=30,
        can_run_min=1,
        remarks="",
        template="standard",
    )
    return trajectory


@pytest.fixture(scope="module")
def setup(live_server: LiveServer) -> Setup:
    """Three accepted referrals of Eva with their intakes, in one group, committed."""
    with live_server.app.app_context():
        try:

            def user(email: str) -> User:
                return db.session.scalar(sa.select(User).where(User.email == email))

            cast = {
                "gp": user(GP),
                "coordinator": user(NOORDWIJK_COORDINATOR),
                "eva": user(EVA),
                "therapist": db.session.scalar(
                    sa.select(Therapist).join(User).where(User.email == EVA)
                ),
                "programme": db.session.scalar(
                    sa.select(Programme).where(Programme.name == PROGRAMME)
                ),
            }
            trajectory = _accepted_with_intake(cast, *PARTICIPANT, date(1984, 2, 29))
            absent, other = (
                _accepted_with_intake(cast, first, last, date(1990 + n, 4, 1))
                for n, (first, last) in enumerate(OTHERS)
            )
            group = create_group(
                cast["therapist"],
                actor=cast["eva"],
                name=GROUP,
                weekday=Weekday.SATURDAY,
                starts_at=time(9, 30),
                meeting_place="Strandafslag Koningin Wilhelmina Boulevard",
                max_size=6,
            )
            for member in (trajectory, absent, other):
                add_member(group, member, actor=cast["eva"])
            # Three earlier sessions of the participant: with the one Eva logs in the browser,
            # four days attended, the least the programme's 12 sessions allow as completed.
            for days_ago in (14, 10, 6):
                held_on = local_today() - timedelta(days=days_ago)
                planned = planned_on(trajectory, held_on)
                entry = AttendanceEntry(
                    trajectory=trajectory,
                    attendance=Attendance.PRESENT,
                    done_run_min=planned.run_min,
                    done_total_min=planned.total_min,
                )
                log_session(cast["therapist"], actor=cast["eva"], held_on=held_on, entries=[entry])
            db.session.commit()
            return Setup(
                referral_id=trajectory.referral_id,
                reference=trajectory.referral.reference,
                trajectory_id=trajectory.id,
                absent_trajectory_id=absent.id,
                other_trajectory_id=other.id,
                group_id=group.id,
            )
        finally:
            db.session.remove()


@pytest.fixture(scope="module")
def eva_page(open_page: Callable[[], Page], setup: Setup, axe: Axe) -> Page:
    """Eva, logged in once for the whole module."""
    page = open_page()
    log_in(page, axe, account(EVA))
    return page


def trajectory_path(setup: Setup) -> str:
    return f"/trajectories/{setup.trajectory_id}"


def expect_flash(page: Page) -> None:
    expect(page.locator("main .flash-messages")).to_be_visible()


@pytest.fixture(scope="module")
def session_logged(eva_page: Page, setup: Setup, axe: Axe) -> Page:
    """Eva logs a group session from her groups page; the page is the participant's after."""
    page = eva_page
    page.locator('header nav a[href="/groups"]').click()
    expect(page).to_have_url(re.compile(r"/groups$"))
    group_path = f"/groups/{setup.group_id}"
    group_link = page.locator(f'main table.data a[href="{group_path}"]')
    expect(group_link).to_have_text(GROUP)
    assert_accessible(axe, page)

    group_link.click()
    expect(page).to_have_url(re.compile(rf"{re.escape(group_path)}$"))
    expect(page.locator("main h1")).to_have_text(GROUP)
    expect(page.locator("main table.data tbody tr")).to_have_count(3)
    assert_accessible(axe, page)

    page.locator(f'main a[href="{group_path}/sessions/new"]').click()
    expect(page).to_have_url(re.compile(rf"{re.escape(group_path)}/sessions/new$"))
    expect(page.locator("main fieldset.session-row")).to_have_count(3)
    assert_accessible(axe, page)

    present = f"m{setup.trajectory_id}-"
    page.locator(f'input[name="{present}attendance"][value="present"]').check()
    page.locator(f'input[name="{present}done_run_min"]').fill(str(DONE_RUN_MIN))
    page.locator(f'input[name="{present}done_total_min"]').fill(str(DONE_TOTAL_MIN))
    page.locator(f'input[name="{present}borg"]').fill(str(BORG))
    # Absent with notice: no minutes (the form suggests the plan's), no Borg score.
    absent = f"m{setup.absent_trajectory_id}-"
    page.locator(f'input[name="{absent}attendance"][value="excused"]').check()
    page.locator(f'input[name="{absent}done_run_min"]').fill("")
    page.locator(f'input[name="{absent}done_total_min"]').fill("")
    # The third member was there and did what the plan asked (the suggested minutes).
    other = f"m{setup.other_trajectory_id}-"
    page.locator(f'input[name="{other}attendance"][value="present"]').check()
    page.locator("main form button[type=submit]").click()

    expect(page).to_have_url(re.compile(rf"{re.escape(group_path)}$"))
    expect_flash(page)
    page.locator(f'main table.data a[href="{trajectory_path(setup)}"]').click()
    expect(page).to_have_url(re.compile(rf"{re.escape(trajectory_path(setup))}$"))
    return page


def test_therapist_logs_a_group_session_and_sees_it_on_the_trajectory(
    session_logged: Page, live_server: LiveServer, setup: Setup, axe: Axe
):
    page = session_logged
    expect(page.locator("main .progress-chart svg")).to_have_count(1)
    last_sessions = page.locator("main table.data").filter(
        has=page.locator("caption", has_text=live_server.translate("Last sessions"))
    )
    row = last_sessions.locator("tbody tr").first
    cells = row.locator("td")
    expect(cells.nth(1)).to_contain_text(GROUP)
    expect(cells.nth(2)).to_have_text(live_server.translate("present"))
    expect(cells.nth(3)).to_contain_text(f"/ {DONE_RUN_MIN}")
    expect(cells.nth(4)).to_contain_text(f"/ {DONE_TOTAL_MIN}")
    expect(cells.nth(5)).to_have_text(str(BORG))
    assert_accessible(axe, page)

    # The Borg score was noted wrongly: Eva corrects the logged session and returns here.
    row.locator('a[href*="/edit"]').click()
    expect(page).to_have_url(re.compile(r"/sessions/\d+/edit\?trajectory=\d+$"))
    assert_accessible(axe, page)
    page.locator(f'input[name="m{setup.trajectory_id}-borg"]').fill(str(BORG + 1))
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(trajectory_path(setup))}(#progress)?$"))
    expect(last_sessions.locator("tbody tr").first.locator("td").nth(5)).to_have_text(str(BORG + 1))
    assert_accessible(axe, page)


@pytest.fixture(scope="module")
def questionnaire_entered(session_logged: Page, setup: Setup, axe: Axe) -> Page:
    """Eva enters the K10 at the intake item by item; the page is the trajectory page after."""
    page = session_logged
    form_path = f"{trajectory_path(setup)}/questionnaires/intake/k10"
    page.locator(f'main a[href="{form_path}"]').click()
    expect(page).to_have_url(re.compile(rf"{re.escape(form_path)}$"))
    expect(page.locator("main h1")).to_contain_text("K10")
    assert_accessible(axe, page)

    for number, value in enumerate(K10_ANSWERS, start=1):
        page.locator(f'input[name="item_{number}"][value="{value}"]').check()
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(trajectory_path(setup))}$"))
    expect_flash(page)
    return page


def test_therapist_enters_the_k10_and_sees_the_score(
    questionnaire_entered: Page, live_server: LiveServer, axe: Axe
):
    page = questionnaire_entered
    score = str(sum(K10_ANSWERS))
    expect(page.locator("main .flash-messages")).to_contain_text(score)
    k10 = page.locator("main section.questionnaires table.data").filter(
        has=page.locator("caption", has_text="K10")
    )
    intake_row = k10.locator("tbody tr").first
    expect(intake_row.locator("th")).to_have_text(live_server.translate("Intake"))
    expect(intake_row.locator("td").nth(1)).to_have_text(score)
    expect(intake_row.locator("td").nth(2)).to_have_text(
        live_server.translate("Moderate risk of anxiety or depression")
    )
    assert_accessible(axe, page)


@pytest.fixture(scope="module")
def closed_page(questionnaire_entered: Page, setup: Setup, axe: Axe) -> Page:
    """Eva closes the trajectory as completed with her advice."""
    page = questionnaire_entered
    close_path = f"{trajectory_path(setup)}/close"
    page.locator(f'main a[href="{close_path}"]').click()
    expect(page).to_have_url(re.compile(rf"{re.escape(close_path)}$"))
    expect(page.locator("main h1 .reference")).to_have_text(setup.reference)
    assert_accessible(axe, page)

    page.locator('input[name="outcome"][value="completed"]').check()
    page.locator('textarea[name="advice"]').fill(ADVICE)
    page.locator("main form button[type=submit]").click()
    # The check page: the letter as it will be sent; confirming closes.
    expect(page.locator("main #letter-preview")).to_contain_text(ADVICE)
    assert_accessible(axe, page)
    page.locator('main button[name="confirm"]').click()
    expect(page).to_have_url(re.compile(rf"{re.escape(trajectory_path(setup))}$"))
    expect_flash(page)
    return page


def test_therapist_closes_the_trajectory_as_completed(
    closed_page: Page, setup: Setup, live_server: LiveServer, axe: Axe
):
    page = closed_page
    outcome = page.locator("main dl.summary", has_text=ADVICE)
    expect(outcome).to_contain_text(live_server.translate("Completed"))
    letter = outcome.locator(f'a[href="/trajectories/{setup.trajectory_id}/letter.pdf"]')
    expect(letter).to_have_count(1)
    # Closed: no more sessions, questionnaires or closing from this page.
    expect(page.locator(f'main a[href="{trajectory_path(setup)}/close"]')).to_have_count(0)
    expect(page.locator(f'main a[href="{trajectory_path(setup)}/sessions/new"]')).to_have_count(0)
    assert_accessible(axe, page)


def pdf_text(data: bytes) -> str:
    """The PDF's text with runs of whitespace (line breaks too) as one space."""
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())


def test_gp_sees_the_referral_completed_and_reads_the_closing_letter(
    open_page: Callable[[], Page], closed_page: Page, setup: Setup, axe: Axe
):
    page = open_page()
    log_in(page, axe, account(GP))

    page.locator('header nav a[href="/referrals"]').click()
    expect(page).to_have_url(re.compile(r"/referrals$"))
    link = page.locator("main table.data tbody").get_by_role(
        "link", name=setup.reference, exact=True
    )
    expect(link).to_have_count(1)
    assert_accessible(axe, page)
    link.click()

    expect(page).to_have_url(re.compile(rf"/referrals/{setup.referral_id}$"))
    expect(page.locator("main h1 .reference")).to_have_text(setup.reference)
    expect(page.locator("main .state")).to_have_class(re.compile(r"\bstate--completed\b"))
    letter_link = page.locator(f'main a[href="/referrals/{setup.referral_id}/letter.pdf"]')
    expect(letter_link).to_have_count(1)
    assert_accessible(axe, page)

    # The letter as the link serves it, with the GP's session cookie.
    response = page.request.get(letter_link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    letter = pdf_text(response.body())
    assert PARTICIPANT[0] in letter
    assert ADVICE in letter
    assert path_of(page) == f"/referrals/{setup.referral_id}"
