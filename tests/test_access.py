"""Deny by default: every endpoint, every role and anonymous, against a declared matrix.

A new route that is not in ACCESS fails test_every_endpoint_is_declared. The scenario is built
once for the module; each test runs in a savepoint of it (SHARED_DATABASE, see conftest.db).
"""

from __future__ import annotations

import io
import re
from datetime import time, timedelta

import pytest
import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import (
    Attendance,
    AuditEvent,
    DropoutReason,
    Outcome,
    Report,
    ReportJob,
    ReportJobState,
    ReportKind,
    Role,
    SessionAttendance,
    TrainingGroup,
    TrainingSession,
    Trajectory,
    User,
    Weekday,
    local_today,
    utcnow,
)
from referrals.services.closing import close_trajectory
from referrals.services.referrals.offers import accept_offer, offer_referral
from referrals.services.therapists.register_import import store_register_file
from referrals.services.trajectories import record_intake
from tests import factories
from tests.conftest import session_on

SHARED_DATABASE = True

PUBLIC = "public"  # answers without a login
ANY_ROLE = frozenset(Role)
ADMIN = frozenset({Role.ADMIN})

ACCESS: dict[str, frozenset[Role] | str] = {
    "static": PUBLIC,
    "main.health": PUBLIC,
    "main.ready": PUBLIC,
    "main.metrics": PUBLIC,
    "main.set_language": PUBLIC,
    "main.favicon": PUBLIC,
    "auth.login": PUBLIC,
    "auth.second_factor": PUBLIC,
    "auth.enrol": PUBLIC,
    "main.index": ANY_ROLE,
    "auth.logout": ANY_ROLE,
    "auth.change_password": ANY_ROLE,
    "admin.organisations": ADMIN,
    "admin.new_organisation": ADMIN,
    "admin.edit_organisation": ADMIN,
    "admin.set_organisation_active": ADMIN,
    "admin.users": ADMIN,
    "admin.new_user": ADMIN,
    "admin.edit_user": ADMIN,
    "admin.deactivate_user": ADMIN,
    "admin.reactivate_user": ADMIN,
    "admin.reset_second_factor": ADMIN,
    "admin.set_temporary_password": ADMIN,
    "audit.log": ADMIN,
    "programmes.index": ADMIN,
    "programmes.new": ADMIN,
    "programmes.edit": ADMIN,
    "programmes.set_active": ADMIN,
    "therapists.index": ADMIN,
    "therapists.upload": ADMIN,
    "therapists.preview": ADMIN,
    "therapists.apply": ADMIN,
    "therapists.edit": ADMIN,
    "therapists.availability": frozenset({Role.THERAPIST}),
    "intake.index": frozenset({Role.REFERRER, Role.COORDINATOR}),
    "intake.choose_programme": frozenset({Role.REFERRER}),
    "intake.new_referral": frozenset({Role.REFERRER}),
    "intake.referral": frozenset({Role.REFERRER, Role.COORDINATOR}),
    "intake.withdraw": frozenset({Role.REFERRER}),
    "triage.queue": frozenset({Role.COORDINATOR}),
    "triage.reject": frozenset({Role.COORDINATOR}),
    "triage.match": frozenset({Role.COORDINATOR}),
    "triage.offer": frozenset({Role.COORDINATOR}),
    "offers.inbox": frozenset({Role.THERAPIST}),
    "offers.offer": frozenset({Role.THERAPIST}),
    "offers.accept": frozenset({Role.THERAPIST}),
    "offers.decline": frozenset({Role.THERAPIST}),
    "trajectories.trajectory": frozenset({Role.THERAPIST}),
    "trajectories.plan_pdf": frozenset({Role.THERAPIST}),
    "uptake.index": frozenset({Role.OFFICER, Role.COORDINATOR}),
    "uptake.dashboard": frozenset({Role.OFFICER, Role.COORDINATOR}),
    "uptake.export": frozenset({Role.OFFICER, Role.COORDINATOR}),
    "uptake.request_report": frozenset({Role.OFFICER, Role.COORDINATOR}),
    "uptake.request_again": frozenset({Role.OFFICER, Role.COORDINATOR}),
    "uptake.report_pdf": frozenset({Role.OFFICER, Role.COORDINATOR}),
    "uptake.need": frozenset({Role.OFFICER}),
    "uptake.need_import": frozenset({Role.ADMIN}),
    "trajectories.groups_index": frozenset({Role.THERAPIST}),
    "trajectories.new_group": frozenset({Role.THERAPIST}),
    "trajectories.group": frozenset({Role.THERAPIST}),
    "trajectories.add_member": frozenset({Role.THERAPIST}),
    "trajectories.remove_member": frozenset({Role.THERAPIST}),
    "trajectories.new_group_session": frozenset({Role.THERAPIST}),
    "trajectories.new_individual_session": frozenset({Role.THERAPIST}),
    "trajectories.change_plan": frozenset({Role.THERAPIST}),
    "trajectories.edit_session": frozenset({Role.THERAPIST}),
    "trajectories.delete_session": frozenset({Role.THERAPIST}),
    "trajectories.close": frozenset({Role.THERAPIST}),
    "trajectories.letter_pdf": frozenset({Role.THERAPIST}),
    "intake.closing_letter": frozenset({Role.REFERRER}),
    "intake.progress_pdf": frozenset({Role.REFERRER}),
    "trajectories.questionnaire": frozenset({Role.THERAPIST}),
    "trajectories.follow_up_sport": frozenset({Role.THERAPIST}),
}


def test_every_endpoint_is_declared(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - ACCESS.keys() == set(), "add new endpoints to ACCESS"
    assert ACCESS.keys() - endpoints == set(), "remove endpoints that no longer exist"


QUERY = {"uptake.export": {"period": "all"}}


def _request_for(app, endpoint: str, ids: dict[str, int]) -> tuple[str, str]:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {arg: ids[arg] for arg in rule.arguments}
    if endpoint == "static":
        values["filename"] = "style.css"
    # Query arguments an endpoint needs to answer at all: the downloads are of a fixed period.
    values.update(QUERY.get(endpoint, {}))
    with app.test_request_context():
        from flask import url_for

        url = url_for(endpoint, **values)
    method = "GET" if "GET" in rule.methods else "POST"
    return method, url


def _blank_pdf() -> bytes:
    from pypdf import PdfWriter

    writer, out = PdfWriter(), io.BytesIO()
    writer.add_blank_page(width=595, height=842)
    writer.write(out)
    return out.getvalue()


class Scenario:
    """Objects the endpoints' <int:...> arguments point at, and a user per role who may see
    them: a referrer of the referring GP practice, a coordinator of the programme."""

    def __init__(self):
        world = factories.make_world(therapist=False)
        municipality, programme, referrer = world.municipality, world.programme, world.gp
        self.gp_practice = world.gp_practice
        self.coordinator = world.coordinator
        officer = factories.make_user(role=Role.OFFICER, organisation=municipality)
        self.officer = officer
        self.referrer = referrer
        self.admin = factories.make_user(role=Role.ADMIN)
        referral = factories.make_referral(
            programme=programme, referrer=referrer, first_name="Wilhelmina"
        )
        therapist = factories.make_therapist(programmes=[programme])
        self.therapist_user = factories.make_user(role=Role.THERAPIST)
        own_profile = factories.make_therapist(user=self.therapist_user, programmes=[programme])
        offered = factories.make_referral(
            programme=programme, referrer=referrer, first_name="Ottoline", postcode="2250 AB"
        )
        offer = offer_referral(offered, own_profile, actor=self.coordinator)
        # An offer whose deadline passed before any worker ran: pages must not settle it.
        overdue = factories.make_referral(
            programme=programme, referrer=referrer, first_name="Machteld", postcode="2253 AB"
        )
        overdue_offer = offer_referral(overdue, own_profile, actor=self.coordinator)
        overdue_offer.deadline_at = utcnow() - timedelta(hours=1)
        accepted = factories.make_referral(
            programme=programme, referrer=referrer, first_name="Gijsbert", postcode="2251 AB"
        )
        accept_offer(
            offer_referral(accepted, own_profile, actor=self.coordinator), actor=self.therapist_user
        )
        trajectory = db.session.scalars(
            sa.select(Trajectory).where(Trajectory.referral_id == accepted.id)
        ).one()
        record_intake(
            trajectory,
            actor=self.therapist_user,
            intake_on=local_today(),
            can_walk_min=30,
            can_run_min=2,
            remarks="",
            template="standard",
        )
        register_import = store_register_file(
            uploaded_by=self.admin,
            filename="register.csv",
            data=b"registratienummer;naam;geldig tot;postcode\n12345;Eva Smit;31-12-2030;2201 CK\n",
        )
        closed = self._closed_with_letter(programme, referrer, own_profile)
        progress_report = Report(
            kind=ReportKind.PROGRESS,
            created_at=utcnow(),
            programme=programme,
            params={"version": 1},
            filename="voortgang.pdf",
            sha256="0" * 64,
            pdf=_blank_pdf(),  # aggregates only; the real rendering is tested elsewhere
        )
        db.session.add(progress_report)
        failed_job = ReportJob(
            programme=programme,
            period_start=local_today(),
            period_end=local_today(),
            requested_at=utcnow(),
            state=ReportJobState.FAILED,
            attempts=3,
        )
        db.session.add(failed_job)
        db.session.flush()
        self.ids = {
            "job_id": failed_job.id,
            "report_id": progress_report.id,
            "closed_referral_id": closed.referral_id,
            "closed_trajectory_id": closed.id,
            "organisation_id": municipality.id,
            "user_id": officer.id,
            "programme_id": programme.id,
            "referral_id": referral.id,
            "therapist_id": therapist.id,
            "import_id": register_import.id,
            "offer_id": offer.id,
            "trajectory_id": trajectory.id,
            "group_id": self._group(own_profile, trajectory).id,
            "session_id": self._session(own_profile, trajectory).id,
            "filename": "style.css",
            "kind": "csv",
            "moment": "intake",
            "instrument": "k10",
        }
        self.participant_ids = {
            "referral": referral.participant_id,
            "offered": offered.participant_id,
            "accepted": accepted.participant_id,
            "closed": closed.referral.participant_id,
        }
        self.participant_marks = {
            r.participant_id: (r.reference, r.participant.first_name)
            for r in (referral, offered, accepted, closed.referral, overdue)
        }
        self.user_ids = {
            Role.REFERRER: referrer.id,
            Role.COORDINATOR: self.coordinator.id,
            Role.THERAPIST: self.therapist_user.id,
            Role.OFFICER: officer.id,
            Role.ADMIN: self.admin.id,
        }

    def _closed_with_letter(self, programme, referrer, therapist) -> Trajectory:
        """A dropped-out trajectory of the GP practice with consent and its closing letter."""
        referral = factories.make_referral(
            programme=programme, referrer=referrer, first_name="Reinoud", postcode="2252 AB"
        )
        accept_offer(
            offer_referral(referral, therapist, actor=self.coordinator), actor=self.therapist_user
        )
        closed = db.session.scalars(
            sa.select(Trajectory).where(Trajectory.referral_id == referral.id)
        ).one()
        close_trajectory(
            closed,
            actor=self.therapist_user,
            outcome=Outcome.DROPPED_OUT,
            dropout_reason=DropoutReason.UNREACHABLE,
        )
        db.session.flush()
        assert closed.referral.consent_share_progress
        return closed

    def _group(self, therapist, member: Trajectory) -> TrainingGroup:
        group = TrainingGroup(
            therapist=therapist,
            name="Dinsdaggroep",
            weekday=Weekday.TUESDAY,
            starts_at=time(9, 30),
            meeting_place="Parkingang",
            members=[member],
        )
        db.session.add(group)
        db.session.flush()
        return group

    def _session(self, therapist, member: Trajectory) -> TrainingSession:
        session = TrainingSession(
            therapist=therapist, held_on=local_today(), logged_by=self.therapist_user
        )
        session.attendances.append(
            SessionAttendance(
                trajectory=member, held_on=local_today(), attendance=Attendance.EXCUSED
            )
        )
        db.session.add(session)
        db.session.flush()
        return session

    def user_for(self, role: Role) -> User:
        """The scenario's user of `role`, loaded in the running test's session."""
        return db.session.get(User, self.user_ids[role])


@pytest.fixture(scope="module")
def built(app, module_connection) -> Scenario:
    """The scenario, committed once into the module's transaction."""
    with app.app_context(), session_on(module_connection):
        scenario = Scenario()
        db.session.commit()
        return scenario


@pytest.fixture
def scenario(db, built) -> Scenario:
    return built


@pytest.fixture
def ids(scenario):
    return scenario.ids


@pytest.mark.parametrize("endpoint", sorted(ACCESS))
@pytest.mark.parametrize("role", [None, *Role], ids=lambda r: r.value if r else "anonymous")
def test_access_matrix(app, client, login_as, scenario, endpoint, role):
    method, url = _request_for(app, endpoint, scenario.ids)
    if role is not None:
        login_as(user=scenario.user_for(role))
    response = client.open(url, method=method)
    response.close()
    allowed = ACCESS[endpoint]
    location = response.headers.get("Location", "")

    if allowed == PUBLIC or (role is not None and role in allowed):
        assert response.status_code < 400, f"{role} {method} {url}: {response.status_code}"
        assert not location.startswith("/login?"), f"{role} {method} {url} sent to login"
    elif role is None:
        assert response.status_code == 302, f"anonymous {method} {url}: {response.status_code}"
        assert location.startswith("/login?next="), location
    else:
        assert response.status_code == 403, f"{role} {method} {url}: {response.status_code}"


def test_unknown_url_is_a_dutch_404_for_anonymous(client):
    response = client.get("/bestaat-niet")
    assert response.status_code == 404
    assert "Pagina niet gevonden" in response.get_data(as_text=True)


# Pages that show a participant of the scenario; the walk below must find each of them, so
# that a broken detector cannot pass unnoticed.
KNOWN_PARTICIPANT_PAGES = {
    "intake.index",
    "intake.referral",
    "intake.withdraw",
    "intake.closing_letter",
    "intake.progress_pdf",
    "triage.queue",
    "triage.match",
    "triage.reject",
    "offers.inbox",
    "offers.offer",
    "offers.decline",
    "trajectories.trajectory",
    "trajectories.plan_pdf",
    "trajectories.letter_pdf",
    "trajectories.group",
    "trajectories.questionnaire",
    "trajectories.edit_session",
    "trajectories.delete_session",
    "trajectories.close",
}


def _shown_text(response) -> str:
    """What the user gets to read: the page, or the text of a PDF."""
    if response.mimetype == "application/pdf":
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(response.get_data()))
        return " ".join(page.extract_text() for page in reader.pages)
    return response.get_data(as_text=True)


def _shown_participants(scenario, body: str) -> set[int]:
    """The scenario's participants that `body` names, by reference or first name."""
    shown = set()
    for participant_id, (reference, first_name) in scenario.participant_marks.items():
        if reference in body or re.search(rf"\b{first_name}\b", body):
            shown.add(participant_id)
    return shown


def test_every_page_that_shows_a_participant_writes_a_read_row(app, db, login_as, scenario):
    """NEN 7513: each GET that shows a participant's data logs it for that participant, as
    the user who read it. Walks every endpoint for every role that may open it."""
    found, missing = set(), []
    for endpoint, role, user, client, url in _each_page(app, login_as, scenario, public=False):
        before = db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0
        response = client.get(url)
        assert response.status_code < 400, (endpoint, role, response.status_code)
        if response.status_code != 200:
            continue  # a redirect shows nothing
        shown = _shown_participants(scenario, _shown_text(response))
        if not shown:
            continue
        found.add(endpoint)
        logged = set(
            db.session.scalars(
                sa.select(AuditEvent.participant_id).where(
                    AuditEvent.id > before, AuditEvent.user_id == user.id
                )
            )
        )
        if shown - logged:
            missing.append(f"{endpoint} as {role.value}: no row for {shown - logged}")
    assert missing == [], "\n".join(missing)
    assert KNOWN_PARTICIPANT_PAGES - found == set(), "these pages no longer show a participant"


GARBAGE = {
    "kind": "\x00",
    "name": "x" * 5000,
    "code": "'; DROP TABLE users; --",
    "email": "@@",
    "role": "root",
    "organisation_id": "abc",
    "password": "",
    "active": "maybe",
    "language": "<script>",
    "next": "javascript:alert(1)",
    "current_password": "x",
    "new_password": "y",
    "confirm_password": "z",
    "code_": "\u202e",
}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_the_menu_links_exactly_the_pages_the_role_may_open(app, login_as, scenario, role):
    """The menu asks may_open, the rule roles_required enforces: no link gives a 403, and
    every section page the role may open is in it."""
    sections = {
        "/admin/organisations": "admin.organisations",
        "/triage": "triage.queue",
        "/offers": "offers.inbox",
        "/referrals": "intake.index",
        "/uptake": "uptake.index",
    }
    client = app.test_client()
    login_as(user=scenario.user_for(role), into=client)
    page = client.get("/").get_data(as_text=True)
    menu = page[page.index('<nav class="site-nav"') : page.index("</nav>")]
    linked = set(re.findall(r'href="([^"#?]+)"', menu))
    for href in linked:
        assert client.get(href).status_code < 400, (role, href)
    for href, endpoint in sections.items():
        assert (href in linked) is (ACCESS[endpoint] != PUBLIC and role in ACCESS[endpoint])


FILE_TYPES = {
    "application/pdf",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def test_every_file_is_handed_out_the_same_way(app, login_as, scenario):
    """PDFs and exports go through one helper (a file name) and, like every logged-in answer,
    are never kept in a cache."""
    files = []
    for endpoint, _role, _user, client, url in _each_page(app, login_as, scenario):
        response = client.get(url)
        response.close()
        if response.status_code == 200 and response.mimetype in FILE_TYPES:
            files.append(endpoint)
            assert response.headers["Cache-Control"] == "no-store", endpoint
            assert "filename=" in response.headers["Content-Disposition"], endpoint
    assert {"uptake.export", "intake.closing_letter", "trajectories.plan_pdf"} <= set(files)


# Written by any request: the login session's last-seen time, and the access log itself.
BOOKKEEPING_TABLES = {"audit_events", "user_sessions"}


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every table but the bookkeeping ones, in a stable order."""
    tables = {}
    for table in db.metadata.sorted_tables:
        if table.name in BOOKKEEPING_TABLES:
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        rows = db.session.execute(sa.select(table).order_by(*order)).all()
        tables[table.name] = [tuple(map(str, row)) for row in rows]
    return tables


def test_get_requests_change_nothing_but_the_access_log(app, db, login_as, scenario):
    """Opening any page, as any role that may, writes only its read-audit rows: no expired
    offer, no notification, no state change (also with an offer past its deadline)."""
    changed = []
    for endpoint, role, _user, client, url in _each_page(app, login_as, scenario):
        before = _snapshot()
        client.get(url).close()
        db.session.expire_all()
        after = _snapshot()
        changed += [
            f"{endpoint} as {role.value}: {name}" for name in before if before[name] != after[name]
        ]
    assert changed == [], "\n".join(changed)


# The filters behind the login (referral list, uptake period, audit log, admin lists) get the
# same garbage as the forms: blanks, control characters, dates out of any range, wrong types.
FILTER_GARBAGE = [
    dict.fromkeys(("state", "programme", "q", "action", "kind", "role", "organisation"), " "),
    dict.fromkeys(("state", "programme", "q", "action", "kind", "role", "page", "after"), "\t"),
    dict.fromkeys(("after", "before"), "99999999999999999999.-1"),
    dict.fromkeys(("q", "action", "start", "end", "date_from", "date_to", "trajectory"), "\x00"),
    dict.fromkeys(("start", "date_from"), "0001-01-01")
    | dict.fromkeys(("end", "date_to"), "9999-12-31"),
    dict.fromkeys(("start", "end", "date_from", "date_to"), "2026-02-30")
    | {"page": "99999999999999999999", "organisation": "-1", "trajectory": "1e9"},
]


def _roles_for(endpoint: str) -> list[Role]:
    allowed = ACCESS[endpoint]
    return [Role.REFERRER] if allowed == PUBLIC else sorted(allowed)


def _each_page(app, login_as, scenario, *, public: bool = True):
    """Every GET endpoint but static files, once per role that may open it, each with a client
    logged in as the scenario's user of that role: (endpoint, role, user, client, url)."""
    for endpoint in sorted(ACCESS):
        method, url = _request_for(app, endpoint, scenario.ids)
        if method != "GET" or endpoint == "static" or (ACCESS[endpoint] == PUBLIC and not public):
            continue
        for role in _roles_for(endpoint):
            client = app.test_client()
            user = login_as(user=scenario.user_for(role), into=client)
            yield endpoint, role, user, client, url


@pytest.mark.parametrize("endpoint", sorted(e for e in ACCESS if e != "static"))
def test_garbage_input_never_gives_a_server_error(app, login_as, scenario, endpoint):
    """Logged in as each role that may use the endpoint, so the views behind the login are
    reached, not only the login redirect."""
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    _, url = _request_for(app, endpoint, scenario.ids)
    url = url.split("?")[0]  # the garbage is the query
    for role in _roles_for(endpoint):
        client = app.test_client()
        login_as(user=scenario.user_for(role), into=client)
        for garbage in [GARBAGE, *FILTER_GARBAGE]:
            if "GET" in rule.methods:
                query = {k: v for k, v in garbage.items() if k != "name"}
                response = client.get(url, query_string=query)
                response.close()
                assert response.status_code < 500, (endpoint, role, "GET", query)
            if "POST" in rule.methods:
                response = client.post(url, data=garbage)
                response.close()
                assert response.status_code < 500, (endpoint, role, "POST", garbage)


@pytest.fixture(scope="module")
def other_tenant(app, module_connection, built) -> Scenario:
    """A second, complete scenario: other organisations of every kind, other people."""
    with app.app_context(), session_on(module_connection):
        scenario = Scenario()
        db.session.commit()
        return scenario


ID_ARGUMENTS = {"kind", "moment", "instrument", "filename"}  # not ids: the same on both sides


def test_the_other_tenants_ids_give_404_and_no_data(app, db, login_as, scenario, other_tenant):
    """Two tenants of every kind: GP practices, municipalities (funders, social teams),
    programmes with their coordinators and officers, therapists. Every endpoint that takes an
    id, as every role but the operator's admin that may open it, with the other tenant's ids:
    404, and nothing of theirs in the answer."""
    probed, leaks = set(), []
    for rule in app.url_map.iter_rules():
        allowed = ACCESS[rule.endpoint]
        if allowed in (PUBLIC, ADMIN) or not set(rule.arguments) - ID_ARGUMENTS:
            continue
        method = "GET" if "GET" in rule.methods else "POST"
        _, url = _request_for(app, rule.endpoint, other_tenant.ids)
        for role in sorted(allowed - ADMIN):
            client = app.test_client()
            login_as(user=scenario.user_for(role), into=client)
            response = client.open(url, method=method)
            body = _shown_text(response) if response.status_code == 200 else response.text
            probed.add(rule.endpoint)
            shown = [
                mark
                for marks in other_tenant.participant_marks.values()
                for mark in marks
                if mark in body
            ]
            if response.status_code != 404 or shown:
                leaks.append(f"{role.value} {method} {url}: {response.status_code} {shown}")
    assert leaks == [], "\n".join(leaks)
    assert len(probed) >= 27, sorted(probed)  # every id-taking endpoint of today
