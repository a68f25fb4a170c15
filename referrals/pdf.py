"""PDF documents from Jinja templates in templates/reports/, rendered by WeasyPrint.

WeasyPrint's own fetcher reads file:// URLs and follows redirects, so a document here only gets
what `safe_fetcher` allows: `data:` URLs and files bundled in referrals/static/, named with the
internal scheme `bundled:` (`bundled:style.css`). Everything else is refused. Templates are
rendered with flask.render_template, so autoescaping is on. WeasyPrint takes about 0.7 s to
import, so it is imported on the first render, not with the app.
"""

from __future__ import annotations

import gc
import mimetypes
import warnings
from functools import cache
from pathlib import Path

from flask import render_template

BUNDLED_SCHEME = "bundled:"
STATIC_DIR = (Path(__file__).resolve().parent / "static").resolve()
PDF_VARIANT = "pdf/ua-1"  # tagged PDF for screen readers
ARCHIVE_VARIANT = "pdf/a-2a"  # PDF/A, level A: archival and tagged
INERT_BASE_URL = "about:blank"  # relative URLs stay relative, and the fetcher refuses them


def render_pdf(template_name: str, *, pdf_variant: str = PDF_VARIANT, **context) -> bytes:
    """Render templates/reports/<template_name> and return the PDF bytes.

    `pdf_variant`: PDF/UA-1 by default; archived reports use PDF/A-2a (archival and tagged).
    """
    from weasyprint import HTML

    html = render_template(f"reports/{template_name}", **context)
    document = HTML(string=html, base_url=INERT_BASE_URL, url_fetcher=_fetcher())
    with warnings.catch_warnings():
        # WeasyPrint 70 opens its sRGB profile for PDF/A and never closes it.
        warnings.filterwarnings("ignore", r"unclosed file .*sRGB2014\.icc", ResourceWarning)
        pdf = document.write_pdf(pdf_variant=pdf_variant)
        gc.collect()
    return pdf


def safe_fetcher(url: str):
    """Fetch `url` for WeasyPrint, or raise ValueError if it is not data: or bundled:."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    if url.startswith(BUNDLED_SCHEME):
        path = bundled_path(url.removeprefix(BUNDLED_SCHEME))
        mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime_type})
    if url[:5].lower() == "data:":
        return URLFetcher(allowed_protocols={"data"}, allow_redirects=False).fetch(url)
    raise ValueError(f"refused URL in PDF: {url[:80]!r}")


def bundled_path(name: str) -> Path:
    """The file `name` inside referrals/static/; ValueError if it lies outside or is missing."""
    path = (STATIC_DIR / name).resolve()
    if not name or not path.is_relative_to(STATIC_DIR) or not path.is_file():
        raise ValueError(f"no bundled file {name[:80]!r}")
    return path


@cache
def _fetcher():
    """A WeasyPrint URLFetcher whose every fetch goes through `safe_fetcher`."""
    from weasyprint.urls import URLFetcher

    class SafeURLFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            return safe_fetcher(url)

    return SafeURLFetcher(allowed_protocols=set(), allow_redirects=False)
