"""Fixtures for the end-to-end tests in Chromium.

Each test module gets a live server of its own: the app in a background thread on its own
database (migrated, demo data loaded), so what the browser sees is committed data, not a
rolled-back test transaction, and one module's changes never reach another. Chromium is
Debian's (/usr/bin/chromium; nothing is downloaded), started once per module. A missing browser
fails the test, it never skips.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask_migrate import upgrade
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from werkzeug.serving import make_server

from referrals.demo import load_demo_data
from referrals.extensions import db, limiter
from tests.browser.support import TIMEOUT_MS, LiveServer
from tests.conftest import make_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def live_server(databases) -> Iterator[LiveServer]:
    # CSRF is on here, as in production: the browser posts the real forms with their tokens.
    app = make_app(databases.new("browser"), WTF_CSRF_ENABLED=True)
    # The session factory is shared by every app; put it back to SQLAlchemy's defaults in case
    # a test that used conftest's `db` fixture ran earlier and left its own settings on it.
    db.session.session_factory.configure(bind=None, join_transaction_mode="conditional_savepoint")
    with app.app_context():
        upgrade()
        load_demo_data()
        db.session.commit()
        db.session.remove()
        limiter.reset()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"Chromium not found at {CHROMIUM}; run `make system-deps`"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def axe() -> Axe:
    return Axe()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: no cookies, no language choice."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(scope="module")
def open_page(browser: Browser, live_server: LiveServer) -> Iterator[Callable[[], Page]]:
    """Pages in fresh browser contexts (no cookies) that live for the module, for tests that
    walk one story across several steps; all closed when the module ends."""
    contexts = []

    def _open() -> Page:
        context = browser.new_context(base_url=live_server.url, accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield _open
    for context in contexts:
        context.close()
