"""Production: secrets come from the environment only; cookies and HSTS for HTTPS."""

import os

from config.default import *  # noqa: F403

SECRET_KEY = os.environ.get("SECRET_KEY")
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
# `flask db upgrade` connects with MIGRATION_DATABASE_URL (the role that owns the schema) when it
# is set, and then grants REFERRALS_APP_ROLE, the role in DATABASE_URL, what the app may do:
# no UPDATE, DELETE or TRUNCATE on audit_events. See docs/postgresql-roles.sql.
MIGRATION_DATABASE_URL = os.environ.get("MIGRATION_DATABASE_URL") or None
REFERRALS_APP_ROLE = os.environ.get("REFERRALS_APP_ROLE") or None
# Links in e-mails use BASE_URL, never the Host header of whoever caused them; only its host is
# accepted in requests.
BASE_URL = os.environ.get("BASE_URL")
SESSION_COOKIE_SECURE = True
PREFERRED_URL_SCHEME = "https"
SEND_HSTS = True
