"""PDF rendering: the printable training plan, and the fetcher that keeps files and hosts out."""

from __future__ import annotations

import base64
import io

import pytest
from pypdf import PdfReader

from referrals.pdf import INERT_BASE_URL, _fetcher, safe_fetcher
from referrals.services.plan_pdf import render_training_plan_pdf
from referrals.services.training_plans import generate_plan

# A 1×1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def pdf_text(pdf: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def test_training_plan_pdf_has_the_weeks_names_and_page_numbers(app):
    plan = generate_plan(weeks=12, template="standard")
    with app.test_request_context():
        pdf = render_training_plan_pdf(
            plan, first_name="Femke", programme_name="Samen Sterk", therapist_name="Jan de Vries"
        )
    text, pages = pdf_text(pdf)
    flat = " ".join(text.split())
    assert pdf.startswith(b"%PDF-")
    assert 1 <= pages <= 2
    assert "Femke" in flat
    assert "Samen Sterk" in flat
    assert "Jan de Vries" in flat
    assert "Week 1 " in flat and "Week 12" in flat
    assert "30 min aaneengesloten hardlopen" in flat
    assert "pagina 1 van" in flat
    assert "Loop-wandelschema voor Femke" in flat  # Dutch by default


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "http://example.com/x.png",
        "https://example.com/x.png",
        "ftp://example.com/x.png",
        "bundled:../../etc/passwd",
        "bundled:/etc/passwd",
        "bundled:",
        "bundled:missing.css",
        "style.css",
        "../referrals/static/style.css",
    ],
)
def test_fetcher_refuses_files_hosts_and_traversal(url):
    with pytest.raises(ValueError):
        safe_fetcher(url)


def test_fetcher_allows_data_urls_and_bundled_files():
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    image = safe_fetcher(data_url)
    assert image.read() == PNG
    assert image.content_type == "image/png"
    css = safe_fetcher("bundled:style.css")
    assert css.content_type == "text/css"
    assert css.read()


def test_a_file_url_in_html_is_not_embedded(recwarn):
    from weasyprint import HTML

    html = (
        '<p>x</p><img src="file:///etc/passwd"><img src="/etc/passwd">'
        '<link rel="attachment" href="file:///etc/passwd">'
        '<link rel="stylesheet" href="http://example.com/x.css">'
    )
    pdf = HTML(string=html, base_url=INERT_BASE_URL, url_fetcher=_fetcher()).write_pdf()
    assert pdf.startswith(b"%PDF-")
    assert b"root:" not in pdf
    assert b"passwd" not in pdf
    assert len(recwarn) == 0
