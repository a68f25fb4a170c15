"""Local development: SQLite in instance/, a fixed development secret."""

import os

from config.default import *  # noqa: F403

DEBUG = False  # the Werkzeug debugger runs code from the browser; turn it on by hand if needed
SECRET_KEY = os.environ.get("SECRET_KEY", "development-only-secret-key-do-not-use-in-production")
MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "folder")
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")

# Programme reports are rendered by a worker (`flask render-reports --loop`). In development,
# without a worker, the request that asks for a report renders it itself.
REPORTS_INLINE = os.environ.get("REPORTS_INLINE", "1") == "1"  # make cluster sets 0

# Offers past their deadline are expired by the worker (`flask expire-offers`, from cron in
# production). `make run` sets this so the development server does it itself every minute.
OFFER_TIMER_SECONDS = float(os.environ.get("OFFER_TIMER_SECONDS") or 0)
