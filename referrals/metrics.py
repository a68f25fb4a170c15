"""Prometheus metrics at /metrics: request latency per endpoint, counted in each process, and
the outbox, report jobs and offers, counted in the database when scraped.

With several worker processes (gunicorn), set PROMETHEUS_MULTIPROC_DIR to an empty directory
that all of them share: each process writes its counts there and a scrape adds them up
(config/gunicorn.py removes a stopped worker's files). Without it, a scrape sees the process
that answered it. /metrics answers only addresses in METRICS_ALLOWED_NETWORKS (others get a
404), since it tells how busy the service is; it holds no participant data."""

from __future__ import annotations

import ipaddress
import os
import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import SQLAlchemyError

# Buckets around what a page costs: most answer within 50 ms, a report export within seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_REGISTRY = CollectorRegistry(auto_describe=True)
REQUEST_LATENCY = Histogram(
    "referrals_request_duration_seconds",
    "Time from the first before-request function to the response, per endpoint.",
    ["endpoint", "method", "status"],
    buckets=LATENCY_BUCKETS,
    registry=_REGISTRY,
)


class OperationsCollector:
    """Counted at scrape time; when the database does not answer, only
    referrals_database_up 0 is reported (and the scrape itself still succeeds)."""

    def collect(self):
        from referrals.services.operations import current_operations

        try:
            ops = current_operations()  # in the scrape's own request
        except SQLAlchemyError:
            yield GaugeMetricFamily(
                "referrals_database_up", "1 when the database answered this scrape.", value=0
            )
            return
        yield GaugeMetricFamily(
            "referrals_database_up", "1 when the database answered this scrape.", value=1
        )
        yield GaugeMetricFamily(
            "referrals_outbox_depth", "Notifications not yet delivered.", value=ops.outbox_depth
        )
        yield GaugeMetricFamily(
            "referrals_outbox_oldest_undelivered_seconds",
            "How long the oldest undelivered notification has waited (0 when none waits).",
            value=ops.outbox_oldest_seconds,
        )
        yield GaugeMetricFamily(
            "referrals_outbox_failing",
            "Undelivered notifications that failed at least once (retried later).",
            value=ops.outbox_failing,
        )
        yield GaugeMetricFamily(
            "referrals_outbox_in_flight",
            "Notifications handed to the mail server whose sent mark is not saved yet.",
            value=ops.outbox_in_flight,
        )
        jobs = GaugeMetricFamily(
            "referrals_report_jobs", "Programme report jobs by state.", labels=["state"]
        )
        for state, count in sorted(ops.report_jobs.items()):
            jobs.add_metric([state], count)
        yield jobs
        yield GaugeMetricFamily(
            "referrals_offers_overdue",
            "Open offers past their deadline, not yet returned to the queue by the worker.",
            value=ops.offers_overdue,
        )
        yield GaugeMetricFamily(
            "referrals_offers_expired", "Offers that expired, in all.", value=ops.offers_expired
        )


def register_metrics(app: Flask) -> None:
    """A typo in METRICS_ALLOWED_NETWORKS stops the start, not every scrape. The request is
    counted after everything else (the commit too), with the status the client gets."""
    app.extensions["referrals.metrics_networks"] = [
        ipaddress.ip_network(network, strict=False)
        for network in app.config["METRICS_ALLOWED_NETWORKS"]
    ]
    after = app.after_request_funcs.setdefault(None, [])
    if _observe not in after:
        after.insert(0, _observe)


def _observe(response):
    started = g.get("request_started")
    if started is not None and request.endpoint != "main.metrics":
        REQUEST_LATENCY.labels(
            endpoint=request.endpoint or "none",
            method=request.method,
            status=str(response.status_code),
        ).observe(time.perf_counter() - started)
    return response


def allowed(remote_addr: str | None) -> bool:
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    return any(
        address in network for network in current_app.extensions["referrals.metrics_networks"]
    )


def metrics_response() -> Response:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessRegistry())
    registry.register(OperationsCollector())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class _ProcessRegistry:
    """This process's own counts, when there is no shared directory."""

    def collect(self):
        yield from _REGISTRY.collect()
