"""The officer's dashboard reads a programme's rows through the programme's indexes: no query
of it scans a national table (all referrals, offers, trajectories, attendance rows or
questionnaire answers of the country). Each statement the page sends is explained by the
database itself: PostgreSQL with sequential scans priced out of reach (so a scan that is
left has no index to use), SQLite by its query plan ("SCAN t" without an index)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from referrals.models import Programme, Role, User, utcnow
from referrals.services.uptake.figures import refresh
from referrals.synthetic import build

BOUNDING = re.compile(
    r"\((\w+\.)?(id|programme_id|referral_id|trajectory_id|session_id|therapist_id"
    r"|participant_id|referring_organisation_id) = "
)
NATIONAL = (
    "referrals",
    "offers",
    "trajectories",
    "session_attendances",
    "questionnaire_responses",
    "programme_figures",
    "figure_marks",
)


def _statements(app, db, login_as, queries, url: str, user: User) -> list[tuple[str, object]]:
    sent = []

    def listener(conn, cursor, statement, parameters, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    client = app.test_client()
    login_as(user=user, into=client)
    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    return sent


def _full_scans(db, statement: str, parameters) -> list[str]:
    """The plan's reads of a whole national table: a sequential scan, or an index read end
    to end (no index condition bounds it)."""
    tables = "|".join(NATIONAL)
    with db.engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        if db.engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            # "SEARCH t USING INDEX" is bounded; "SCAN t" (with an index or not) is not.
            return [
                row[-1] for row in cursor.fetchall() if re.match(rf"SCAN ({tables})\b", row[-1])
            ]
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, parameters)
        plan = [row[0] for row in cursor.fetchall()]
        cursor.execute("RESET enable_seqscan")
    found = []
    for n, line in enumerate(plan):
        if re.search(rf"Seq Scan on ({tables})\b", line):
            found.append(line.strip())
            continue
        index_read = re.search(rf"Index (Only )?Scan (Backward )?using \S+ on ({tables})\b", line)
        bitmap_read = re.search(rf"Bitmap Index Scan on ix_({tables})_", line)
        if not (index_read or bitmap_read):
            continue
        details = []
        for following in plan[n + 1 :]:
            if "->" in following:
                break
            details.append(following)
        # Bounded: the index condition fixes a key equal to one value (or a few): a
        # condition on a later column only (a period) still reads the whole index.
        if not any("Index Cond:" in d and BOUNDING.search(d) for d in details):
            found.append(line.strip())
    return found


def test_the_dashboard_reads_no_national_table_whole(app, db, login_as, queries):
    built = build(referrals=400, programmes=3, largest=200, seed=3)
    db.session.flush()
    programme = db.session.get(Programme, built.largest_programme_id)
    officer = User(
        organisation_id=programme.funder_id,
        email="officer@plans.invalid",
        name="Officer",
        role=Role.OFFICER,
        password_hash="!none",  # noqa: S106 - logged in by the test
        password_changed_at=utcnow(),
    )
    db.session.add(officer)
    db.session.commit()
    # Each month marked as changed (just written): counted from the rows ...
    sent = _statements(app, db, login_as, queries, f"/uptake/{programme.id}", officer)
    assert len(sent) >= 5
    # ... and after the worker counted them: from the monthly summary.
    refresh(programme)
    db.session.commit()
    summarised = _statements(app, db, login_as, queries, f"/uptake/{programme.id}", officer)
    assert any("programme_figures" in statement for statement, _ in summarised)
    assert not any("FROM referrals" in statement for statement, _ in summarised)
    scans = {
        statement[:80]: found
        for statement, p in sent + summarised
        if (found := _full_scans(db, statement, p))
    }
    assert not scans, scans
