"""PDF rendering: the printable training plan, and the fetcher that keeps files and hosts out."""

from __future__ import annotations

import base64
import io

import pytest
from pypdf import PdfReader

from referrals.pdf import safe_fetcher
from referrals.services.trajectories.plan_pdf import render_training_plan_pdf
from referrals.services.trajectories.training_plans import generate_plan

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


class RecordingServer:
    """A web server on 127.0.0.1 that notes every request, to show that nothing was fetched."""

    def __init__(self):
        import http.server
        import threading

        self.paths: list[str] = []
        paths = self.paths

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                paths.append(self.path)
                body = b"p { color: red } /* fetched */"
                self.send_response(200)
                self.send_header("Content-Type", "text/css")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recording_server():
    server = RecordingServer()
    yield server
    server.close()


def embedded_files(pdf: bytes) -> tuple[dict, list]:
    """The PDF's attachments, and every embedded file stream or image among its objects."""
    reader = PdfReader(io.BytesIO(pdf))
    numbers = {n for by_number in reader.xref.values() for n in by_number} | set(reader.xref_objStm)
    streams = []
    for number in sorted(numbers):
        obj = reader.get_object(number)
        if hasattr(obj, "get") and obj.get("/Type") == "/EmbeddedFile":
            streams.append(("EmbeddedFile", number))
        if hasattr(obj, "get") and obj.get("/Subtype") == "/Image":
            streams.append(("Image", number))
    return reader.attachments, streams


def test_render_pdf_fetches_nothing_and_embeds_nothing(
    app, tmp_path, monkeypatch, recording_server
):
    """Through render_pdf, so through the fetcher WeasyPrint is really given. A local file and a
    local web server are referenced as attachment, image, stylesheet and font: the PDF must
    hold none of them and the server must see no request."""
    secret = tmp_path / "geheim.txt"
    secret.write_text("BSN 111222333 geheim")
    png = tmp_path / "pixel.png"
    png.write_bytes(PNG)
    server = recording_server.url
    hostile = f"""<html><head>
      <link rel="attachment" href="file://{secret}">
      <link rel="attachment" href="{server}/attachment.txt">
      <link rel="stylesheet" href="{server}/style.css">
      <style>
        @import url("{server}/import.css");
        @font-face {{ font-family: X; src: url("{server}/font.woff"); }}
        body {{ background: url("file://{png}"); }}
      </style></head>
      <body><p>Rapport</p><img src="file://{png}"><img src="{server}/image.png">
      <a rel="attachment" href="file://{secret}">bijlage</a></body></html>"""
    monkeypatch.setattr("referrals.pdf.render_template", lambda name, **context: hostile)

    from referrals.pdf import render_pdf

    with app.test_request_context():
        pdf = render_pdf("any.html")
    text, _ = pdf_text(pdf)
    attachments, streams = embedded_files(pdf)
    assert "Rapport" in text
    assert attachments == {}
    assert streams == []
    assert recording_server.paths == []
