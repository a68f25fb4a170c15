"""The funder's PDF report: the dashboard's figures read back from the PDF, a stored snapshot
whose bytes and hash stay the same, versions, and hostile names that fetch nothing."""

from __future__ import annotations

import hashlib
import io
from datetime import date

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from referrals.models import Report
from referrals.services.uptake.programme_report import generate_programme_report
from tests.test_uptake import END, START, data  # noqa: F401 - the hand-built data set


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_report_says_what_the_dashboard_says(app, db, data):
    with app.test_request_context():
        report = generate_programme_report(data, START, END, actor=None)
    content = pdf_text(report.pdf)
    assert data.name in content
    assert "1 oktober 2026" in content and "30 november 2026" in content
    assert "€ 270,00" in content  # 6 sessions x € 45,00
    assert "Visser" not in content and "Sleeps badly" not in content
    assert report.sha256 == hashlib.sha256(report.pdf).hexdigest()
    assert report.params["version"] == 1 and report.params["start"] == "2026-10-01"
    reader = PdfReader(io.BytesIO(report.pdf))
    assert 2 <= len(reader.pages) < 15
    assert "pdfaid" in reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()


def test_generating_again_makes_a_new_version_and_keeps_the_old_one(app, db, data):
    with app.test_request_context():
        first = generate_programme_report(data, START, END, actor=None)
        second = generate_programme_report(data, START, END, actor=None)
    assert (first.params["version"], second.params["version"]) == (1, 2)
    assert first.filename != second.filename
    stored = db.session.scalars(sa.select(Report).order_by(Report.id)).all()
    assert [r.sha256 for r in stored] == [first.sha256, second.sha256]


def test_a_stored_report_cannot_be_changed(app, db, data):
    with app.test_request_context():
        report = generate_programme_report(data, START, END, actor=None)
    with pytest.raises(sa.exc.DBAPIError), db.session.begin_nested():
        db.session.execute(sa.update(Report).where(Report.id == report.id).values(sha256="0"))


@pytest.mark.parametrize(
    "name",
    [
        '<img src="file:///etc/passwd">',
        "Noord</title><style>@import url(http://127.0.0.1:9/x);</style>",
        'Programma"; background: url(http://127.0.0.1:9/x); "',
    ],
)
def test_hostile_names_are_text_and_nothing_is_fetched(app, db, data, monkeypatch, name):
    from referrals import pdf as pdf_module

    fetched = []
    original = pdf_module.safe_fetcher

    def spy(url):
        fetched.append(url)
        return original(url)

    monkeypatch.setattr(pdf_module, "safe_fetcher", spy)
    data.name = name
    data.funder.name = name
    db.session.flush()
    with app.test_request_context():
        report = generate_programme_report(data, date(2026, 10, 1), date(2026, 11, 30), actor=None)
    assert fetched == []
    assert "<img" in pdf_text(report.pdf) or "url(" in pdf_text(report.pdf)
