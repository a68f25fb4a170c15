"""Keyset paging: the referral list walks from the newest to the oldest referral and back by
the links it shows, every referral once, also where two share a moment; a deep page is read
like the first (no OFFSET), and a cursor that is not one starts at the beginning."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from referrals.models import OrganisationKind, Role, utcnow
from tests import factories
from tests.helpers import text

LINK = re.compile(r'<a rel="(prev|next)" href="([^"]+)"')


def shown(page: str) -> list[int]:
    """The referral ids in the list's rows, in order."""
    return [int(i) for i in re.findall(r'<a class="reference" href="/referrals/(\d+)">', page)]


def links(page: str) -> dict[str, str]:
    return {rel: href.replace("&amp;", "&") for rel, href in LINK.findall(page)}


@pytest.fixture
def seven(app, db, login_as, monkeypatch):
    """Seven referrals of one coordinator's programme; the middle three at the same moment."""
    monkeypatch.setitem(app.config, "REFERRALS_PAGE_SIZE", 3)
    coordinator = factories.make_user(role=Role.COORDINATOR)
    referrer = factories.make_user(role=Role.REFERRER)
    programme = factories.make_programme(
        coordinators=[coordinator], referrers=[referrer.organisation]
    )
    base = utcnow() - timedelta(days=30)
    referrals = [
        factories.make_referral(programme=programme, referrer=referrer, last_name=f"Rij{n}")
        for n in range(7)
    ]
    for n, referral in enumerate(referrals):
        referral.submitted_at = base + timedelta(hours=3 if 2 <= n <= 4 else n)
    db.session.commit()
    login_as(user=coordinator)
    newest_first = sorted(referrals, key=lambda r: (r.submitted_at, r.id), reverse=True)
    return [r.id for r in newest_first]


def test_older_links_walk_every_referral_once_and_newer_links_walk_back(client, seven):
    pages, url = [], "/referrals"
    while url:
        page = text(client.get(url))
        pages.append(shown(page))
        url = links(page).get("next")
    assert pages == [seven[0:3], seven[3:6], seven[6:7]]
    # Back from the last page by "Newer": the same pages in reverse order.
    page = text(client.get("/referrals"))
    for _ in range(2):
        page = text(client.get(links(page)["next"]))
    back = []
    while "prev" in links(page):
        page = text(client.get(links(page)["prev"]))
        back.append(shown(page))
    assert back == [seven[3:6], seven[0:3]]
    assert "next" in links(page) and "prev" not in links(page)


def test_the_filters_ride_along_and_a_cursor_that_is_no_cursor_starts_at_the_top(client, seven):
    page = text(client.get("/referrals?state=submitted"))
    assert "state=submitted" in links(page)["next"]
    for garbage in ("x", "1.", "99999999999999999999.1", "-1.-1", "1.2.3"):
        assert shown(text(client.get(f"/referrals?after={garbage}"))) == seven[0:3]


def test_a_deep_page_is_read_from_a_cursor_not_an_offset(client, db, seven, queries):
    first = text(client.get("/referrals"))
    with queries() as on_first:
        client.get("/referrals")
    sent = []

    def listener(conn, cursor, statement, parameters, *args):
        sent.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        with queries() as on_second:
            client.get(links(first)["next"])
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    assert len(on_first.statements) == len(on_second.statements)
    (listing,) = [(s, p) for s, p in sent if "ORDER BY referrals.submitted_at DESC" in s]
    statement, parameters = listing
    # SQLite's dialect always writes "LIMIT ? OFFSET ?": then the offset given is 0.
    if "OFFSET" in statement.upper():
        assert db.engine.dialect.name == "sqlite" and parameters[-1] == 0


def test_the_programme_filter_offers_only_programmes_holding_the_users_referrals(
    app, client, db, login_as
):
    """Found by the page bench: the filter once offered every programme in the country."""
    referrer, other = (factories.make_user(role=Role.REFERRER) for _ in range(2))
    mine = factories.make_programme(name="Eigen programma", referrers=[referrer.organisation])
    theirs = factories.make_programme(name="Ander programma", referrers=[other.organisation])
    factories.make_referral(programme=mine, referrer=referrer)
    factories.make_referral(programme=theirs, referrer=other)
    db.session.commit()
    login_as(user=referrer)
    page = text(client.get("/referrals"))
    (select,) = re.findall(r'<select[^>]*id="programme".*?</select>', page, re.S)
    assert re.findall(r'<option value="(\d+)"', select) == [str(mine.id)]


def table_ids(page: str, caption: str) -> list[int]:
    """The referral ids in the rows of the table whose caption holds `caption`."""
    (table,) = [t for t in re.findall(r"<table.*?</table>", page, re.S) if caption in t]
    return shown(table)


def nav_links(page: str) -> list[dict[str, str]]:
    """Each pagination bar's links, in page order."""
    return [links(nav) for nav in re.findall(r'<nav class="pagination".*?</nav>', page, re.S)]


def test_the_triage_queue_pages_each_list_on_its_own(app, client, db, seven, monkeypatch):
    """Oldest first; the waiting list's links keep the offered list's place and back."""
    from referrals.models import Referral, ReferralState

    monkeypatch.setitem(app.config, "TRIAGE_PAGE_SIZE", 2)
    oldest_first = list(reversed(seven))
    offered = oldest_first[4:]  # the three newest wait for an answer
    for referral_id in offered:
        db.session.get(Referral, referral_id).state = ReferralState.OFFERED
    db.session.commit()
    waiting = oldest_first[:4]

    page = text(client.get("/triage"))
    assert "4 verwijzingen wachten" in page or "4 referrals waiting" in page
    assert table_ids(page, "wacht") == waiting[:2]
    waiting_bar, offered_bar = nav_links(page)
    page = text(client.get(offered_bar["next"]))  # the offered list's second page
    assert shown(page)[-1:] == offered[2:]
    page = text(client.get(nav_links(page)[0]["next"]))  # then the waiting list's
    rows = shown(page)
    assert rows[:2] == waiting[2:4] and rows[2:] == offered[2:]
    # Back again by the waiting list's "Older": its first page, the offered place kept.
    page = text(client.get(nav_links(page)[0]["prev"]))
    assert shown(page) == [*waiting[:2], *offered[2:]]


def test_the_register_is_paged_by_name(app, client, db, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTER_PAGE_SIZE", 2)
    names = ["Anouk Register", "Bas Register", "Cees Register", "Dirk Register", "Els Register"]
    for n, name in enumerate(reversed(names)):
        factories.make_therapist(name=name, brtn_number=f"99{n:05d}")
    db.session.commit()
    login_as(Role.ADMIN)

    def listed(page: str) -> list[str]:
        return re.findall(r'<a href="/admin/therapists/\d+/edit">([^<]+ Register)</a>', page)

    pages, url = [], "/admin/therapists"
    while url:
        page = text(client.get(url))
        pages.append(listed(page))
        url = links(page).get("next")
    assert pages == [names[0:2], names[2:4], names[4:5]]
    (caption,) = re.findall(r"<caption>([^<]*)</caption>", page)
    assert caption.startswith("5 ") and "3" in caption  # five in all, page three
    assert listed(text(client.get(links(page)["prev"]))) == names[2:4]


def test_the_admin_lists_are_paged_with_their_filters_and_counts(
    app, client, db, login_as, monkeypatch, queries
):
    monkeypatch.setitem(app.config, "ADMIN_PAGE_SIZE", 2)
    practice = factories.make_organisation(kind=OrganisationKind.GP_PRACTICE, name="Aa Paging")
    names = ["Ann Paging", "Ben Paging", "Cor Paging", "Dee Paging", "Eva Paging"]
    for name in reversed(names):
        factories.make_user(role=Role.REFERRER, organisation=practice).name = name
    elsewhere = factories.make_organisation(kind=OrganisationKind.GP_PRACTICE, name="Zz Paging")
    factories.make_user(role=Role.REFERRER, organisation=elsewhere).name = "Fay Paging"
    db.session.commit()
    login_as(Role.ADMIN)

    def listed(page: str) -> list[str]:
        return re.findall(r'<a href="/admin/users/\d+/edit">([^<]+ Paging)</a>', page)

    pages, url = [], f"/admin/users?organisation={practice.id}&role=referrer"
    while url:
        page = text(client.get(url))
        pages.append(listed(page))
        url = links(page).get("next")
        assert url is None or ("role=referrer" in url and f"organisation={practice.id}" in url)
    assert pages == [names[0:2], names[2:4], names[4:5]]  # the other practice's filtered out
    (caption,) = re.findall(r"<caption>([^<]*)</caption>", page)
    assert caption.startswith("5 ") and "3" in caption

    # Organisations: each with its number of accounts, counted in the query, not per row.
    for n in range(3):
        factories.make_organisation(kind=OrganisationKind.GP_PRACTICE, name=f"Ab Paging {n}")
    db.session.commit()
    with queries() as log:
        page = text(client.get("/admin/organisations?kind=gp_practice"))
    rows = re.findall(
        r'<a href="/admin/organisations/\d+/edit">([^<]+)</a></td>.*?'
        r'<a href="/admin/users\?organisation=\d+">(\d+)</a>',
        page,
        re.DOTALL,
    )
    assert rows[0] == ("Aa Paging", "5")
    assert len(rows) == 2 and "kind=gp_practice" in links(page)["next"]
    # The session, the page with its counts, the total: no query per organisation shown.
    assert len([s for s in log.statements if s.lstrip().startswith("SELECT")]) == 3


def test_the_inbox_pages_the_closed_trajectories_newest_first(
    app, client, db, login_as, monkeypatch
):
    """Every closed trajectory once by "Older", also three closed at one moment; back by
    "Newer"; each page's read rows name the trajectories shown on it and no others."""
    from referrals.models import AuditAction, AuditEvent, Outcome
    from tests.training_setup import make_practice

    monkeypatch.setitem(app.config, "INBOX_CLOSED_PAGE_SIZE", 2)
    practice = make_practice(participants=5)
    base = utcnow() - timedelta(days=10)
    for n, trajectory in enumerate(practice.trajectories):
        trajectory.closed_at = base + timedelta(hours=3 if 1 <= n <= 3 else n)
        trajectory.outcome = Outcome.COMPLETED
    db.session.commit()
    newest_first = [
        t.id for t in sorted(practice.trajectories, key=lambda t: (t.closed_at, t.id), reverse=True)
    ]
    login_as(user=practice.user)

    def closed_part(page: str) -> str:
        return page[page.index('id="closed"') :]

    def closed_ids(page: str) -> list[int]:
        table = closed_part(page)[: closed_part(page).index("</table>")]
        return [int(i) for i in re.findall(r'href="/trajectories/(\d+)"', table)]

    def read_rows_of_last_request(since: int) -> set[int]:
        return set(
            int(object_id)
            for object_id in db.session.scalars(
                sa.select(AuditEvent.object_id).where(
                    AuditEvent.id > since,
                    AuditEvent.action == AuditAction.READ,
                    AuditEvent.object_type == "trajectories",
                )
            )
        )

    pages, url = [], "/offers"
    while url and len(pages) < 5:
        since = db.session.scalar(sa.select(sa.func.max(AuditEvent.id)))
        page = text(client.get(url))
        pages.append(closed_ids(page))
        assert read_rows_of_last_request(since) == set(pages[-1])
        assert "5 afgesloten trajecten" in closed_part(page)
        url = links(closed_part(page)).get("next")
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]
    back = []
    while "prev" in links(closed_part(page)) and len(back) < 5:
        since = db.session.scalar(sa.select(sa.func.max(AuditEvent.id)))
        page = text(client.get(links(closed_part(page))["prev"]))
        back.append(closed_ids(page))
        assert read_rows_of_last_request(since) == set(back[-1])
    assert back == [newest_first[2:4], newest_first[0:2]]
    # A cursor past the end (a stale link): the list says so and leads back to the newest.
    page = text(client.get("/offers?closed_after=1.1"))
    assert closed_ids(page) == []
    assert 'href="/offers#closed">Nieuwste</a>' in closed_part(page)


def test_the_programme_list_is_paged_with_each_programmes_referrers_counted_in_its_query(
    app, client, db, login_as, monkeypatch, queries
):
    monkeypatch.setitem(app.config, "ADMIN_PAGE_SIZE", 2)
    practices = [factories.make_organisation(kind=OrganisationKind.GP_PRACTICE) for _ in range(3)]
    names = ["Aa Programma", "Bb Programma", "Cc Programma"]
    for n, name in enumerate(names):
        factories.make_programme(name=name, referrers=practices[: n + 1])
    db.session.commit()
    login_as(Role.ADMIN)

    def listed(page: str) -> list[tuple[str, str]]:
        return re.findall(
            r'<a href="/admin/programmes/\d+/edit">([^<]+ Programma)</a></td>\s*<td>[^<]*</td>'
            r"\s*<td>[^<]*</td>\s*<td>(\d+)</td>",
            page,
        )

    pages, url = [], "/admin/programmes"
    while url and len(pages) < 5:
        with queries() as log:
            page = text(client.get(url))
        # The session, the page with its counts, the total: no query per programme shown.
        assert len([s for s in log.statements if s.lstrip().startswith("SELECT")]) == 3
        pages.append(listed(page))
        url = links(page).get("next")
    assert [row for rows in pages for row in rows] == [
        (name, str(n + 1)) for n, name in enumerate(names)
    ]
    assert [len(rows) for rows in pages] == [2, 1]
    (caption,) = re.findall(r"<caption>([^<]*)</caption>", page)
    assert caption.startswith("3 ") and "2" in caption
