"""The therapist register: importing real-world CSV files, the admin pages, the therapist's own
availability, expiry warnings and the therapists of a programme."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from werkzeug.test import EnvironBuilder

from referrals.models import (
    AuditAction,
    AuditEvent,
    OrganisationKind,
    Programme,
    RegisterImport,
    Role,
    Therapist,
    local_today,
)
from referrals.services import ServiceError
from referrals.services.therapists import expiry_warning
from referrals.services.therapists.register_import import (
    apply_import,
    preview_import,
    store_register_file,
)
from tests import factories
from tests.helpers import text

TODAY = date(2026, 3, 1)


@pytest.fixture(autouse=True)
def english(db, client):
    """Messages are asserted in English, the language they are written in; pages ask for it."""
    client.set_cookie("rt_lang", "en")
    with force_locale("en"):
        yield


def therapists_in(db) -> dict[str, Therapist]:
    db.session.expire_all()
    return {t.brtn_number: t for t in db.session.scalars(sa.select(Therapist))}


def audit_count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))


def upload(data: bytes, admin=None) -> RegisterImport:
    return store_register_file(
        uploaded_by=admin or factories.make_user(role=Role.ADMIN),
        filename="register.csv",
        data=data,
    )


def import_file(data: bytes, today: date = TODAY):
    return apply_import(upload(data), today)


def rejected_by_line(preview) -> dict[int, str]:
    return {row.line: "; ".join(row.reasons) for row in preview.rejected}


# -- Reading messy files ------------------------------------------------------------------------

EXCEL_NL = (
    # What Dutch Excel writes with "CSV UTF-8": a BOM, semicolons, CRLF, Dutch headers in
    # any case, stray spaces, an empty line and a line of empty cells.
    b"\xef\xbb\xbfRegistratienummer ; Naam ; E-mail ; Geldig tot ; Postcode\r\n"
    b"\r\n"
    b"  BRTN 12345 ; Eva Smit ; Eva@RunningtherapieKust.example ; 31-12-2030 ; 2201ck \r\n"
    b";;;;\r\n"
    b"012346;Ruud Hendriks;;2030-06-30;8232 ba\r\n"
    b"\r\n"
)


def test_a_dutch_excel_file_with_bom_crlf_and_blank_lines_is_read(db):
    preview = preview_import(EXCEL_NL, TODAY)
    assert preview.rejected == [] and preview.warnings == []
    eva, ruud = preview.to_add
    assert (eva.line, eva.brtn_number, eva.name) == (3, "12345", "Eva Smit")
    assert eva.email == "eva@runningtherapiekust.example"
    assert (eva.registered_until, eva.postcode) == (date(2030, 12, 31), "2201 CK")
    assert (ruud.line, ruud.brtn_number, ruud.email) == (5, "012346", None)
    assert (ruud.registered_until, ruud.postcode) == (date(2030, 6, 30), "8232 BA")


def test_a_comma_file_with_english_headers_and_quotes_is_read(db):
    data = (
        b"brtn_number,name,email,registered_until,postcode,practice\n"
        b'12345,"Smit, Eva",eva@example.nl,2030-12-31,2201 CK,"Kust; Noordwijk"\n'
        b"12346,Ruud Hendriks,,30/06/2030,8232BA,Polder\n"
    )
    preview = preview_import(data, TODAY)
    assert [(r.line, r.name, r.postcode) for r in preview.to_add] == [
        (2, "Smit, Eva", "2201 CK"),
        (3, "Ruud Hendriks", "8232 BA"),
    ]
    assert preview.ignored_columns == ["practice"]


def test_header_aliases_in_any_order_and_an_excel_separator_line(db):
    data = (
        b"sep=;\n"
        b"Postcode;Geregistreerd_tot;BRTN-nummer;e-mailadres;NAAM\n"
        b"2201 CK;31.12.2030;brtn-12345;eva@example.nl;Eva Smit\n"
    )
    preview = preview_import(data, TODAY)
    (row,) = preview.to_add
    assert (row.line, row.brtn_number, row.registered_until) == (3, "12345", date(2030, 12, 31))


def test_a_semicolon_file_whose_names_hold_commas_is_still_semicolon_separated(db):
    data = b"naam;registratienummer;geldig tot;postcode\nSmit, Eva;12345;31-12-2030;2201 CK\n"
    (row,) = preview_import(data, TODAY).to_add
    assert row.name == "Smit, Eva"


def test_a_duplicate_number_is_rejected_with_the_line_of_the_first(db):
    data = (
        b"registratienummer;naam;geldig tot;postcode\n"
        b"12345;Eva Smit;31-12-2030;2201 CK\n"
        b"\n"
        b"BRTN 12345;Eva Smit (praktijk 2);31-12-2031;2202 AB\n"
        b"12346;Ruud Hendriks;31-12-2030;8232 BA\n"
        b"12346;Ruud Hendriks;31-12-2030;8232 BA\n"
    )
    preview = import_file(data)
    assert rejected_by_line(preview) == {
        4: "registration number 12345 is already on line 2",
        6: "registration number 12346 is already on line 5",
    }
    assert [r.line for r in preview.to_add] == [2, 5]
    assert therapists_in(db)["12345"].name == "Eva Smit"


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ("12;Eva Smit;31-12-2030;2201 CK", "registration number '12' is not 3 to 10 digits"),
        ("ABC123;Eva Smit;31-12-2030;2201 CK", "registration number 'ABC123'"),
        ("12345678901;Eva Smit;31-12-2030;2201 CK", "registration number '12345678901'"),
        (";Eva Smit;31-12-2030;2201 CK", "the registration number is missing"),
        ("12345;;31-12-2030;2201 CK", "the name is missing"),
        ("12345;Eva Smit;31-02-2030;2201 CK", "'31-02-2030' is not a date"),
        ("12345;Eva Smit;31-12-30;2201 CK", "'31-12-30' is not a date"),
        ("12345;Eva Smit;2030/12/31;2201 CK", "'2030/12/31' is not a date"),
        ("12345;Eva Smit;morgen;2201 CK", "'morgen' is not a date"),
        ("12345;Eva Smit;;2201 CK", "the 'registered until' date is missing"),
        ("12345;Eva Smit;31-12-2030;0123 AB", "'0123 AB' is not a Dutch postcode"),
        ("12345;Eva Smit;31-12-2030;2201", "'2201' is not a Dutch postcode"),
        ("12345;Eva Smit;31-12-2030;2201 SS", "'2201 SS' is not a Dutch postcode"),
        ("12345;Eva Smit;31-12-2030", "the postcode is missing"),
    ],
)
def test_a_bad_row_is_rejected_with_line_and_reason_and_good_rows_still_import(db, cells, reason):
    data = (
        "registratienummer;naam;geldig tot;postcode\r\n"
        "20001;Goede Regel;31-12-2030;2201 CK\r\n"
        f"{cells}\r\n"
        "20002;Ook Goed;2030-12-31;8232 BA\r\n"
    ).encode()
    preview = import_file(data)
    rejected = rejected_by_line(preview)
    assert list(rejected) == [3]
    assert reason in rejected[3]
    assert [r.line for r in preview.to_add] == [2, 4]
    assert {"20001", "20002"} <= therapists_in(db).keys()


def test_every_problem_of_a_row_is_named(db):
    data = b"registratienummer;naam;e-mail;geldig tot;postcode\nx1;Eva;geen-mail;gisteren;12\n"
    (row,) = preview_import(data, TODAY).rejected
    assert len(row.reasons) == 4
    assert "'geen-mail' is not an e-mail address" in row.reasons


def test_an_expired_registration_imports_with_a_warning(db):
    data = (
        b"registratienummer;naam;geldig tot;postcode\n"
        b"12345;Verlopen Therapeut;28-02-2026;2201 CK\n"
        b"12346;Bijna Verlopen;2026-03-31;2201 CK\n"
        b"12347;Nog Lang Geldig;2026-04-01;2201 CK\n"
    )
    preview = import_file(data)
    assert preview.rejected == []
    assert len(preview.to_add) == 3
    warnings = {w.line: w.message for w in preview.warnings}
    assert list(warnings) == [2, 3]
    assert "expired on February 28, 2026" in warnings[2]
    assert "in 30 days" in warnings[3]
    expired = therapists_in(db)["12345"]
    assert not expired.is_registered_on(TODAY)


def test_reimporting_the_same_file_changes_nothing(db):
    import_file(EXCEL_NL)
    before = {
        n: (t.name, t.email, t.registered_until, t.postcode) for n, t in therapists_in(db).items()
    }
    again = import_file(EXCEL_NL)
    assert (again.to_add, again.to_change, again.rejected) == ([], [], [])
    assert [r.brtn_number for r in again.unchanged] == ["12345", "012346"]
    after = {
        n: (t.name, t.email, t.registered_until, t.postcode) for n, t in therapists_in(db).items()
    }
    assert after == before


def test_a_new_file_changes_register_fields_only_and_keeps_availability(db):
    therapist = factories.make_therapist(
        brtn_number="12345",
        name="Eva Smit",
        email="eva@example.nl",
        registered_until=date(2026, 12, 31),
        postcode="2201 CK",
        capacity=3,
        weekdays=("sat",),
        accepting_referrals=False,
        languages=("nl", "tr"),
    )
    data = (
        b"registratienummer;naam;e-mail;geldig tot;postcode\n"
        b"12345;Eva de Smit;;31-12-2028;2202 AB\n"
    )
    preview = preview_import(data, TODAY)
    (change,) = preview.to_change
    assert [(c.field, c.old, c.new) for c in change.changes] == [
        ("name", "Eva Smit", "Eva de Smit"),
        ("registered_until", date(2026, 12, 31), date(2028, 12, 31)),
        ("postcode", "2201 CK", "2202 AB"),
    ]
    import_file(data)
    therapist = therapists_in(db)["12345"]
    assert (therapist.name, therapist.postcode) == ("Eva de Smit", "2202 AB")
    assert therapist.email == "eva@example.nl"  # an empty cell keeps the known address
    assert (therapist.capacity, therapist.weekdays, therapist.languages) == (
        3,
        ["sat"],
        ["nl", "tr"],
    )
    assert therapist.accepting_referrals is False


def test_the_preview_writes_nothing(db):
    factories.make_therapist(brtn_number="12345", name="Oude Naam", postcode="2201 CK")
    register_import = upload(EXCEL_NL)
    therapists, audits = therapists_in(db), audit_count(db)
    preview = preview_import(register_import.content, TODAY)
    assert len(preview.to_add) == 1 and len(preview.to_change) == 1
    assert therapists_in(db)["12345"].name == "Oude Naam"
    assert therapists_in(db).keys() == therapists.keys()
    assert audit_count(db) == audits
    assert register_import.applied_at is None


def test_applying_twice_is_refused_and_audited_once(db):
    register_import = upload(EXCEL_NL)
    apply_import(register_import, TODAY)
    assert register_import.applied_at is not None
    with pytest.raises(ServiceError, match="already been imported"):
        apply_import(register_import, TODAY)
    events = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.object_type == "register_imports",
            AuditEvent.object_id == str(register_import.id),
        )
    ).all()
    assert [e.action for e in events] == [AuditAction.CREATE, AuditAction.UPDATE]
    assert events[1].detail == "added 2, changed 0, unchanged 0, rejected 0"


def test_an_unlinked_therapist_account_with_the_same_email_is_linked(db):
    eva = factories.make_user(role=Role.THERAPIST, email="eva@runningtherapiekust.example")
    ruud = factories.make_user(role=Role.THERAPIST, email="ruud@example.nl")
    factories.make_therapist(user=ruud, brtn_number="99999")  # already linked elsewhere
    referrer = factories.make_user(role=Role.REFERRER, email="ref@example.nl")
    data = (
        b"registratienummer;naam;e-mail;geldig tot;postcode\n"
        b"12345;Eva Smit;EVA@runningtherapiekust.example;31-12-2030;2201 CK\n"
        b"12346;Ruud Hendriks;ruud@example.nl;31-12-2030;8232 BA\n"
        b"12347;Geen Therapeut;ref@example.nl;31-12-2030;8232 BA\n"
    )
    preview = import_file(data)
    assert {line: user.id for line, user in preview.links.items()} == {2: eva.id}
    register = therapists_in(db)
    assert register["12345"].user_id == eva.id
    assert register["12346"].user_id is None
    assert register["12347"].user_id is None and referrer.id


def test_an_existing_entry_is_linked_when_its_account_appears_later(db):
    import_file(EXCEL_NL)
    user = factories.make_user(role=Role.THERAPIST, email="eva@runningtherapiekust.example")
    preview = import_file(EXCEL_NL)
    (change,) = preview.to_change
    assert [(c.field, c.new) for c in change.changes] == [("user", user)]
    assert therapists_in(db)["12345"].user_id == user.id
    assert import_file(EXCEL_NL).to_change == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("registratienummer;naam;geldig tot;postcode\n1;Café\n".encode("cp1252"), "not UTF-8"),
        ("registratienummer;naam\n".encode("utf-16"), "not UTF-8"),
        (b"", "empty"),
        (b"\r\n\r\n  \r\n", "empty"),
        (b"naam;postcode\nEva;2201 CK\n", "Missing: registration number, registered until"),
        (b"12345;Eva Smit;31-12-2030;2201 CK\n", "The first line must name the columns"),
        (b"registratienummer;naam;geldig tot;postcode\r\n\r\n", "no therapists"),
        (b"naam;naam;registratienummer;geldig tot;postcode\n", "mean the same"),
        (b"registratienummer;naam\x00;geldig tot;postcode\n", "binary data"),
        (b"sep=;\n", "empty"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_as_a_whole(db, data, message):
    with pytest.raises(ServiceError, match=message) as caught:
        upload(data)
    assert caught.value.field == "file"
    assert db.session.scalar(sa.select(sa.func.count(RegisterImport.id))) == 0


# -- Admin pages --------------------------------------------------------------------------------


@pytest.fixture
def admin(login_as):
    return login_as(Role.ADMIN)


def post_file(client, data: bytes, filename: str = "register.csv"):
    builder = EnvironBuilder(
        path="/admin/therapists/import",
        method="POST",
        data={"file": (io.BytesIO(data), filename)},
    )
    environ = builder.get_environ()
    try:
        return client.open(environ)
    finally:
        # The test client spools a large body to a temporary file and never closes it.
        environ["wsgi.input"].close()
        builder.close()


def test_upload_preview_and_confirm(client, db, admin):
    factories.make_therapist(brtn_number="12345", name="Eva Smid", postcode="2201 CK")
    data = EXCEL_NL + b"123;Kapot;;nooit;2201 CK\r\n"
    response = post_file(client, data)
    assert response.status_code == 302
    register_import = db.session.scalar(sa.select(RegisterImport))
    assert response.headers["Location"] == f"/admin/therapists/import/{register_import.id}"
    assert register_import.uploaded_by_id == admin.id

    page = text(client.get(response.headers["Location"]))
    to_add = re.search(r'<table class="data" id="to-add">.*?</table>', page, re.S).group(0)
    assert "Ruud Hendriks" in to_add and "8232 BA" in to_add
    to_change = re.search(r'<table class="data" id="to-change">.*?</table>', page, re.S).group(0)
    assert "Eva Smid → Eva Smit" in to_change
    rejected = re.search(r'<table class="data" id="rejected">.*?</table>', page, re.S).group(0)
    assert "<td>7</td>" in rejected and "&#39;nooit&#39; is not a date" in rejected
    assert "Confirm import" in page
    assert therapists_in(db)["12345"].name == "Eva Smid"  # nothing written yet

    response = client.post(f"/admin/therapists/import/{register_import.id}/apply")
    assert response.status_code == 200
    assert "Register imported: 1 added, 1 changed, 1 rejected." in text(response)
    register = therapists_in(db)
    assert register["12345"].name == "Eva Smit" and "012346" in register
    db.session.refresh(register_import)
    assert register_import.applied_at is not None

    again = client.post(f"/admin/therapists/import/{register_import.id}/apply")
    assert again.status_code == 302
    assert "already been imported" in text(client.get(again.headers["Location"]))


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (None, None, "Choose the CSV file"),
        (b"registratienummer;naam", "register.xlsx", "Choose a .csv or .txt file"),
        ("naam;Café\n".encode("cp1252"), "register.csv", "not UTF-8"),
        (b"naam;postcode\nEva;2201 CK\n", "register.txt", "Missing"),
        (b"x" * (2 * 1024 * 1024 + 1), "register.csv", "larger than 2 MB"),
    ],
)
def test_a_bad_upload_is_explained_next_to_the_field(client, db, admin, data, filename, message):
    if data is None:
        response = client.post("/admin/therapists/import", data={})
    else:
        response = post_file(client, data, filename)
    page = text(response)
    assert response.status_code == 200
    error = re.search(r'<p class="field__error" id="file-error">(.*?)</p>', page, re.S)
    assert error and message in error.group(1)
    assert db.session.scalar(sa.select(sa.func.count(RegisterImport.id))) == 0


def test_an_unknown_import_or_therapist_is_404(client, admin):
    assert client.get("/admin/therapists/import/999999").status_code == 404
    assert client.post("/admin/therapists/import/999999/apply").status_code == 404
    assert client.get("/admin/therapists/999999/edit").status_code == 404


# -- End dates that move earlier ------------------------------------------------------------------

EXAMPLE_FILE = Path(__file__).resolve().parent.parent / "docs" / "brtn-register-example.csv"


@pytest.fixture
def demo_register(db):
    """Eva and Marieke as the demo has them (registered until 2028; the example file says
    2027), Wim with an end date the example file extends."""
    return {
        "eva": factories.make_therapist(
            brtn_number="102345",
            name="Eva Smid",
            email="eva@runningtherapiekust.example",
            registered_until=date(2028, 12, 31),
            postcode="2201 CK",
        ),
        "marieke": factories.make_therapist(
            brtn_number="104410",
            name="Marieke van Dijk",
            email="marieke@duinloop.example",
            registered_until=date(2028, 4, 1),
            postcode="2202 LN",
        ),
        "wim": factories.make_therapist(
            brtn_number="111187",
            name="Wim Koster",
            registered_until=date(2026, 6, 30),
            postcode="8251 HC",
        ),
    }


def change_row(page: str, line: int) -> str:
    return re.search(rf'<tr id="change-{line}">.*?</tr>', page, re.S).group(0)


def test_the_preview_warns_on_the_row_whose_end_date_moves_earlier(
    client, db, admin, demo_register
):
    response = post_file(client, EXAMPLE_FILE.read_bytes(), "brtn-register-example.csv")
    page = text(client.get(response.headers["Location"]))
    eva, marieke, wim = change_row(page, 2), change_row(page, 4), change_row(page, 5)
    assert re.search(r'class="warning">.*from 31 December 2028 to 31 December 2027', eva, re.S), eva
    assert re.search(r'class="warning">.*from 1 April 2028 to 31 March 2027', marieke, re.S)
    assert 'class="warning"' not in wim  # extended, not shortened
    assert "30 June 2026 → 31 December 2026" in wim
    # One checkbox per shortened row, none ticked: leaving them alone keeps the stored dates.
    boxes = re.findall(r'<input[^>]*name="shorten"[^>]*>', page)
    assert [re.search(r'value="([^"]*)"', box).group(1) for box in boxes] == [
        "102345:2028-12-31",
        "104410:2028-04-01",
    ]
    assert not any("checked" in box for box in boxes)
    assert "2 end dates earlier than the stored ones" in page
    assert therapists_in(db)["102345"].registered_until == date(2028, 12, 31)


def apply_example(client, db, shorten=()):
    post_file(client, EXAMPLE_FILE.read_bytes(), "brtn-register-example.csv")
    register_import = db.session.scalar(sa.select(RegisterImport))
    response = client.post(
        f"/admin/therapists/import/{register_import.id}/apply", data={"shorten": list(shorten)}
    )
    assert response.status_code == 200
    audit = db.session.scalar(
        sa.select(AuditEvent.detail).where(
            AuditEvent.object_type == "register_imports",
            AuditEvent.object_id == str(register_import.id),
            AuditEvent.action == AuditAction.UPDATE,
        )
    )
    return text(response), audit


def test_applying_without_ticking_keeps_the_stored_end_dates_and_imports_the_rest(
    client, db, admin, demo_register
):
    page, audit = apply_example(client, db)
    register = therapists_in(db)
    eva, marieke = register["102345"], register["104410"]
    assert eva.registered_until == date(2028, 12, 31)  # kept
    assert eva.name == "Eva Smit"  # the row's other change is imported
    assert marieke.registered_until == date(2028, 4, 1)  # kept; nothing else changed
    assert register["111187"].registered_until == date(2026, 12, 31)  # extended
    assert register["108712"].registered_until == date(2027, 6, 30)  # added
    kept = re.search(r'<table class="data warning" id="kept-end-dates">.*?</table>', page, re.S)
    eva_kept = re.search(r'<tr id="kept-2">.*?</tr>', kept.group(0), re.S).group(0)
    assert "<td>31 December 2028</td><td>31 December 2027</td>" in eva_kept
    assert '<tr id="kept-4">' in kept.group(0) and '<tr id="kept-5">' not in kept.group(0)
    assert "Register imported: 1 added, 2 changed, 0 rejected." in page  # Eva's name, Wim
    assert "2 end dates not shortened: they keep their stored date" in page
    assert audit == ("added 1, changed 2, unchanged 0, rejected 0, end dates shortened 0, kept 2")


def test_a_ticked_end_date_is_shortened_and_an_unticked_one_kept(client, db, admin, demo_register):
    page, audit = apply_example(client, db, shorten=["102345:2028-12-31"])
    register = therapists_in(db)
    assert register["102345"].registered_until == date(2027, 12, 31)
    assert register["104410"].registered_until == date(2028, 4, 1)
    assert '<tr id="kept-2">' not in page and '<tr id="kept-4">' in page
    assert audit == ("added 1, changed 2, unchanged 0, rejected 0, end dates shortened 1, kept 1")


def test_every_ticked_end_date_is_shortened(client, db, admin, demo_register):
    page, audit = apply_example(client, db, shorten=["102345:2028-12-31", "104410:2028-04-01"])
    register = therapists_in(db)
    assert register["102345"].registered_until == date(2027, 12, 31)
    assert register["104410"].registered_until == date(2027, 3, 31)
    assert 'id="kept-end-dates"' not in page
    assert audit == "added 1, changed 3, unchanged 0, rejected 0, end dates shortened 2, kept 0"


def test_a_control_character_in_a_tick_applies_nothing(client, db, admin, demo_register):
    post_file(client, EXAMPLE_FILE.read_bytes())
    register_import = db.session.scalar(sa.select(RegisterImport))
    response = client.post(
        f"/admin/therapists/import/{register_import.id}/apply",
        data={"shorten": ["102345:2028-12-31\x00"]},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/therapists/import/{register_import.id}"
    db.session.refresh(register_import)
    assert register_import.applied_at is None
    assert therapists_in(db)["102345"].name == "Eva Smid"
    assert "could not be read" in text(client.get(response.headers["Location"]))


def test_a_date_changed_since_the_preview_is_not_shortened_unseen(db, demo_register):
    """The tick names the stored date the admin saw; an edit in between makes it not match."""
    register_import = upload(EXAMPLE_FILE.read_bytes())
    (eva, marieke) = preview_import(register_import.content, TODAY).shortenings
    demo_register["eva"].registered_until = date(2030, 1, 1)  # someone else extends it
    result = apply_import(
        register_import, TODAY, shorten=[eva.shortening_key, "104410:2028-04-01", "junk"]
    )
    register = therapists_in(db)
    assert register["102345"].registered_until == date(2030, 1, 1)
    assert register["104410"].registered_until == date(2027, 3, 31)
    assert [(k.row.brtn_number, k.shortened.old) for k in result.kept_end_dates] == [
        ("102345", date(2030, 1, 1))
    ]


def test_a_kept_end_date_drops_the_notice_about_the_files_date(db):
    """The file would end the registration within 30 days; kept, the notice no longer holds."""
    factories.make_therapist(
        brtn_number="12345", name="Eva Smit", registered_until=date(2028, 1, 1), postcode="2201 CK"
    )
    data = b"registratienummer;naam;geldig tot;postcode\n12345;Eva Smit;15-03-2026;2201 CK\n"
    assert [w.line for w in preview_import(data, TODAY).warnings] == [2]
    result = import_file(data)
    assert result.warnings == [] and result.to_change == []
    assert [k.row.line for k in result.kept_end_dates] == [2]
    assert therapists_in(db)["12345"].registered_until == date(2028, 1, 1)


def test_the_list_warns_about_ending_registrations(client, db, admin):
    today = local_today()
    factories.make_therapist(name="Lang Geldig", registered_until=today + timedelta(days=31))
    factories.make_therapist(name="Bijna Af", registered_until=today + timedelta(days=30))
    factories.make_therapist(name="Al Verlopen", registered_until=today - timedelta(days=1))
    page = text(client.get("/admin/therapists"))

    def row(name):
        return re.search(rf"<tr id=\"therapist-\d+\">(?:(?!</tr>).)*{name}.*?</tr>", page, re.S)[0]

    assert "badge" not in row("Lang Geldig")
    assert "expires soon" in row("Bijna Af")
    assert "expired</span>" in row("Al Verlopen")


def therapist_form(therapist: Therapist, **changes) -> dict:
    data = {
        "brtn_number": therapist.brtn_number,
        "name": therapist.name,
        "email": therapist.email or "",
        "registered_until": therapist.registered_until.isoformat(),
        "postcode": therapist.postcode,
        "user_id": str(therapist.user_id or ""),
        "accepting_referrals": "y",
        "session_forms": ["group", "individual"],
        "weekdays": ["tue", "thu"],
        "travel_radius_km": "15",
        "capacity": "8",
        "languages": ["nl"],
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_admin_edits_a_therapist_and_links_an_account(client, db, admin):
    therapist = factories.make_therapist(brtn_number="12345", name="Eva Smit")
    user = factories.make_user(role=Role.THERAPIST)
    page = text(client.get(f"/admin/therapists/{therapist.id}/edit"))
    assert f'<option value="{user.id}">' in page
    data = therapist_form(
        therapist,
        brtn_number="BRTN 54321",
        postcode="8232ba",
        registered_until="2031-01-31",
        user_id=str(user.id),
        weekdays=["mon"],
        languages=["nl", "pl"],
    )
    response = client.post(f"/admin/therapists/{therapist.id}/edit", data=data)
    assert response.status_code == 302
    therapist = therapists_in(db)["54321"]
    assert (therapist.postcode, therapist.registered_until) == ("8232 BA", date(2031, 1, 31))
    assert therapist.user_id == user.id
    assert (therapist.weekdays, therapist.languages) == (["mon"], ["nl", "pl"])
    assert (
        db.session.scalar(
            sa.select(AuditEvent).where(
                AuditEvent.object_type == "therapists", AuditEvent.object_id == str(therapist.id)
            )
        ).user_id
        == admin.id
    )


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("brtn_number", {"brtn_number": "12"}),
        ("brtn_number", {"brtn_number": "{other_number}"}),
        ("postcode", {"postcode": "0000 AA"}),
        ("registered_until", {"registered_until": "31-13-2030"}),
        ("email", {"email": "eva@"}),
        ("user_id", {"user_id": "{linked_user}"}),
        ("user_id", {"user_id": "abc"}),
        ("capacity", {"capacity": "201"}),
        ("travel_radius_km", {"travel_radius_km": "-1"}),
        ("session_forms", {"session_forms": []}),
        ("languages", {"languages": ["xx"]}),
    ],
)
def test_bad_admin_input_is_explained_and_changes_nothing(client, db, admin, field, changes):
    linked = factories.make_therapist(user=factories.make_user(role=Role.THERAPIST))
    therapist = factories.make_therapist(name="Blijft Zo")
    values = {"other_number": linked.brtn_number, "linked_user": str(linked.user_id)}
    changes = {k: v.format(**values) if isinstance(v, str) else v for k, v in changes.items()}
    data = therapist_form(therapist, name="Getypt", **changes)
    response = client.post(f"/admin/therapists/{therapist.id}/edit", data=data)
    page = text(response)
    assert response.status_code == 200
    assert f'id="{field}-error"' in page
    assert therapists_in(db)[therapist.brtn_number].name == "Blijft Zo"


# -- The therapist's own availability -----------------------------------------------------------


@pytest.fixture
def own(db, login_as) -> Therapist:
    user = factories.make_user(role=Role.THERAPIST)
    therapist = factories.make_therapist(user=user, capacity=8, active_participants=3)
    login_as(user=user)
    return therapist


def availability(**changes) -> dict:
    data = {
        "accepting_referrals": "y",
        "session_forms": ["group"],
        "weekdays": ["mon", "wed"],
        "travel_radius_km": "25",
        "capacity": "6",
        "languages": ["nl", "en"],
    }
    data.update(changes)
    return data


def test_a_therapist_sets_their_availability(client, db, own):
    page = text(client.get("/therapist/availability"))
    assert own.brtn_number in page and 'value="8"' in page
    response = client.post("/therapist/availability", data=availability(accepting_referrals=None))
    assert response.status_code == 302
    db.session.expire_all()
    own = db.session.get(Therapist, own.id)
    assert own.accepting_referrals is False
    assert (own.offers_group, own.offers_individual) == (True, False)
    assert (own.weekdays, own.travel_radius_km, own.capacity) == (["mon", "wed"], 25, 6)
    assert own.languages == ["nl", "en"]
    assert own.active_participants == 3


@pytest.mark.parametrize(
    ("field", "changes", "message"),
    [
        ("capacity", {"capacity": "2"}, "3 active participants"),
        ("capacity", {"capacity": "veel"}, "Enter a whole number from 0 to 200"),
        ("session_forms", {"session_forms": []}, "group sessions, individual sessions or both"),
        ("session_forms", {"session_forms": ["online"]}, "Choose from the list"),
        ("travel_radius_km", {"travel_radius_km": "301"}, "0 to 300"),
        ("travel_radius_km", {"travel_radius_km": "-5"}, "0 to 300"),
        ("travel_radius_km", {"travel_radius_km": ""}, "0 to 300"),
        ("weekdays", {"weekdays": []}, "at least one day"),
        ("weekdays", {"weekdays": ["holiday"]}, "Choose days from the list"),
        ("languages", {"languages": []}, "at least one language"),
    ],
)
def test_bad_availability_is_explained_next_to_the_field(client, db, own, field, changes, message):
    response = client.post("/therapist/availability", data=availability(**changes))
    page = text(response)
    assert response.status_code == 200
    error = re.search(rf'<p class="field__error" id="{field}-error">(.*?)</p>', page, re.S)
    assert error and message in error.group(1)
    db.session.expire_all()
    therapist = db.session.get(Therapist, own.id)
    assert (therapist.capacity, therapist.weekdays, therapist.travel_radius_km) == (
        8,
        ["tue", "thu"],
        15,
    )


def test_a_therapist_can_only_change_their_own_profile(client, db, own):
    other = factories.make_therapist(user=factories.make_user(role=Role.THERAPIST), capacity=8)
    data = availability(therapist_id=str(other.id), id=str(other.id), capacity="4")
    assert (
        client.post(f"/therapist/availability?therapist_id={other.id}", data=data).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(Therapist, other.id).capacity == 8
    assert db.session.get(Therapist, own.id).capacity == 4


def test_an_unlinked_therapist_is_told_so(client, db, login_as):
    login_as(Role.THERAPIST)
    response = client.get("/therapist/availability")
    assert response.status_code == 200
    assert "not linked" in text(response)
    response = client.post("/therapist/availability", data=availability())
    assert response.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(Therapist.id))) == 0


def test_other_roles_cannot_reach_the_availability_page(client, login_as):
    login_as(Role.COORDINATOR)
    assert client.get("/therapist/availability").status_code == 403


@pytest.mark.parametrize(("days", "shown"), [(31, False), (30, True), (1, True), (0, True)])
def test_the_therapist_home_page_warns_before_the_registration_ends(
    client, db, login_as, days, shown
):
    user = factories.make_user(role=Role.THERAPIST)
    factories.make_therapist(user=user, registered_until=local_today() + timedelta(days=days))
    login_as(user=user)
    page = text(client.get("/"))
    assert ('id="registration-warning"' in page) is shown
    assert "/therapist/availability" in page


def test_the_home_page_says_when_the_registration_has_expired(client, db, login_as):
    user = factories.make_user(role=Role.THERAPIST)
    factories.make_therapist(user=user, registered_until=local_today() - timedelta(days=1))
    login_as(user=user)
    warning = re.search(r'id="registration-warning">(.*?)</div>', text(client.get("/")), re.S)
    assert "expired on" in warning.group(1)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (31, None),
        (30, "ends on March 31, 2026, in 30 days"),
        (1, "ends on March 2, 2026, in 1 day."),
        (0, "ends today (March 1, 2026)"),
        (-1, "expired on February 28, 2026"),
    ],
)
def test_expiry_warnings(days, expected):
    therapist = Therapist(name="Eva Smit", registered_until=TODAY + timedelta(days=days))
    warning = expiry_warning(therapist, TODAY)
    if expected is None:
        assert warning is None
    else:
        assert expected in warning and "Eva Smit" in warning


# -- Programmes name their therapists ------------------------------------------------------------


def test_a_programme_names_its_therapists(client, db, admin):
    funder = factories.make_organisation(kind=OrganisationKind.MUNICIPALITY)
    eva = factories.make_therapist(name="Eva Smit")
    ruud = factories.make_therapist(name="Ruud Hendriks")
    expired = factories.make_therapist(
        name="Joost Verlopen", registered_until=local_today() - timedelta(days=1)
    )
    programme = factories.make_programme(funder=funder)
    page = text(client.get(f"/admin/programmes/{programme.id}/edit"))
    assert f'value="{eva.id}"' in page and "Joost Verlopen (2201 AB) (registration expired)" in page
    data = {
        "name": programme.name,
        "funder_id": str(funder.id),
        "starts_on": "2026-01-01",
        "postcode_areas": "2200-2299",
        "min_age": "18",
        "funded_places": "20",
        "trajectory_weeks": "12",
        "supervised_sessions": "12",
        "tariff": "45,00",
        "offer_deadline_days": "5",
        "therapists": [str(eva.id), str(expired.id)],
    }
    response = client.post(f"/admin/programmes/{programme.id}/edit", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    assert {t.id for t in db.session.get(Programme, programme.id).therapists} == {
        eva.id,
        expired.id,
    }
    page = text(client.get(f"/admin/programmes/{programme.id}/edit"))
    checked = set(re.findall(r'<input checked[^>]*name="therapists"[^>]*value="(\d+)"', page))
    checked |= set(re.findall(r'<input[^>]*name="therapists"[^>]*value="(\d+)"[^>]*checked', page))
    assert checked == {str(eva.id), str(expired.id)} and str(ruud.id) not in checked

    data["therapists"] = ["999999"]
    page = text(client.post(f"/admin/programmes/{programme.id}/edit", data=data))
    assert 'id="therapists-error"' in page


# -- Demo data ----------------------------------------------------------------------------------


def test_demo_therapists_are_linked_and_take_part_in_the_programmes(app, db):
    from referrals.demo import THERAPISTS, load_demo_data

    with app.test_request_context():
        load_demo_data()
        load_demo_data()
        db.session.commit()
    register = therapists_in(db)
    assert {spec.brtn_number for spec in THERAPISTS} <= register.keys()
    eva, ruud = register["102345"], register["108712"]
    assert eva.user.email == "eva@runningtherapiekust.example"
    assert (eva.postcode, eva.travel_radius_km, eva.capacity) == ("2201 CK", 15, 8)
    assert eva.weekdays == ["tue", "thu", "sat"] and eva.offers_group and eva.offers_individual
    assert ruud.user.email == "ruud@loopgroeppolder.example"
    assert (ruud.offers_group, ruud.offers_individual, ruud.weekdays) == (
        True,
        False,
        ["mon", "wed"],
    )
    today = local_today()
    assert any(not t.is_registered_on(today) for t in register.values())
    assert any(0 <= (t.registered_until - today).days <= 30 for t in register.values())
    assert any(not t.accepting_referrals for t in register.values())
    programmes = {p.name: p for p in db.session.scalars(sa.select(Programme))}
    noordwijk = programmes["Runningtherapie op recept Noordwijk"].therapists
    lelystad = programmes["Welzijn op recept Lelystad: in beweging"].therapists
    assert eva in noordwijk and ruud in lelystad
    assert all(t.postcode.startswith("2") for t in noordwijk)
    assert all(t.postcode.startswith("8") for t in lelystad)
