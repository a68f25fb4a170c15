"""The admin's audit log page: search by referral reference and by participant name (and that
the search is logged), each row said in plain words in both languages, bad search input
explained next to its field, and a fixed number of queries whatever the number of rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from referrals import audit, audit_labels
from referrals.blueprints.common import CONTROL_MESSAGE
from referrals.models import (
    AuditAction,
    AuditEvent,
    Referral,
    Role,
    TrainingGroup,
    Trajectory,
    User,
    Weekday,
    local_today,
)
from referrals.services.referrals import lists, offers
from referrals.services.trajectories import record_intake
from referrals.services.trajectories.plan_changes import change_plan
from referrals.services.uptake.downloads import stored_report
from referrals.services.uptake.programme_report import generate_programme_report
from tests import factories
from tests.helpers import text

# The table's columns, in order, whatever the reader's language.
COLUMNS = ("when", "user", "role", "action", "what", "participant", "address")


class RowParser(HTMLParser):
    """The audit table of a page: its header and its rows, as cell texts."""

    def __init__(self):
        super().__init__()
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: str | None = None
        self._in_table = self._in_head = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._in_table = True
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._in_table and not self._in_head:
            self.rows.append([])
        elif tag in ("td", "th") and self._in_table:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_head = False
        elif tag == "table":
            self._in_table = False
        elif tag in ("td", "th") and self._cell is not None:
            cell = " ".join(self._cell.split())
            (self.header if self._in_head else self.rows[-1]).append(cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def table(response) -> list[dict[str, str]]:
    """The audit rows of a page as {column heading: cell text}; no rows for the empty table."""
    assert response.status_code == 200
    parser = RowParser()
    parser.feed(text(response))
    assert len(parser.header) == len(COLUMNS)
    return [dict(zip(COLUMNS, row, strict=True)) for row in parser.rows if len(row) > 1]


def said(response) -> list[str]:
    return [row["what"] for row in table(response)]


@dataclass
class History:
    world: factories.World
    sanne: Referral
    kees: Referral
    trajectory: Trajectory
    officer: User


@pytest.fixture
def history(app, db) -> History:
    """Sanne's referral with its offer, trajectory, intake, a plan change and a read; Kees's
    referral, read too; a programme report made and downloaded by an officer."""
    world = factories.make_world(name="Noordwijk", therapist_name="Eva Smit")
    sanne = factories.make_referral(programme=world.programme, referrer=world.gp)
    kees = factories.make_referral(
        programme=world.programme, referrer=world.gp, first_name="Kees", last_name="Bakker"
    )
    officer = factories.make_user(role=Role.OFFICER, organisation=world.municipality)
    with app.test_request_context():
        offer = offers.offer_referral(sanne, world.therapist, actor=world.coordinator)
        offers.accept_offer(offer, actor=world.therapist_user)
        trajectory = db.session.scalars(
            sa.select(Trajectory).where(Trajectory.referral_id == sanne.id)
        ).one()
        record_intake(
            trajectory,
            actor=world.therapist_user,
            intake_on=local_today() - timedelta(days=7),
            can_walk_min=40,
            can_run_min=1,
            remarks="",
            template="standard",
        )
        change_plan(
            trajectory,
            actor=world.therapist_user,
            week_number=6,
            action="repeat",
            reason="Kuit nog gevoelig",
        )
        lists.referral_page(world.coordinator, sanne.id)
        lists.referral_page(world.coordinator, kees.id)
        report = generate_programme_report(
            world.programme, date(2026, 1, 1), date(2026, 3, 31), actor=officer
        )
        stored_report(officer, report.id)
    db.session.commit()
    return History(world, sanne, kees, trajectory, officer)


def rows_about(db, participant_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.participant_id == participant_id)
    )


def last_log_row(db) -> AuditEvent:
    return db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.object_type == "audit_log")
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).one()


# --- Search by reference -----------------------------------------------------------------


def test_search_by_reference_finds_the_referrals_rows_and_not_anothers(
    app, client, db, login_as, history
):
    sanne, kees = history.sanne, history.kees
    with app.test_request_context():
        # A row about the referral's trajectory that names no participant (as a refused read
        # might be written) belongs to the referral too; a group row that names the participant
        # as well; a row about Kees's trajectory-less referral does not.
        audit.record(
            AuditAction.READ, actor=history.officer, obj=history.trajectory, detail="probe"
        )
        group = TrainingGroup(
            therapist=history.world.therapist,
            name="Dinsdaggroep",
            weekday=Weekday.TUESDAY,
            starts_at=time(9, 30),
            meeting_place="Ingang park",
        )
        db.session.add(group)
        db.session.flush()
        audit.record(
            AuditAction.READ,
            actor=history.world.therapist_user,
            obj=group,
            participant_id=sanne.participant_id,
            detail="group page",
        )
        audit.record(
            AuditAction.READ,
            actor=history.world.therapist_user,
            obj=group,
            participant_id=kees.participant_id,
            detail="group page",
        )
    db.session.commit()
    expected = rows_about(db, sanne.participant_id) + 1  # and the probe without a participant
    login_as(Role.ADMIN)

    rows = table(client.get("/admin/audit/", query_string={"reference": sanne.reference.lower()}))

    assert len(rows) == expected
    assert {row["participant"] for row in rows} == {
        f"{sanne.participant_id} ({sanne.reference})",
        "–",  # the probe
    }
    whats = [row["what"] for row in rows]
    assert f"Traject {sanne.reference} geopend: probe" in whats
    assert "Groep 'Dinsdaggroep' geopend" in whats
    assert f"Verwijzing {sanne.reference} ingediend" in whats
    assert f"Aanbod voor {sanne.reference} gemaakt" in whats
    assert not any(kees.reference in cell for row in rows for cell in row.values())


def test_search_by_reference_writes_one_row_with_the_reference(client, db, login_as, history):
    admin = login_as(Role.ADMIN)
    client.get("/admin/audit/", query_string={"reference": history.sanne.reference})
    row = last_log_row(db)
    assert (row.action, row.user_id, row.object_type, row.object_id) == (
        AuditAction.SEARCH,
        admin.id,
        "audit_log",
        None,
    )
    assert row.participant_id == history.sanne.participant_id
    assert row.detail == f"reference={history.sanne.reference} page=1"


def test_each_participant_the_page_names_gets_a_read_row(app, client, db, login_as, history):
    """The page names participants by reference, also through a row that names only the
    object (Kees's referral here); like every page that shows participants, it logs each."""
    kees = history.kees
    with app.test_request_context():
        audit.record(AuditAction.READ, actor=history.officer, obj=kees, detail="probe")
    db.session.commit()
    admin = login_as(Role.ADMIN)
    whats = said(client.get("/admin/audit/", query_string={"user_id": history.officer.id}))
    assert f"Verwijzing {kees.reference} geopend: probe" in whats
    rows = db.session.execute(
        sa.select(AuditEvent.action, AuditEvent.participant_id, AuditEvent.detail).where(
            AuditEvent.object_type == "audit_log", AuditEvent.user_id == admin.id
        )
    ).all()
    assert (AuditAction.READ, kees.participant_id, "shown page=1") in rows
    assert (AuditAction.SEARCH, None, f"user={history.officer.id} page=1") in rows


# --- Search by name ----------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["Sanne Visser", "  visser  ", "SANNE"])
def test_search_by_name_finds_that_participants_rows(client, db, login_as, history, typed):
    sanne, kees = history.sanne, history.kees
    login_as(Role.ADMIN)
    expected = rows_about(db, sanne.participant_id)
    response = client.get("/admin/audit/", query_string={"name": typed})
    rows = table(response)
    assert len(rows) == expected
    assert {row["participant"] for row in rows} == {f"{sanne.participant_id} ({sanne.reference})"}
    assert f"{sanne.participant_id} ({sanne.reference})." in text(response)  # who matched
    assert kees.reference not in text(response)


def test_a_name_search_logs_who_matched_by_id_never_the_name(client, db, login_as, history):
    admin = login_as(Role.ADMIN)
    client.get("/admin/audit/", query_string={"name": "Sanne Visser"})
    row = last_log_row(db)
    assert (row.action, row.user_id, row.object_type) == (
        AuditAction.SEARCH,
        admin.id,
        "audit_log",
    )
    assert row.participant_id == history.sanne.participant_id
    assert row.detail == f"name-matches={history.sanne.participant_id} page=1"


def test_a_name_of_several_participants_finds_all_of_them(client, db, login_as, history):
    sanne, kees = history.sanne, history.kees
    login_as(Role.ADMIN)
    rows = table(client.get("/admin/audit/", query_string={"name": "er"}))  # Visser, Bakker
    assert {row["participant"] for row in rows} == {
        f"{sanne.participant_id} ({sanne.reference})",
        f"{kees.participant_id} ({kees.reference})",
    }
    row = last_log_row(db)
    assert row.participant_id is None  # two people: the ids are in the detail
    ids = sorted([sanne.participant_id, kees.participant_id])
    assert row.detail == f"name-matches={ids[0]},{ids[1]} page=1"
    # Each of them was shown on the page, so each has a read row of their own.
    shown = db.session.execute(
        sa.select(AuditEvent.participant_id, AuditEvent.action, AuditEvent.detail).where(
            AuditEvent.object_type == "audit_log", AuditEvent.id < row.id
        )
    ).all()
    assert sorted(shown) == [(i, AuditAction.READ, "shown page=1") for i in ids]
    # The log row itself says which participants were looked for, never a name.
    reference = {sanne.participant_id: sanne.reference, kees.participant_id: kees.reference}
    newest = said(client.get("/admin/audit/", query_string={"action": "search"}))[0]
    assert newest == (
        f"Logboek doorzocht op een naam (deelnemer {ids[0]} ({reference[ids[0]]}), "
        f"deelnemer {ids[1]} ({reference[ids[1]]})), pagina 1"
    )


# --- Bad search input --------------------------------------------------------------------


def field_error(response, name: str) -> str:
    page = text(response)
    marker = f'id="{name}-error">'
    assert marker in page, f"no error next to {name}"
    start = page.index(marker) + len(marker)
    return " ".join(page[start : page.index("</p>", start)].split())


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        ({"reference": "RT-2026-\x00000123"}, "reference", CONTROL_MESSAGE),
        ({"name": "San\x07ne"}, "name", CONTROL_MESSAGE),
        ({"name": "a" * 5000}, "name", "Vul 2 tot 100 tekens van de naam in."),
        ({"reference": "R" * 5000}, "reference", "Vul een kenmerk in zoals RT-2026-000123."),
        ({"reference": "2026-000123"}, "reference", "Vul een kenmerk in zoals RT-2026-000123."),
        ({"name": "x"}, "name", "Vul 2 tot 100 tekens van de naam in."),
    ],
)
def test_bad_search_input_is_explained_next_to_the_field(
    client, db, login_as, history, args, field, message
):
    login_as(Role.ADMIN)
    before = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    response = client.get("/admin/audit/", query_string=args)
    assert response.status_code == 200
    assert field_error(response, field).endswith(str(message))
    assert table(response) == []
    typed = args[field].upper() if field == "reference" else args[field]
    if message != CONTROL_MESSAGE:
        assert f'value="{typed}"' in text(response)  # what was typed is kept
    # Nothing was searched, so nothing is logged.
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == before


def test_an_unknown_reference_is_said_next_to_the_field_and_the_search_logged(
    client, db, login_as, history
):
    login_as(Role.ADMIN)
    response = client.get("/admin/audit/", query_string={"reference": "RT-2026-999999"})
    assert field_error(response, "reference").endswith(
        "Er is geen verwijzing met kenmerk RT-2026-999999."
    )
    assert table(response) == []
    assert last_log_row(db).detail == "reference=RT-2026-999999 page=1"


def test_a_name_nobody_has_or_too_many_have_is_said_next_to_the_field(
    client, db, login_as, history
):
    login_as(Role.ADMIN)
    response = client.get("/admin/audit/", query_string={"name": "Zwaluw"})
    assert field_error(response, "name").endswith("Geen deelnemer heeft een naam die hierop lijkt.")
    assert last_log_row(db).detail == "name-matches=none page=1"
    for n in range(11):
        factories.make_referral(
            programme=history.world.programme,
            referrer=history.world.gp,
            first_name=f"Jan{n}",
            last_name="Jansen",
        )
    db.session.commit()
    response = client.get("/admin/audit/", query_string={"name": "jansen"})
    assert "Meer dan 10 deelnemers hebben een naam die hierop lijkt." in field_error(
        response, "name"
    )
    assert table(response) == []
    assert last_log_row(db).detail == "name-matches=many page=1"


# --- Rows in plain words -----------------------------------------------------------------


def test_rows_say_what_happened_to_what_in_dutch(client, db, login_as, history):
    reference = history.sanne.reference
    login_as(Role.ADMIN)
    coordinator = said(
        client.get("/admin/audit/", query_string={"user_id": history.world.coordinator.id})
    )
    assert f"Verwijzing {reference} geopend" in coordinator
    therapist = said(
        client.get("/admin/audit/", query_string={"user_id": history.world.therapist_user.id})
    )
    assert f"Trainingsschema van {reference} gewijzigd: week 7 herhaalt de week ervoor" in therapist
    assert f"Traject {reference}: intake vastgelegd, schema gemaakt" in therapist
    officer = said(client.get("/admin/audit/", query_string={"user_id": history.officer.id}))
    assert officer[0] == "Rapport 'Programma Noordwijk', 1-1-2026 tot en met 31-3-2026 gedownload"
    assert officer[1] == "Rapport 'Programma Noordwijk', 1-1-2026 tot en met 31-3-2026 gemaakt"


def test_rows_say_what_happened_in_english_for_an_english_reader(client, db, login_as, history):
    reference = history.sanne.reference
    login_as(Role.ADMIN)
    client.set_cookie("rt_lang", "en")
    whats = said(client.get("/admin/audit/", query_string={"reference": reference}))
    assert f"Referral {reference} opened" in whats
    assert f"Training plan of {reference} changed: week 7 repeats the week before" in whats
    officer = said(client.get("/admin/audit/", query_string={"user_id": history.officer.id}))
    assert officer[0] == "Report 'Programma Noordwijk', 1 Jan 2026 to 31 Mar 2026 downloaded"


def test_no_row_reads_like_machine_text(client, db, login_as, history):
    login_as(Role.ADMIN)
    client.get("/admin/audit/", query_string={"user_id": history.officer.id})  # a search row
    whats = said(client.get("/admin/audit/"))
    assert len(whats) > 10
    for what in whats:
        assert "#" not in what and "->" not in what and "=" not in what, what
        for table_name in ("referrals", "reports", "trajectories", "users", "programmes"):
            assert table_name not in what, what
    assert not any("Sanne" in what or "Visser" in what for what in whats)  # no names shown


GONE = 2_000_000_001  # an id no user has


def test_an_object_that_is_gone_is_named_by_its_id(app, client, db, login_as):
    admin = login_as(Role.ADMIN)
    with app.test_request_context():
        audit.record(AuditAction.UPDATE, actor=admin, object_type="users", object_id=GONE)
        audit.record(
            AuditAction.UPDATE, actor=admin, object_type="users", object_id=GONE + 1, detail="new"
        )
    db.session.commit()
    whats = said(client.get("/admin/audit/", query_string={"action": "update"}))
    assert whats[:2] == [f"Gebruiker {GONE + 1} gewijzigd: new", f"Gebruiker {GONE} gewijzigd"]


def test_every_action_has_a_label_in_both_languages_also_a_refused_access(app):
    with app.test_request_context(), force_locale("nl"):
        assert audit_labels.action_label(AuditAction.REFUSED) == "toegang geweigerd"
        labels = {audit_labels.action_label(a) for a in AuditAction}
        assert len(labels) == len(AuditAction) and not any("_" in label for label in labels)
    with app.test_request_context(), force_locale("en"):
        assert audit_labels.action_label(AuditAction.REFUSED) == "access refused"


def test_a_refused_look_at_a_referral_is_found_by_its_reference(app, client, db, login_as, history):
    """Someone of another practice tries Kees's referral: the refused row names only the
    object, and the search by Kees's reference finds it, in words."""
    kees = history.kees
    stranger_client = app.test_client()
    stranger = login_as(Role.REFERRER, into=stranger_client)
    assert stranger_client.get(f"/referrals/{kees.id}").status_code == 404
    login_as(Role.ADMIN)
    rows = table(client.get("/admin/audit/", query_string={"reference": kees.reference}))
    refused = [row for row in rows if row["user"] == f"{stranger.name} (#{stranger.id})"]
    assert [(row["action"], row["what"], row["participant"]) for row in refused] == [
        (
            "toegang geweigerd",
            f"Toegang tot verwijzing {kees.reference} geweigerd: niet gevonden of niet zichtbaar"
            " voor deze gebruiker",
            "–",
        )
    ]


# --- A fixed number of queries -----------------------------------------------------------


def _reads(app, db, count: int, *, start: int) -> None:
    """`count` reads, each by another user, of a referral, a user, an organisation and a
    programme each (four kinds of object)."""
    with app.test_request_context():
        for _ in range(start, start + count):
            reader = factories.make_user(role=Role.COORDINATOR)
            referral = factories.make_referral()
            for obj in (referral, reader, reader.organisation, referral.programme):
                audit.record(
                    AuditAction.READ, actor=reader, obj=obj, participant_id=referral.participant_id
                )
    db.session.commit()


def test_the_page_sends_as_many_queries_for_ten_rows_as_for_one(app, client, db, login_as, queries):
    login_as(Role.ADMIN)
    args = {"action": "read"}

    def readers_rows(response) -> int:  # not the admin's own rows of the first look
        return sum(row["role"] == "Coördinator" for row in table(response))

    _reads(app, db, 1, start=0)
    with queries() as one:
        assert readers_rows(client.get("/admin/audit/", query_string=args)) == 4
    _reads(app, db, 9, start=1)
    with queries() as ten:
        assert readers_rows(client.get("/admin/audit/", query_string=args)) == 40
    assert len(ten.selects) == len(one.selects)
