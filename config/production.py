"""Production: secrets come from the environment only; cookies and HSTS for HTTPS."""

import os

from config.default import *  # noqa: F403

SECRET_KEY = os.environ.get("SECRET_KEY")
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
# Links in e-mails use BASE_URL, never the Host header of whoever caused them; only its host is
# accepted in requests.
BASE_URL = os.environ.get("BASE_URL")
SESSION_COOKIE_SECURE = True
PREFERRED_URL_SCHEME = "https"
SEND_HSTS = True
