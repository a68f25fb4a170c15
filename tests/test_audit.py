"""The NEN 7513 access log: what a row holds, that it cannot change, and the admin view."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from referrals import audit
from referrals.models import AuditAction, AuditEvent, Role, utcnow
from referrals.models.base import LOCAL_ZONE, local_today
from tests import factories
from tests.helpers import text


def test_record_writes_who_what_which_participant_when_and_where(app, db):
    user = factories.make_user(role=Role.COORDINATOR)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.7"}):
        event = audit.record(
            AuditAction.READ, actor=user, object_type="referral", object_id=42, participant_id=7
        )
        db.session.commit()
    stored = db.session.get(AuditEvent, event.id)
    assert stored.user_id == user.id
    assert stored.user_role == "coordinator"
    assert stored.organisation_id == user.organisation_id
    assert stored.action is AuditAction.READ
    assert (stored.object_type, stored.object_id, stored.participant_id) == ("referral", "42", 7)
    assert stored.ip_address == "198.51.100.7"
    assert stored.occurred_at.tzinfo is not None
    assert abs(stored.occurred_at - utcnow()) < timedelta(seconds=5)


@pytest.mark.parametrize("shown", [1, 3, 60])
def test_record_many_writes_a_row_per_participant_in_one_statement(app, db, queries, shown):
    """A list's reads: the same rows record() would write, one per participant, whatever the
    number in one INSERT, rolled back with the request."""
    user = factories.make_user(role=Role.COORDINATOR)
    referrals = [factories.make_referral() for _ in range(shown)]
    db.session.commit()
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.7"}):
        with queries() as log:
            written = audit.record_many(
                AuditAction.READ,
                [(r, r.participant_id) for r in referrals],
                actor=user,
                detail="list",
            )
        db.session.commit()
    assert written == shown
    assert len([s for s in log.statements if "INSERT INTO audit_events" in s]) == 1
    rows = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.detail == "list").order_by(AuditEvent.id)
    ).all()
    assert [(e.object_type, e.object_id, e.participant_id) for e in rows] == [
        ("referrals", str(r.id), r.participant_id) for r in referrals
    ]
    first = rows[0]
    assert (first.user_id, first.user_role, first.organisation_id, first.ip_address) == (
        user.id,
        "coordinator",
        user.organisation_id,
        "198.51.100.7",
    )
    assert first.action is AuditAction.READ and first.occurred_at.tzinfo is not None
    assert abs(first.occurred_at - utcnow()) < timedelta(seconds=5)


def test_record_many_is_undone_with_the_request(app, db):
    referral = factories.make_referral()
    db.session.commit()
    audit.record_many(AuditAction.READ, [(referral, referral.participant_id)], actor=None)
    db.session.rollback()
    assert not db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.object_type == "referrals", AuditEvent.action == AuditAction.READ)
    )


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET detail = 'changed'", "DELETE FROM audit_events"],
)
def test_the_database_refuses_to_change_or_delete_audit_rows(app, db, statement):
    user = factories.make_user()
    with app.test_request_context():
        audit.record(AuditAction.READ, actor=user, object_type="x", object_id=1)
    db.session.flush()
    savepoint = db.session.begin_nested()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text(statement))
    savepoint.rollback()
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) >= 1


def test_no_route_changes_the_audit_log(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("audit."):
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule


@pytest.fixture
def events(app, db):
    """A few audit rows by two users, one about participant 31, one two days ago."""
    alice = factories.make_user(role=Role.COORDINATOR)
    bob = factories.make_user(role=Role.REFERRER)
    with app.test_request_context():
        audit.record(
            AuditAction.READ, actor=alice, object_type="referral", object_id=1, participant_id=31
        )
        audit.record(
            AuditAction.UPDATE, actor=bob, object_type="referral", object_id=2, participant_id=32
        )
        old = audit.record(AuditAction.SEARCH, actor=bob, object_type="referral", detail="old")
        # noon two Dutch calendar days ago: the filters take Dutch dates, at any hour in UTC
        old.occurred_at = datetime.combine(
            local_today() - timedelta(days=2), time(12), tzinfo=LOCAL_ZONE
        ).astimezone(UTC)
    db.session.commit()
    return alice, bob


def audit_rows(page: str) -> int:
    return page.count("<tr>") - 1  # minus the header row


def test_admin_filters_by_user(client, db, login_as, events):
    alice, bob = events
    login_as(Role.ADMIN)
    page = text(client.get(f"/admin/audit/?user_id={bob.id}"))
    assert bob.name in page and alice.name not in page
    assert audit_rows(page) == 2  # bob's update and search


def test_admin_filters_by_participant_and_action(client, db, login_as, events):
    alice, _ = events
    login_as(Role.ADMIN)
    page = text(client.get("/admin/audit/?participant_id=31"))
    assert audit_rows(page) == 1 and alice.name in page
    page = text(client.get("/admin/audit/?action=update&participant_id=31"))
    assert 'class="empty"' in page and alice.name not in page


def test_admin_filters_by_period(client, db, login_as, events):
    login_as(Role.ADMIN)
    today = local_today()
    yesterday = today - timedelta(days=1)
    recent = text(client.get(f"/admin/audit/?date_from={yesterday.isoformat()}&action=search"))
    assert ">old<" not in recent
    older = text(
        client.get(f"/admin/audit/?date_to={(today - timedelta(days=2)).isoformat()}&action=search")
    )
    assert ">old<" in older


def test_bad_filter_input_is_explained(client, db, login_as):
    login_as(Role.ADMIN)
    response = client.get("/admin/audit/?user_id=abc&date_from=31-02-2026")
    page = text(response)
    assert response.status_code == 200
    assert 'id="user_id-error"' in page and 'id="date_from-error"' in page
    assert 'value="abc"' in page


def test_viewing_the_log_is_itself_logged(client, db, login_as):
    admin = login_as(Role.ADMIN)
    client.get("/admin/audit/?participant_id=31&action=read")
    row = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.object_type == "audit_log")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert row.user_id == admin.id
    assert row.action is AuditAction.SEARCH
    assert row.participant_id == 31
    assert "participant=31" in row.detail and "action=read" in row.detail


def test_the_log_pages(app, client, db, login_as):
    admin = login_as(Role.ADMIN)
    size = app.config["AUDIT_PAGE_SIZE"]
    with app.test_request_context():
        for n in range(size + 5):
            audit.record(AuditAction.READ, actor=admin, object_type="page-test", object_id=n)
    db.session.commit()
    logged = db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.user_id == admin.id)
    )
    first = text(client.get(f"/admin/audit/?user_id={admin.id}"))
    assert audit_rows(first) == size
    (older,) = re.findall(r'<a rel="next" href="([^"]+)"', first)
    second = text(client.get(older.replace("&amp;", "&")))
    # Keyset paging: the second page holds the oldest rows, whatever was logged since (the
    # first page's own read row is newer than both pages).
    assert audit_rows(second) == logged - size
    assert 'rel="prev"' in second and f"user_id={admin.id}" in older


def test_the_log_shows_known_details_in_the_readers_language(app, db, client, login_as):
    admin = login_as(Role.ADMIN)
    with app.test_request_context():
        for detail in ("intake recorded, plan generated", "offer: submitted -> offered", "x y"):
            audit.record(
                AuditAction.UPDATE,
                actor=admin,
                object_type="referrals",
                object_id=1,
                participant_id=7,
                detail=detail,
            )
        db.session.commit()
    page = text(client.get("/admin/audit/", query_string={"participant_id": 7}))
    assert "intake vastgelegd, schema gemaakt" in page
    assert "ingediend → aangeboden aan een therapeut" in page
    assert "x y" in page  # unknown details are shown as stored
    stored = db.session.scalars(sa.select(AuditEvent.detail).where(AuditEvent.participant_id == 7))
    assert "intake recorded, plan generated" in list(stored)  # the row itself is unchanged
