"""/metrics for Prometheus: the latency of each endpoint, and the outbox, report jobs and offers
counted when scraped; only for the monitoring networks, and still answering (database_up 0)
when the database is away. Under gunicorn with several workers, one scrape counts them all."""

from __future__ import annotations

import ipaddress
import time
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from referrals.extensions import db as _db
from referrals.models import (
    Notification,
    NotificationKind,
    OfferState,
    ReportJob,
    ReportJobState,
    local_today,
    utcnow,
)
from referrals.services.referrals.offers import offer_referral
from tests import factories
from tests.conftest import make_app
from tests.live_server import LiveServer
from tests.test_outage import UNREACHABLE


def samples(body: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a scrape."""
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client, **environ) -> dict[tuple, float]:
    response = client.get("/metrics", environ_base=environ)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def login_page_count(scraped: dict) -> float:
    key = (
        "referrals_request_duration_seconds_count",
        (("endpoint", "auth.login"), ("method", "GET"), ("status", "200")),
    )
    return scraped.get(key, 0.0)


def test_the_operations_are_counted_when_scraped(client, db):
    world = factories.make_world()
    first, second = (
        factories.make_referral(programme=world.programme, referrer=world.gp) for _ in range(2)
    )
    overdue = offer_referral(first, world.therapist, actor=world.coordinator)
    overdue.deadline_at = utcnow() - timedelta(minutes=5)
    expired = offer_referral(second, world.therapist, actor=world.coordinator)
    expired.state, expired.responded_at = OfferState.EXPIRED, utcnow()
    db.session.execute(sa.update(Notification).values(sent_at=utcnow()))
    now = utcnow()
    for minutes, attempts in ((10, 1), (2, 0)):
        db.session.add(
            Notification(
                kind=NotificationKind.NEW_REFERRAL,
                recipient_email="coordinator@example.nl",
                subject="s",
                body="b",
                created_at=now - timedelta(minutes=minutes),
                next_attempt_at=now,
                attempts=attempts,
            )
        )
    for state in (ReportJobState.QUEUED, ReportJobState.FAILED, ReportJobState.FAILED):
        db.session.add(
            ReportJob(
                programme=world.programme,
                period_start=local_today(),
                period_end=local_today(),
                requested_at=now,
                state=state,
            )
        )
    db.session.commit()

    scraped = scrape(client)
    assert scraped[("referrals_database_up", ())] == 1
    assert scraped[("referrals_outbox_depth", ())] == 2
    assert scraped[("referrals_outbox_failing", ())] == 1
    assert scraped[("referrals_outbox_in_flight", ())] == 0
    assert 600 <= scraped[("referrals_outbox_oldest_undelivered_seconds", ())] < 660
    jobs = {
        dict(labels)["state"]: value
        for (name, labels), value in scraped.items()
        if name == "referrals_report_jobs"
    }
    assert jobs == {"queued": 1, "running": 0, "done": 0, "failed": 2}
    assert scraped[("referrals_offers_overdue", ())] == 1
    assert scraped[("referrals_offers_expired", ())] == 1


def test_each_request_is_timed_per_endpoint(client, db):
    before = login_page_count(scrape(client))
    for _ in range(3):
        assert client.get("/login").status_code == 200
    after = scrape(client)
    assert login_page_count(after) == before + 3
    key = (
        "referrals_request_duration_seconds_bucket",
        (("endpoint", "auth.login"), ("le", "+Inf"), ("method", "GET"), ("status", "200")),
    )
    assert after[key] == login_page_count(after)
    # Scrapes do not count themselves.
    assert not [name for name, labels in after if ("endpoint", "main.metrics") in labels]


def test_only_the_monitoring_networks_see_the_metrics(app, client, db, monkeypatch):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 404
    assert b"referrals_" not in response.data
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    monkeypatch.setitem(
        app.extensions, "referrals.metrics_networks", [ipaddress.ip_network("10.20.0.0/16")]
    )
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.3.4"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 404


def test_a_typo_in_the_allowed_networks_stops_the_start():
    with pytest.raises(ValueError):
        make_app(UNREACHABLE["sqlite"], METRICS_ALLOWED_NETWORKS=["10.0.0.0/33"])


def test_without_a_proxy_a_forwarded_address_is_ignored():
    client = make_app(UNREACHABLE["sqlite"], PROXY_COUNT=0).test_client()
    spoofed = client.get(
        "/metrics",
        headers={"X-Forwarded-For": "127.0.0.1"},
        environ_base={"REMOTE_ADDR": "198.51.100.4"},
    )
    assert spoofed.status_code == 404


def test_a_request_whose_commit_fails_is_counted_once_with_its_503(app, client, db, monkeypatch):
    from sqlalchemy.exc import OperationalError

    key = ("endpoint", "auth.login"), ("method", "GET")

    def counts(scraped):
        return {
            dict(labels)["status"]: value
            for (name, labels), value in scraped.items()
            if name == "referrals_request_duration_seconds_count" and set(key) <= set(labels)
        }

    before = counts(scrape(client))

    def failing_commit():
        raise OperationalError("COMMIT", {}, Exception("connection lost"))

    monkeypatch.setattr(_db.session, "commit", failing_commit)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production
    assert client.get("/login").status_code == 503
    monkeypatch.undo()
    after = counts(scrape(client))
    assert after.get("503", 0) == before.get("503", 0) + 1
    assert after.get("200", 0) == before.get("200", 0)


def test_behind_a_proxy_the_forwarded_address_decides():
    app = make_app(UNREACHABLE["sqlite"], PROXY_COUNT=1)
    client = app.test_client()
    outside = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"})
    assert outside.status_code == 404
    inside = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
    assert inside.status_code == 200
    # Only the last hop counts: a client's own header in front of the proxy's does not.
    chained = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1, 198.51.100.4"})
    assert chained.status_code == 404


@pytest.mark.parametrize("kind", sorted(UNREACHABLE))
def test_a_scrape_answers_while_the_database_is_away(kind):
    app = make_app(UNREACHABLE[kind])
    started = time.monotonic()
    scraped = scrape(app.test_client())
    assert time.monotonic() - started < 2
    assert scraped[("referrals_database_up", ())] == 0
    assert ("referrals_outbox_depth", ()) not in scraped
    with app.app_context():
        _db.engine.dispose()


def test_one_scrape_counts_every_gunicorn_worker(app, tmp_path, databases):
    """Each worker stops after 5 requests (gunicorn --max-requests), so 30 requests are served
    by at least six processes, and one scrape, answered by one of them, counts all 30: those
    of the workers that stopped too."""
    from flask_migrate import upgrade

    url = databases.new("metrics")
    served = make_app(url)
    with served.app_context():
        upgrade()
        _db.session.remove()
        _db.engine.dispose()
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared)}
    restarting = ("--max-requests", "5", "--max-requests-jitter", "0")
    with LiveServer(url, workers=2, env=env, gunicorn_args=restarting) as server:
        for _ in range(30):
            assert requests.get(f"{server.url}/login", timeout=10).status_code == 200
        scraped = samples(requests.get(f"{server.url}/metrics", timeout=10).text)
        processes = {path.name for path in shared.glob("histogram_*.db")}
    assert login_page_count(scraped) == 30
    assert len(processes) >= 6
