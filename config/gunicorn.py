"""gunicorn settings for production: `gunicorn -c config/gunicorn.py "referrals:create_app()"`.

Values come from the environment so that one file serves every server. No access log: the
app writes one JSON line per request itself, without the query string (which may hold a
searched name); gunicorn's access log would write it."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
accesslog = None
errorlog = "-"


def child_exit(server, worker):
    """A stopped worker's Prometheus counts stay in PROMETHEUS_MULTIPROC_DIR (its counters
    keep counting in the totals); its live gauges are removed."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
