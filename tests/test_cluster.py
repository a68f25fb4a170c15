"""The scaled-out set-up of `make cluster` (scripts/cluster.py): two gunicorn app servers behind
a round-robin proxy, one database, rate limits in Redis. Whichever server answers, a session,
a rate limit and a login lock hold: they are kept in the database and in Redis, not in a
process."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pyotp
import pytest
import requests
from flask_migrate import upgrade

from referrals.extensions import db as _db
from referrals.models import Role
from tests import factories
from tests.conftest import make_app
from tests.helpers import PASSWORD
from tests.live_server import free_port

ROOT = Path(__file__).resolve().parent.parent
RATE_LIMIT = 10


class Cluster:
    def __init__(self, database_url: str):
        self.port, self.app_ports = free_port(), [free_port(), free_port()]
        self.url = f"http://127.0.0.1:{self.port}"
        self.servers = [f"http://127.0.0.1:{port}" for port in self.app_ports]
        env = {
            **os.environ,
            # The suite's configuration, so that the servers read the user this test made.
            "REFERRALS_CONFIG": "testing",
            "LOGIN_RATE_LIMIT": f"{RATE_LIMIT} per minute",
            "RATELIMIT_KEY_PREFIX": f"test-cluster-{uuid.uuid4().hex}",
            "GUNICORN_WORKERS": "2",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "scripts/cluster.py",
                "--no-demo",
                "--port",
                str(self.port),
                "--app-ports",
                ",".join(map(str, self.app_ports)),
                "--database-url",
                database_url,
                "--redis-url",
                "redis://127.0.0.1:6379/1",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output: list[str] = []
        lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(lines,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if lines.get(timeout=1).strip() == "CLUSTER READY":
                    return
            except queue.Empty:
                if self.process.poll() is not None:
                    break
        self.stop()
        raise RuntimeError("the cluster did not start:\n" + "".join(self.output[-40:]))

    def _read(self, lines: queue.Queue) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            lines.put(line)

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._reader.join(timeout=10)  # it stops at the end of the output
        self.process.stdout.close()
        return self.process.returncode


@pytest.fixture(scope="module")
def people(databases):
    url = databases.new("cluster")
    app = make_app(url)
    with app.app_context():
        upgrade()
        user = factories.make_user(role=Role.REFERRER)
        _db.session.commit()
        found = {"url": url, "email": user.email, "name": user.name, "secret": user.totp_secret}
        _db.session.remove()
        _db.engine.dispose()
    return found


@pytest.fixture(scope="module")
def cluster(people):
    running = Cluster(people["url"])
    yield running
    assert running.stop() == 0, "".join(running.output[-40:])
    # Every process it started has stopped with it.
    assert not [p for p in running.output if "stopped with exit code" in p]


def log_in(http: requests.Session, base: str, people: dict, address: str | None = None):
    headers = {"X-Forwarded-For": address} if address else {}
    return http.post(
        f"{base}/login",
        data={"email": people["email"], "password": PASSWORD},
        headers=headers,
        allow_redirects=False,
        timeout=10,
    )


def test_a_session_started_through_one_server_holds_on_the_other(cluster, people):
    with requests.Session() as http:
        assert log_in(http, cluster.url, people).headers["Location"] == "/login/code"
        code = pyotp.TOTP(people["secret"]).now()
        second = http.post(
            f"{cluster.url}/login/code", data={"code": code}, allow_redirects=False, timeout=10
        )
        assert second.headers["Location"] == "/"
        answers = [http.get(f"{cluster.url}/referrals", timeout=10) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200] * 4
    assert all(people["name"] in answer.text for answer in answers)  # the header
    served_by = {answer.headers["X-Served-By"] for answer in answers}
    assert served_by == {f"127.0.0.1:{port}" for port in cluster.app_ports}


def test_a_rate_limit_reached_on_one_server_holds_on_the_other(cluster):
    """The servers trust one proxy (PROXY_COUNT=1): here the test is that proxy, naming the
    client, and it alternates between the servers itself."""
    statuses = []
    for n in range(RATE_LIMIT + 2):
        server = cluster.servers[n % 2]
        response = requests.post(
            f"{server}/login",
            data={"email": "nobody@example.nl", "password": "wrong"},
            headers={"X-Forwarded-For": "198.51.100.20"},
            timeout=10,
        )
        statuses.append(response.status_code)
    assert statuses == [200] * RATE_LIMIT + [429, 429]
    # Another client is counted on its own.
    other = requests.post(
        f"{cluster.servers[0]}/login",
        data={"email": "nobody@example.nl", "password": "wrong"},
        headers={"X-Forwarded-For": "198.51.100.21"},
        timeout=10,
    )
    assert other.status_code == 200


def test_a_login_lock_from_failures_on_both_servers_holds_on_either(cluster, people):
    failing = "198.51.100.30"
    for n in range(5):
        wrong = requests.post(
            f"{cluster.servers[n % 2]}/login",
            data={"email": people["email"], "password": "not-the-password"},
            headers={"X-Forwarded-For": failing},
            allow_redirects=False,
            timeout=10,
        )
        assert wrong.status_code == 200
    for server in cluster.servers:
        with requests.Session() as http:
            locked = log_in(http, server, people, address=failing)
        assert locked.status_code == 200  # the login page again, not the code step
        assert "Location" not in locked.headers
    with requests.Session() as http:
        elsewhere = log_in(http, cluster.servers[1], people, address="198.51.100.31")
    assert elsewhere.headers["Location"] == "/login/code"


def test_the_metrics_of_each_server_are_its_own(cluster):
    for server in cluster.servers:
        response = requests.get(f"{server}/metrics", timeout=10)
        assert response.status_code == 200
        assert "referrals_database_up 1.0" in response.text
