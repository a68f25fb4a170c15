"""Test suite: cheap password hashing, CSRF off (one test module turns it back on)."""

from config.default import *  # noqa: F403

TESTING = True
SECRET_KEY = "testing-secret-key-not-for-production"  # noqa: S105
WTF_CSRF_ENABLED = False
ARGON2_TIME_COST = 1
ARGON2_MEMORY_COST = 8192
ARGON2_PARALLELISM = 1
SERVER_NAME = None
# Warnings and errors only; tests/test_logging.py turns the request lines on where it reads them.
LOG_LEVEL = "WARNING"
# The suite's 20-thread races wait on each other's locks on a busy CI machine: roomier limits
# (tests/test_timeouts.py sets the production values where it tests them).
DB_STATEMENT_TIMEOUT_MS = 60000
DB_LOCK_TIMEOUT_MS = 30000
