"""Settings shared by every environment. Secrets never live here."""

import os
from datetime import timedelta

SECRET_KEY = None  # each environment decides; production refuses to start without one
# Unset: a SQLite file in the instance folder.
SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
# Database errors never write their parameters (names, dates of birth, BSNs) into the logs.
SQLALCHEMY_ENGINE_OPTIONS: dict = {"hide_parameters": True}
# PostgreSQL: how long a request may wait for a connection, a statement and a lock (the worker
# commands may run longer statements). A request that runs out gets the 503 page, rolled back.
DB_CONNECT_TIMEOUT = int(os.environ.get("DB_CONNECT_TIMEOUT", "5"))  # seconds (2 at least)
DB_STATEMENT_TIMEOUT_MS = int(os.environ.get("DB_STATEMENT_TIMEOUT_MS", "5000"))
DB_LOCK_TIMEOUT_MS = int(os.environ.get("DB_LOCK_TIMEOUT_MS", "2000"))
# The worker commands (send-notifications, render-reports, expire-offers): longer, for batches.
DB_WORKER_STATEMENT_TIMEOUT_MS = int(os.environ.get("DB_WORKER_STATEMENT_TIMEOUT_MS", "300000"))
DB_WORKER_LOCK_TIMEOUT_MS = int(os.environ.get("DB_WORKER_LOCK_TIMEOUT_MS", "30000"))
# SQLite: how long a statement waits for another connection's write lock before it gives up.
DB_BUSY_TIMEOUT_MS = int(os.environ.get("DB_BUSY_TIMEOUT_MS", "5000"))

# Logs on stderr: one JSON object per line (json), or plain lines (text); see referrals/logs.py.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

# Who may read /metrics (Prometheus): comma-separated networks; everyone else gets a 404.
METRICS_ALLOWED_NETWORKS = [
    network.strip()
    for network in os.environ.get("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128").split(",")
    if network.strip()
]

# Sessions: a server-side token is checked on every request (see referrals/services/sessions.py).
SESSION_IDLE_TIMEOUT = timedelta(minutes=30)
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=12)
PENDING_LOGIN_TIMEOUT = timedelta(minutes=5)
SESSION_COOKIE_NAME = "rt_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = False
REMEMBER_COOKIE_DURATION = timedelta(seconds=0)
PREFERRED_URL_SCHEME = "http"
SEND_HSTS = False

# Login throttling. An account is locked for one client address when that address failed
# (a wrong password or code) this many times within each window: a burst and a slow trickle.
# Another address, one that has not failed, still logs in with password and code, so that
# nobody can lock someone else out by guessing. Per address, Flask-Limiter caps all logins.
ACCOUNT_LOCK_RULES = ((5, timedelta(minutes=15)), (10, timedelta(hours=1)))
# Wrong codes come from someone who has the password: this many within the window, from any
# addresses, lock the account everywhere until an admin sets a temporary password.
ACCOUNT_CODE_LOCK = (10, timedelta(hours=1))
LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "20 per minute;200 per hour")
# Refused reads of participant objects are logged up to this many per user (audit.py).
REFUSED_ACCESS_LIMIT = "30 per 10 minutes"
# Several app servers share rate-limit counters through Redis; one process can use memory.
RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL", "memory://")
# Several deployments may share one Redis: each keeps its counters under its own prefix.
RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "referrals")
RATELIMIT_HEADERS_ENABLED = True
# Redis away: each process counts in memory meanwhile, instead of refusing every login with a
# 500 (the login locks are kept in the database and hold regardless); /ready says so.
RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
RATELIMIT_ENABLED = True

# How many proxies in front of the app set X-Forwarded-For/-Proto (0: none, trust nothing).
PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))

# Request bodies: far less than any form needs, except the therapist register upload (a 2 MB
# CSV, plus the multipart wrapping). Larger bodies get the 413 page without being read.
MAX_CONTENT_LENGTH = 256 * 1024
UPLOAD_MAX_CONTENT_LENGTH = 2 * 1024 * 1024 + 64 * 1024
UPLOAD_ENDPOINTS = frozenset({"therapists.upload"})

PASSWORD_MIN_LENGTH = 12
# argon2id parameters (argon2-cffi's RFC 9106 low-memory profile by default)
ARGON2_TIME_COST = 3
ARGON2_MEMORY_COST = 65536
ARGON2_PARALLELISM = 4
TOTP_ISSUER = "Runningtherapie verwijzingen"

WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None  # the session's own timeouts bound a token's life
WTF_I18N_ENABLED = True

BABEL_DEFAULT_LOCALE = "nl"
BABEL_DEFAULT_TIMEZONE = "Europe/Amsterdam"
LANGUAGES = ("nl", "en")
# The locale each language is formatted in: English dates the British way (2 December 2026).
LOCALE_OF_LANGUAGE = {"nl": "nl", "en": "en_GB"}
LANGUAGE_COOKIE = "rt_lang"

AUDIT_PAGE_SIZE = 50
REFERRALS_PAGE_SIZE = 50
REGISTER_PAGE_SIZE = 100  # therapists per page of the register
ADMIN_PAGE_SIZE = 100  # organisations or accounts per page of the admin lists
INBOX_CLOSED_PAGE_SIZE = 25  # closed trajectories per page of a therapist's inbox
TRIAGE_PAGE_SIZE = 25  # per list of the triage queue (waiting, offered): 50 rows in all
# Links in e-mails point here; without it they use the address of the request that caused them.
BASE_URL = os.environ.get("BASE_URL")

# "smtp" sends through MAIL_SERVER; "folder" writes .eml files to MAIL_FOLDER (development).
MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp")
MAIL_FOLDER = os.environ.get("MAIL_FOLDER")  # default: instance/outbox
MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "").lower() in {"1", "true", "yes"}
MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "noreply@runningtherapie.invalid")

# Programme reports: the web request queues, `flask render-reports --loop` renders. True renders
# in the request itself (development without a worker).
REPORTS_INLINE = False
# A render job's lease: a worker that died on a job leaves it to the next one after this long
# (a few times a long render); each claim is an attempt, and the third failed one is final.
REPORT_JOB_LEASE_SECONDS = int(os.environ.get("REPORT_JOB_LEASE_SECONDS", "120"))

# Key for secrets kept encrypted in the database (TOTP secrets). Unset: derived from SECRET_KEY.
# Keep whichever is used stable: with another key, users must enrol their authenticator again.
DATA_ENCRYPTION_KEY = os.environ.get("DATA_ENCRYPTION_KEY") or None
