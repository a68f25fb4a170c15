"""Deadline work on a timer inside the web process, for development only.

Requests never expire offers (a GET changes nothing); in production the worker command
`flask expire-offers` does it from cron. So that `make run` gives a working demo without a
second process, the development server can run the same step every OFFER_TIMER_SECONDS, and
with it the worker's count of changed months for the dashboard (`flask refresh-figures`).
"""

from __future__ import annotations

import threading

from flask import Flask

from referrals.extensions import db
from referrals.services.referrals.offers import settle_deadlines
from referrals.services.uptake.figures import refresh_marked


def start_offer_timer(app: Flask, interval: float) -> threading.Thread:
    """Run offers.settle_deadlines and figures.refresh_marked every `interval` seconds in a
    daemon thread."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(interval):
            with app.app_context():
                try:
                    settle_deadlines()
                    db.session.commit()
                    refresh_marked()
                except Exception:
                    db.session.rollback()
                    app.logger.exception("settling offer deadlines failed")
                finally:
                    db.session.remove()

    thread = threading.Thread(target=run, name="offer-timer", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread
