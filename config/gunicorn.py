"""gunicorn settings for production: `gunicorn -c config/gunicorn.py "referrals:create_app()"`.

Values come from the environment so that one file serves every server. No access log: the
app writes one JSON line per request itself, without the query string (which may hold a
searched name); gunicorn's access log would write it. gunicorn's own lines (workers starting,
a request it could not handle) are JSON too (unless LOG_FORMAT=text), through the app's safe
formatter, with any query string cut from them."""

import os
import shutil
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
accesslog = None
errorlog = "-"

# As the app decides (config/): JSON unless LOG_FORMAT=text, or development left at its default.
_development = os.environ.get("REFERRALS_CONFIG", "development") == "development"
if os.environ.get("LOG_FORMAT", "text" if _development else "json") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        # The app puts its own handler on the root logger (referrals/logs.py).
        "root": {"level": "INFO", "handlers": []},
        "filters": {"no_query": {"()": "referrals.logs.WithoutQueryStrings"}},
        "formatters": {"json": {"()": "referrals.logs.json_formatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["no_query"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            # A logconfig_dict turns gunicorn's access log on; it stays off.
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }


def on_starting(server):
    """A new start counts from zero: counts of an earlier run would be added in."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and Path(folder).is_dir():
        for entry in Path(folder).iterdir():
            if entry.is_file():
                entry.unlink()
            else:
                shutil.rmtree(entry)


def child_exit(server, worker):
    """A stopped worker's Prometheus counts stay in PROMETHEUS_MULTIPROC_DIR (its counters
    keep counting in the totals); its live gauges are removed."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
