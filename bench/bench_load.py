"""Benchmark: the product under HTTP load as `make cluster` runs it (two gunicorn app servers
behind a round-robin proxy, with its report, e-mail and offer workers), against a bare Flask
"hello" app served the same way.

Run with `make bench-load` (part of `make bench`) or `python -m bench.bench_load`. It takes a
working copy of the cached synthetic national data set (bench/datasets.py; BENCH_LOAD_REFERRALS,
default 200,000 referrals over BENCH_LOAD_PROGRAMMES=300 programmes, the largest with
BENCH_LOAD_LARGEST=10,000: the figures of bench_uptake; the load adds rows, so the copy is
dropped afterwards), opens login sessions for
BENCH_LOAD_ACCOUNTS (10) accounts of each role (referrer at a GP practice, coordinator,
therapist, officer: half of each in the largest programme), and starts scripts/cluster.py with
REFERRALS_CONFIG=production on free ports (Redis db 1, --no-demo, GUNICORN_WORKERS=2), and two
gunicorn servers of bench/hello_app.py (2 sync workers each) behind the same round-robin proxy.
Locust then drives them, in a subprocess of its own (gevent stays out of this process), with
BENCH_LOAD_USERS (50) users, each waiting 1 to 3 s between pages:

1. the hello app alone for BENCH_LOAD_HELLO_SECONDS (10 s): the baseline;
2. phase "normal", BENCH_LOAD_SECONDS (45 s) once all users run: referrers list and open their
   referrals and submit new ones through the form; coordinators open the triage queue and
   referrals, and offer submitted referrals to a therapist of the programme (the match page,
   then its POST; each referral of a pool picked beforehand is offered once); therapists open
   their offers and trajectory pages and log a session (the form, then its POST, once per
   trajectory of a pool of open ones); officers open the uptake dashboard and its CSV export.
   One more user asks the hello app every 0.2-0.4 s throughout, to show what the load does to
   the machine itself;
3. phase "while two reports render": at its start two officer users each ask for a report of
   the largest programme through the dashboard's form (its last year and last two years); the
   cluster's report workers render them, and the phase lasts until both jobs are done (or
   failed) or BENCH_LOAD_REPORT_SECONDS (120 s) passed, the load going on throughout.

It prints for each phase the requests per second and per page the requests, p50, p95, errors,
the p50 as a multiple of hello's and the app's own p50 (from the JSON request log); the errors
per phase; and how long the renders took. Figures only: it exits 0 however slow a page is, and
nonzero when a server does not start or Locust fails. The session cookie is Secure in
production, so each simulated user sends it in its own Cookie header (and takes over any new
one the server sets). BASE_URL is https://127.0.0.1: cluster.py asks its app servers for /ready
with Host 127.0.0.1, which production refuses for any other BASE_URL host.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REFERRALS = int(os.environ.get("BENCH_LOAD_REFERRALS", "200000"))
PROGRAMMES = int(os.environ.get("BENCH_LOAD_PROGRAMMES", "300"))
LARGEST = int(os.environ.get("BENCH_LOAD_LARGEST", "10000"))
ACCOUNTS = int(os.environ.get("BENCH_LOAD_ACCOUNTS", "10"))
USERS = int(os.environ.get("BENCH_LOAD_USERS", "50"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "45"))
HELLO_SECONDS = float(os.environ.get("BENCH_LOAD_HELLO_SECONDS", "10"))
REPORT_SECONDS = float(os.environ.get("BENCH_LOAD_REPORT_SECONDS", "120"))
SPAWN_RATE = float(os.environ.get("BENCH_LOAD_SPAWN_RATE", "10"))
WORKERS = 2  # gunicorn sync workers per app server, in the cluster and for hello
POOL = 40  # referrals to offer, and trajectories to log a session for, per account
WAIT = (1.0, 3.0)  # seconds a simulated user waits between pages
PROBE_WAIT = (0.2, 0.4)
REPORT_PERIODS = ("year", "all")  # the two reports: the largest programme's year to date, and
# the programme to date (fixed periods, as officers choose them)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
HOST = "127.0.0.1"
BASE_URL = f"https://{HOST}"
COOKIE_NAME = "rt_session"  # config.default.SESSION_COOKIE_NAME
ROLES = ("referrer", "coordinator", "therapist", "officer")
PHASES = (("normal", "normal"), ("reports", "while two reports render"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the data set and the accounts ---------------------------------------------------------


def _spread(index: int, programme_ids: list[int]) -> int:
    """Even accounts in the largest programme, odd ones over the others."""
    if index % 2 == 0 or len(programme_ids) == 1:
        return programme_ids[0]
    return programme_ids[1 + (index // 2) % (len(programme_ids) - 1)]


def prepare(url: str, secret: str, largest_programme_id: int) -> dict:
    """Open the sessions on the data set at `url`; the accounts and what they visit."""
    import sqlalchemy as sa

    from referrals import create_app
    from referrals.extensions import db
    from referrals.models import (
        Organisation,
        OrganisationKind,
        Programme,
        Referral,
        ReferralState,
        Role,
        Trajectory,
        User,
        local_today,
        programme_coordinators,
        programme_referrers,
        programme_therapists,
        utcnow,
    )
    from referrals.models import Therapist as TherapistRow
    from referrals.services import ServiceError, trajectories
    from referrals.services.accounts import login_sessions
    from referrals.services.referrals.matching import match_referral
    from referrals.services.trajectories.training_sessions import taken_on_day
    from referrals.services.uptake import periods

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret})
    with app.app_context():
        # The cached data set has a postcode area per programme (a new referral needs one).
        programme_ids = list(db.session.scalars(sa.select(Programme.id).order_by(Programme.id)))
        assert programme_ids[0] == largest_programme_id

    def sample(statement, n: int = 100) -> list[int]:
        return list(db.session.scalars(statement.order_by(sa.func.random()).limit(n)))

    # The production app (same key) signs the cookies the production servers read.
    production = create_app(
        "production", {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret, "BASE_URL": BASE_URL}
    )
    serializer = production.session_interface.get_signing_serializer(production)
    plan: dict[str, list[dict]] = {role: [] for role in ROLES}
    offered: set[int] = set()  # each submitted referral in one coordinator's pool only
    logged: set[int] = set()  # each trajectory in one therapist account's pool only
    with app.test_request_context(headers={"User-Agent": "bench-load"}):
        now, today = utcnow(), local_today()
        for i in range(ACCOUNTS):
            programme_id = _spread(i, programme_ids)
            programme = db.session.get(Programme, programme_id)
            gps = list(
                db.session.scalars(
                    sa.select(User)
                    .join(Organisation, User.organisation_id == Organisation.id)
                    .join(
                        programme_referrers,
                        programme_referrers.c.organisation_id == Organisation.id,
                    )
                    .where(
                        programme_referrers.c.programme_id == programme_id,
                        Organisation.kind == OrganisationKind.GP_PRACTICE,
                        User.role == Role.REFERRER,
                    )
                    .order_by(User.id)
                )
            )
            gp = gps[(i // 2) % len(gps)]
            therapists = list(
                db.session.scalars(
                    sa.select(TherapistRow)
                    .join(programme_therapists)
                    .where(programme_therapists.c.programme_id == programme_id)
                    .order_by(TherapistRow.id)
                )
            )
            therapist = therapists[(i // 2) % len(therapists)]
            therapist_user = db.session.get(User, therapist.user_id)
            coordinator, officer = (
                User(
                    organisation_id=programme.funder_id,
                    email=f"{role.value}-{i}@bench.invalid",
                    name=f"Bench {role.value} {i}",
                    role=role,
                    password_hash="!bench",  # noqa: S106 - no valid hash: no login
                    password_changed_at=now,
                )
                for role in (Role.COORDINATOR, Role.OFFICER)
            )
            db.session.add_all([coordinator, officer])
            db.session.flush()
            db.session.execute(
                programme_coordinators.insert().values(
                    programme_id=programme_id, user_id=coordinator.id
                )
            )
            in_programme = sa.select(Referral.id).where(Referral.programme_id == programme_id)
            # Submitted referrals to offer, each to the therapist ranked best for it.
            offers = []
            for referral_id in sample(
                in_programme.where(
                    Referral.state == ReferralState.SUBMITTED, Referral.id.not_in(offered or [0])
                ),
                2 * POOL,
            ):
                best = match_referral(db.session.get(Referral, referral_id), today).best
                if best is not None and len(offers) < POOL:
                    offers.append([referral_id, best.therapist.id])
                    offered.add(referral_id)
            # Open trajectories of the therapist with an intake and a plan (the synthetic set
            # has no plans: the intake is recorded here) and no session today.
            sessions = []
            for trajectory_id in sample(
                sa.select(Trajectory.id).where(
                    Trajectory.therapist_id == therapist.id,
                    Trajectory.closed_at.is_(None),
                    Trajectory.intake_on.is_not(None),
                    Trajectory.id.not_in(logged or [0]),
                ),
                POOL,
            ):
                trajectory = db.session.get(Trajectory, trajectory_id)
                if trajectory.plan is None:
                    try:
                        trajectories.record_intake(
                            trajectory,
                            actor=therapist_user,
                            intake_on=min(trajectory.intake_on, today),
                            can_walk_min=min(trajectory.can_walk_min or 20, 60),
                            can_run_min=min(trajectory.can_run_min or 1, 3),
                            remarks="",
                            template="standard",
                        )
                    except ServiceError:
                        continue
                if not taken_on_day(today, None, trajectory):
                    sessions.append(trajectory_id)
                    logged.add(trajectory_id)
            plan["referrer"].append(
                dict(
                    user=gp,
                    programme_id=programme_id,
                    referral_ids=sample(
                        sa.select(Referral.id).where(
                            Referral.referring_organisation_id == gp.organisation_id
                        )
                    ),
                )
            )
            plan["coordinator"].append(
                dict(
                    user=coordinator,
                    programme_id=programme_id,
                    referral_ids=sample(in_programme),
                    offers=offers,
                )
            )
            plan["therapist"].append(
                dict(
                    user=therapist_user,
                    trajectory_ids=sample(
                        sa.select(Trajectory.id).where(Trajectory.therapist_id == therapist.id)
                    ),
                    sessions=sessions,
                )
            )
            plan["officer"].append(dict(user=officer, programme_id=programme_id))
        for accounts in plan.values():
            for account in accounts:
                user = account.pop("user")
                token = login_sessions.start_session(user)
                account["cookie"] = serializer.dumps({"_user_id": token, "_fresh": True})
        largest = db.session.get(Programme, programme_ids[0])
        choosable = periods.available(largest, today)
        reports = [
            dict(programme_id=largest.id, period=period.key, days=(period.end - period.start).days)
            for kind in REPORT_PERIODS
            for period in [next(p for p in choosable if p.kind == kind)]
        ]
        db.session.commit()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    with production.app_context():
        db.engine.dispose()
    return {"accounts": plan, "reports": reports}


# --- the servers ---------------------------------------------------------------------------


class Process:
    """A server command in a process group of its own, its output in a log file."""

    label = ""

    def start(self, command: list[str], env: dict, log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            command,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def check_running(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.label}: stopped with exit code {self.process.returncode}")

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def wait_for_http(server: Process, url: str, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check_running()
        try:
            if requests.get(url, headers={"Host": HOST}, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.label}: {url} did not answer within {timeout:.0f} s")


class Cluster(Process):
    """scripts/cluster.py: two app servers behind its proxy, and two of each worker."""

    label = "cluster"

    def __init__(self, url: str, env: dict, log_path: Path):
        self.port = free_port()
        self.app_ports = [free_port(), free_port()]
        self.url = f"http://127.0.0.1:{self.port}"
        self.start(
            [
                sys.executable,
                str(ROOT / "scripts" / "cluster.py"),
                "--port",
                str(self.port),
                "--app-ports",
                ",".join(map(str, self.app_ports)),
                "--database-url",
                url,
                "--redis-url",
                REDIS_URL,
                "--no-demo",
            ],
            env,
            log_path,
        )

    def wait_until_up(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_running()
            if "CLUSTER READY" in self.log_path.read_text(errors="replace"):
                return wait_for_http(self, self.url + "/health", 30)
            time.sleep(0.3)
        raise RuntimeError(f"cluster: not ready within {timeout:.0f} s")

    def stop(self, timeout: float = 60) -> None:
        super().stop(timeout)  # cluster.py stops its app servers and workers on SIGTERM
        shutil.rmtree(ROOT / "instance" / f"cluster-{self.port}", ignore_errors=True)


class Gunicorn(Process):
    """gunicorn with WORKERS sync workers on a free port."""

    def __init__(self, label: str, app_spec: str, env: dict, log_path: Path):
        self.label = label
        self.port = free_port()
        self.start(
            [str(BIN / "gunicorn"), "--workers", str(WORKERS)]
            + ["--bind", f"127.0.0.1:{self.port}", app_spec],
            env,
            log_path,
        )

    def wait_until_up(self) -> None:
        wait_for_http(self, f"http://127.0.0.1:{self.port}/")


class Proxy(Process):
    """scripts/round_robin_proxy.py in a process of its own, as the cluster runs it."""

    def __init__(self, label: str, backend_ports: list[int], env: dict, log_path: Path):
        self.label = label
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start(
            [sys.executable, "-m", "bench.bench_load", "--proxy", str(self.port)]
            + [str(port) for port in backend_ports],
            env,
            log_path,
        )

    def wait_until_up(self) -> None:
        wait_for_http(self, self.url + "/")


def serve_proxy(port: int, backend_ports: list[int]) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from round_robin_proxy import make_proxy

    proxy = make_proxy(port, [("127.0.0.1", backend) for backend in backend_ports])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    proxy.serve_forever()


def smoke_test(config: dict) -> None:
    """One request per page before the load (which also warms the workers); says what fails."""
    import requests

    for method, path, role in pages_to_check(config["accounts"]):
        account = config["accounts"][role][0]
        answer = requests.request(
            method,
            config["product_url"] + path,
            headers={"Host": HOST, "Cookie": f"{COOKIE_NAME}={account['cookie']}"},
            allow_redirects=False,
            timeout=60,
        )
        if answer.status_code != 200:
            print(f"warning: {path} as {role} answers {answer.status_code} before the load")


def pages_to_check(plan: dict) -> list[tuple[str, str, str]]:
    referrer, coordinator = plan["referrer"][0], plan["coordinator"][0]
    therapist, officer = plan["therapist"][0], plan["officer"][0]
    checks = [
        ("GET", "/referrals", "referrer"),
        ("GET", f"/referrals/new/{referrer['programme_id']}", "referrer"),
        ("GET", "/referrals", "coordinator"),
        ("GET", "/triage", "coordinator"),
        ("GET", "/offers", "therapist"),
        ("GET", f"/uptake/{officer['programme_id']}", "officer"),
        ("GET", f"/uptake/{officer['programme_id']}/export.csv?period=all", "officer"),
    ]
    if referrer["referral_ids"]:
        checks.append(("GET", f"/referrals/{referrer['referral_ids'][0]}", "referrer"))
    if coordinator["referral_ids"]:
        checks.append(("GET", f"/referrals/{coordinator['referral_ids'][0]}", "coordinator"))
    if coordinator["offers"]:
        checks.append(("GET", f"/triage/{coordinator['offers'][0][0]}/match", "coordinator"))
    if therapist["trajectory_ids"]:
        checks.append(("GET", f"/trajectories/{therapist['trajectory_ids'][0]}", "therapist"))
    if therapist["sessions"]:
        checks.append(
            ("GET", f"/trajectories/{therapist['sessions'][0]}/sessions/new", "therapist")
        )
    return checks


# --- the load (the Locust subprocess) ------------------------------------------------------

INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
SUBMITTED = re.compile(r"^(https?://[^/]+)?/referrals/\d+$")  # the new referral's page
OFFERED = re.compile(r"^(https?://[^/]+)?/triage$")  # back to the queue: offered
LOGGED = re.compile(r"^(https?://[^/]+)?/trajectories/\d+#progress$")  # the session is logged
QUEUED = re.compile(r"^(https?://[^/]+)?/uptake/\d+\?.*period=")  # the report is queued


def hidden_fields(page: str) -> dict[str, str]:
    fields = {}
    for tag in INPUT.findall(page):
        attributes = {k.lower(): html.unescape(v) for k, v in ATTRIBUTE.findall(tag)}
        if attributes.get("type") == "hidden" and "name" in attributes:
            fields.setdefault(attributes["name"], attributes.get("value", ""))
    return fields


def user_classes(config: dict, state: dict) -> dict[str, list]:
    """The Locust users of each phase, built after Locust (and so gevent) is imported.
    `state["reports"]` holds the report requests still to make (filled when phase 3 starts)."""
    import random

    from locust import HttpUser, between, task

    rng = random.Random()  # noqa: S311 - which page next, not a secret
    pick = rng.choice

    taken = {role: itertools.count() for role in config["accounts"]}

    class Hello(HttpUser):
        host = config["hello_url"]
        wait_time = between(*WAIT)
        name = "hello"

        @task
        def hello(self):
            with self.client.get(
                "/", name=self.name, headers={"Host": HOST}, catch_response=True
            ) as answer:
                if answer.status_code != 200:
                    answer.failure(f"HTTP {answer.status_code}")

    class HelloDuringLoad(Hello):
        fixed_count = 1
        wait_time = between(*PROBE_WAIT)
        name = "hello (during load)"

    class Product(HttpUser):
        abstract = True
        host = config["product_url"]
        wait_time = between(*WAIT)
        role = ""

        def on_start(self):
            pool = config["accounts"][self.role]
            self.account = pool[next(taken[self.role]) % len(pool)]
            self.cookie = self.account["cookie"]

        def request(self, method, page, path, expect=200, location=None, **kwargs):
            """One request with the session cookie by hand (it is Secure; this is plain HTTP),
            taking over a new cookie the server sets (CSRF token, flashed messages). A redirect
            expected must go where `location` (a pattern) says."""
            request_id = uuid.uuid4().hex  # joins the sample to the server's log line
            headers = {
                "Host": HOST,
                "Cookie": f"{COOKIE_NAME}={self.cookie}",
                "X-Request-ID": request_id,
            }
            with self.client.request(
                method,
                path,
                name=f"{page} ({self.role})",
                headers=headers,
                context={"request_id": request_id},
                allow_redirects=False,
                catch_response=True,
                **kwargs,
            ) as answer:
                if COOKIE_NAME in answer.cookies:
                    self.cookie = answer.cookies[COOKIE_NAME]
                if answer.status_code != expect:
                    answer.failure(f"HTTP {answer.status_code}")
                elif location is not None:
                    where = answer.headers.get("Location", "")
                    if not location.search(where):
                        answer.failure(f"redirected to {where}")
                return answer

        def referral_list(self):
            self.request("GET", "referral list", "/referrals")

        def referral_page(self):
            if self.account["referral_ids"]:
                referral_id = pick(self.account["referral_ids"])
                self.request("GET", "referral page", f"/referrals/{referral_id}")

        def dashboard(self, programme_id=None):
            programme_id = programme_id or self.account["programme_id"]
            return self.request("GET", "uptake dashboard", f"/uptake/{programme_id}")

        def export(self):
            path = f"/uptake/{self.account['programme_id']}/export.csv?period=all"
            self.request("GET", "CSV export", path)

    class Referrer(Product):
        role = "referrer"
        weight = 4

        @task(3)
        def list_(self):
            self.referral_list()

        @task(3)
        def page(self):
            self.referral_page()

        @task(1)
        def new_referral(self):
            path = f"/referrals/new/{self.account['programme_id']}"
            form = self.request("GET", "new referral form", path)
            if form.status_code != 200:
                return
            hidden = hidden_fields(form.text)
            data = {
                "csrf_token": hidden.get("csrf_token", ""),
                "submission_key": hidden.get("submission_key", ""),
                "confirm_duplicate": "",
                "first_name": "Bench",
                "last_name": f"Load {uuid.uuid4().hex[:10]}",
                "date_of_birth": "1-3-1980",
                "postcode": "2201 AB",
                "phone": "06 12345678",
                "email": "",
                "bsn": "",
                "reasons": ["stress", "low_mood"],
                "description": "Benchmark referral: synthetic, no real person.",
                "preferred_form": "either",
                "preferred_days": ["tue"],
                "consent_to_refer": "y",
                "consent_share_progress": "y",
            }
            self.request(
                "POST", "new referral POST", path, expect=302, location=SUBMITTED, data=data
            )

    class Coordinator(Product):
        role = "coordinator"
        weight = 3

        @task(2)
        def list_(self):
            self.referral_list()

        @task(2)
        def page(self):
            self.referral_page()

        @task(3)
        def triage(self):
            self.request("GET", "triage queue", "/triage")

        @task(2)
        def offer(self):
            """The match page of a submitted referral, then the offer to the best-ranked
            therapist (as the page's button does); each referral of the pool once."""
            if not self.account["offers"]:
                return
            referral_id, therapist_id = self.account["offers"].pop()
            path = f"/triage/{referral_id}"
            form = self.request("GET", "match page", path + "/match")
            if form.status_code != 200:
                return
            data = {
                "csrf_token": hidden_fields(form.text).get("csrf_token", ""),
                "therapist_id": str(therapist_id),
            }
            self.request("POST", "offer POST", path + "/offer", 302, OFFERED, data=data)

    class TherapistUser(Product):
        role = "therapist"
        weight = 2

        @task(2)
        def offers(self):
            self.request("GET", "offers list", "/offers")

        @task(3)
        def trajectory(self):
            if self.account["trajectory_ids"]:
                trajectory_id = pick(self.account["trajectory_ids"])
                self.request("GET", "trajectory page", f"/trajectories/{trajectory_id}")

        @task(1)
        def log_session(self):
            """The session form of an open trajectory, then its POST: present, today (a
            session nearby confirmed); each trajectory of the pool once."""
            if not self.account["sessions"]:
                return
            trajectory_id = self.account["sessions"].pop()
            path = f"/trajectories/{trajectory_id}/sessions/new"
            form = self.request("GET", "session form", path)
            if form.status_code != 200:
                return
            hidden = hidden_fields(form.text)
            today = time.strftime("%Y-%m-%d")
            prefix = f"m{trajectory_id}"
            data = {
                "csrf_token": hidden.get("csrf_token", ""),
                "held_on": today,
                "confirm_near": "y",
                "confirm_for": today,
                f"{prefix}-attendance": "present",
                f"{prefix}-done_run_min": "6",
                f"{prefix}-done_total_min": "30",
                f"{prefix}-borg": "13",
                f"{prefix}-note": "Benchmark session.",
            }
            self.request("POST", "session POST", path, 302, LOGGED, data=data)

    class Officer(Product):
        role = "officer"
        weight = 1

        def on_start(self):
            super().on_start()
            self.asked = False

        @task(3)
        def uptake(self):
            if not self.ask_for_report():
                self.dashboard()

        @task(1)
        def csv(self):
            if not self.ask_for_report():
                self.export()

        def ask_for_report(self) -> bool:
            """In phase 3, once per user: the dashboard of the largest programme as an officer
            of it, and the report form's POST for a period."""
            if self.asked or not state["reports"]:
                return False
            self.asked = True
            wanted = state["reports"].pop(0)
            own = self.cookie
            self.cookie = wanted["cookie"]  # an officer account of the largest programme
            try:
                form = self.dashboard(wanted["programme_id"])
                if form.status_code != 200:
                    return True
                data = {
                    "csrf_token": hidden_fields(form.text).get("csrf_token", ""),
                    "period": wanted["period"],
                }
                path = f"/uptake/{wanted['programme_id']}/reports"
                answer = self.request("POST", "report request POST", path, 302, QUEUED, data=data)
                print(f"asked {wanted['days']} {time.time():.3f} {answer.status_code}", flush=True)
            finally:
                self.cookie = own
            return True

    return {
        "hello": [Hello],
        "product": [Referrer, Coordinator, TherapistUser, Officer, HelloDuringLoad],
    }


def drive(config_path: str, results_path: str) -> None:
    """The Locust process: the hello phase, then the product's phases 2 and 3 in one run of its
    users; its samples to `results_path`, and lines `<event> <time>` on stdout: 'hello-ramped'
    and 'ramped' when all users of a phase run, 'reports' when phase 3 starts, 'ended' at the
    end. Phase 3 ends when the file `<results_path>.stop` appears (the parent watches the report
    jobs)."""
    import gevent
    from locust.env import Environment

    config = json.loads(Path(config_path).read_text())
    state: dict = {"reports": []}
    classes = user_classes(config, state)
    samples: list[list] = []
    stop_file = Path(results_path + ".stop")

    def on_request(
        name, response_time, exception=None, start_time=None, context=None, response=None, **_
    ):
        error = None if exception is None else str(exception)[:200]
        # The id the app logged: the proxy in front replaces the client's with its own (as a
        # load balancer does), and the app sends the one it used back in X-Request-ID.
        answered = getattr(response, "headers", None) or {}
        request_id = answered.get("X-Request-ID") or (context or {}).get("request_id")
        samples.append([name, start_time or time.time(), response_time, error, request_id])

    for phase in ("hello", "product"):
        environment = Environment(user_classes=classes[phase])
        environment.events.request.add_listener(on_request)
        runner = environment.create_local_runner()
        started = time.monotonic()
        runner.start(config["users"], spawn_rate=config["spawn_rate"])
        while runner.state != "running" and time.monotonic() - started < 120:
            gevent.sleep(0.1)
        if phase == "hello":
            print(f"hello-ramped {time.time():.3f}", flush=True)
            gevent.sleep(config["hello_seconds"])
        else:
            print(f"ramped {time.time():.3f}", flush=True)
            gevent.sleep(config["seconds"])
            state["reports"].extend(config["reports"])
            print(f"reports {time.time():.3f}", flush=True)
            deadline = time.monotonic() + config["report_seconds"]
            while not stop_file.exists() and time.monotonic() < deadline:
                gevent.sleep(0.2)
            print(f"ended {time.time():.3f}", flush=True)
        runner.quit()
        runner.greenlet.join(timeout=30)
    Path(results_path).write_text(json.dumps(samples))


# --- the figures ---------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def server_times(log_path: Path) -> dict[str, float]:
    """Each request's time inside the app (its JSON request log line), by request id."""
    times = {}
    for line in log_path.read_text(errors="replace").splitlines():
        if '"request_id"' not in line or '"duration_ms"' not in line:
            continue
        try:
            entry = json.loads(line[line.index("{") :])
        except ValueError:
            continue
        if entry.get("request_id") and entry.get("duration_ms") is not None:
            times[entry["request_id"]] = entry["duration_ms"]
    return times


def split_phases(samples: list[list], events: dict) -> dict[str, list[list]]:
    """The samples of each phase by their start time; ramp-up (users still starting) apart."""
    phases: dict[str, list[list]] = {"hello": [], "ramp-up": [], "normal": [], "reports": []}
    for sample in samples:
        name, at = sample[0], sample[1]
        if name == "hello":
            phases["hello" if at >= events["hello-ramped"] else "ramp-up"].append(sample)
        elif at < events["ramped"]:
            phases["ramp-up"].append(sample)
        elif at < events["reports"]:
            phases["normal"].append(sample)
        elif at <= events["ended"]:
            phases["reports"].append(sample)
    return phases


def phase_table(
    samples: list[list], seconds: float, hello_p50: float, server_ms: dict, baseline=False
) -> int:
    by_name: dict[str, list[list]] = {}
    for sample in samples:
        by_name.setdefault(sample[0], []).append(sample)
    counted = samples if baseline else [s for s in samples if not s[0].startswith("hello")]
    print(
        f"{len(counted)} requests in {seconds:.0f} s: {len(counted) / max(seconds, 1):.1f} "
        "requests/s" + ("" if baseline else " (the hello probe not counted)")
    )
    print(
        f"{'page (role)':<36} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6} "
        f"{'p50/hello':>9} {'app p50':>8}"
    )
    total_errors = 0
    for name in sorted(by_name, key=lambda n: (n.startswith("hello"), n)):
        rows = by_name[name]
        times = [s[2] for s in rows]
        errors = sum(1 for s in rows if s[3] is not None)
        total_errors += errors
        p50 = statistics.median(times)
        ratio = "" if name == "hello" else f"{p50 / hello_p50:.1f}x"
        inside = [server_ms[s[4]] for s in rows if s[4] in server_ms]
        app_p50 = f"{statistics.median(inside):.1f}" if inside else ""
        print(
            f"{name:<36} {len(rows):>8} {p50:>8.1f} {percentile(times, 0.95):>8.1f} "
            f"{errors:>6} {ratio:>9} {app_p50:>8}"
        )
    return total_errors


def report(samples: list[list], events: dict, jobs: list[dict], server_ms: dict) -> int:
    phases = split_phases(samples, events)
    hello = [s[2] for s in phases["hello"] if s[3] is None]
    hello_p50 = statistics.median(hello) if hello else float("nan")
    print(f"\n== baseline: hello alone ({USERS} users, {HELLO_SECONDS:.0f} s once all run)")
    phase_table(phases["hello"], HELLO_SECONDS, hello_p50, server_ms, baseline=True)
    print(f"(ramp-ups, users still starting: {len(phases['ramp-up'])} requests, not counted)")
    bounds = {
        "normal": (events["ramped"], events["reports"]),
        "reports": (events["reports"], events["ended"]),
    }
    errors = {}
    for phase, title in PHASES:
        start, end = bounds[phase]
        print(f"\n== phase '{title}' ({USERS} users, {end - start:.0f} s)")
        errors[phase] = phase_table(phases[phase], end - start, hello_p50, server_ms)
    print()
    for phase, title in PHASES:
        print(f"errors in phase '{title}': {errors[phase]}")
    print(f"errors in the hello baseline: {sum(1 for s in phases['hello'] if s[3] is not None)}")
    counted = {}
    for s in samples:
        if s[3] is not None:
            counted[(s[0], s[3])] = counted.get((s[0], s[3]), 0) + 1
    for (name, error), count in sorted(counted.items(), key=lambda e: -e[1])[:10]:
        print(f"  {count} x {name}: {error}")
    print(
        f"report requests: {', '.join(events['asked']) or 'none made'} "
        + "(at "
        + ", ".join(f"{t - events['reports']:.1f} s" for t in events["asked_at"])
        + " into phase 3)"
    )
    if not jobs:
        print("report renders: no report job found")
    for job in jobs:
        done = job["finished_at"] is not None
        waited = (job["started_at"] or events["ended"]) - job["requested_at"]
        rendered = (job["finished_at"] or events["ended"]) - (job["started_at"] or math.nan)
        print(
            f"report {job['period_start']} to {job['period_end']}: {job['state']}"
            + (f" ({job['error']})" if job["error"] else "")
            + f", {waited:.1f} s queued, "
            + (f"rendered in {rendered:.1f} s" if done else f"not done after {rendered:.1f} s")
            + f", {(job['finished_at'] or events['ended']) - job['requested_at']:.1f} s in all"
        )
    return sum(errors.values())


def report_jobs(engine) -> list[dict]:
    import sqlalchemy as sa

    with engine.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT state, period_start, period_end, error,"
                " EXTRACT(EPOCH FROM requested_at) AS requested_at,"
                " EXTRACT(EPOCH FROM started_at) AS started_at,"
                " EXTRACT(EPOCH FROM finished_at) AS finished_at"
                " FROM report_jobs ORDER BY id"
            )
        ).mappings()
        return [
            {
                k: float(v) if k.endswith("_at") and v is not None else v
                for k, v in dict(row).items()
            }
            for row in rows
        ]


def watch_reports(url: str, stop_file: Path, jobs: list[dict], deadline: float) -> None:
    """Phase 3 ends when both report jobs are done (or failed), or at `deadline`."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        while time.time() < deadline:
            found = report_jobs(engine)
            jobs[:] = found
            if len(found) >= len(REPORT_PERIODS) and all(
                j["state"] in ("done", "failed") for j in found
            ):
                break
            time.sleep(0.5)
        stop_file.touch()
    finally:
        engine.dispose()


def count_rows(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    queries = {
        "new referrals": "SELECT COUNT(*) FROM participants WHERE last_name LIKE 'Load %'",
        "sessions logged": "SELECT COUNT(*) FROM session_attendances"
        " WHERE note = 'Benchmark session.'",
        "offers made": "SELECT COUNT(*) FROM offers WHERE offered_by_id IN"
        " (SELECT id FROM users WHERE email LIKE 'coordinator-%@bench.invalid')",
    }
    try:
        with engine.connect() as c:
            return {name: c.scalar(sa.text(query)) for name, query in queries.items()}
    finally:
        engine.dispose()


def answered(samples: list[list], page: str) -> int:
    return sum(1 for s in samples if s[0].startswith(page) and s[3] is None)


def run(url: str, tmp: Path, largest_programme_id: int) -> int:
    secret = secrets.token_urlsafe(48)
    prepared = prepare(url, secret, largest_programme_id)
    env = {
        **os.environ,
        "REFERRALS_CONFIG": "production",
        "SECRET_KEY": secret,
        "BASE_URL": BASE_URL,
        "LOG_FORMAT": "json",
        "RATELIMIT_KEY_PREFIX": f"bench-load-{uuid.uuid4().hex[:8]}",
        "LOGIN_RATE_LIMIT": "100000 per minute",
        "GUNICORN_WORKERS": str(WORKERS),
        "MAIL_BACKEND": "folder",  # the e-mail workers write .eml files: no SMTP server here
        "MAIL_FOLDER": str(tmp / "outbox"),
        "PYTHONUNBUFFERED": "1",
    }
    servers: list[Process] = []
    try:
        cluster = Cluster(url, env, tmp / "cluster.log")
        servers.append(cluster)
        hellos = [
            Gunicorn(f"hello{n}", "bench.hello_app:app", env, tmp / f"hello{n}.log") for n in (1, 2)
        ]
        servers.extend(hellos)
        for server in servers:
            try:
                server.wait_until_up()
            except RuntimeError as error:
                print(f"error: {error}\n{server.log_tail()}", file=sys.stderr)
                return 2
        proxy = Proxy("hello proxy", [h.port for h in hellos], env, tmp / "proxy.log")
        servers.append(proxy)
        try:
            proxy.wait_until_up()
        except RuntimeError as error:
            print(f"error: {error}\n{proxy.log_tail()}", file=sys.stderr)
            return 2
        print(
            f"cluster on {cluster.url} (app servers {cluster.app_ports}, {WORKERS} sync workers "
            f"each, report workers polling every 5 s); hello on {proxy.url} "
            f"(gunicorn {[h.port for h in hellos]}, {WORKERS} sync workers each)"
        )
        officers = [
            a
            for a in prepared["accounts"]["officer"]
            if a["programme_id"] == prepared["reports"][0]["programme_id"]
        ]
        config = {
            "product_url": cluster.url,
            "hello_url": proxy.url,
            "users": USERS,
            "seconds": SECONDS,
            "hello_seconds": HELLO_SECONDS,
            "report_seconds": REPORT_SECONDS,
            "spawn_rate": SPAWN_RATE,
            "accounts": prepared["accounts"],
            "reports": [
                {**wanted, "cookie": officers[n % len(officers)]["cookie"]}
                for n, wanted in enumerate(prepared["reports"])
            ],
        }
        smoke_test(config)
        config_path, results_path = tmp / "config.json", tmp / "samples.json"
        stop_file = Path(str(results_path) + ".stop")
        config_path.write_text(json.dumps(config))
        pools = {
            "offers": sum(len(a["offers"]) for a in config["accounts"]["coordinator"]),
            "sessions": sum(len(a["sessions"]) for a in config["accounts"]["therapist"]),
        }
        print(
            f"load: hello alone for {HELLO_SECONDS:.0f} s, then the product for {SECONDS:.0f} s "
            f"and until two reports are rendered (at most {REPORT_SECONDS:.0f} s); {USERS} users, "
            f"{WAIT[0]:g}-{WAIT[1]:g} s between pages; {pools['offers']} referrals to offer, "
            f"{pools['sessions']} trajectories to log a session for",
            flush=True,
        )
        events: dict = {"asked": [], "asked_at": []}
        jobs: list[dict] = []
        watcher = None
        with open(tmp / "locust.log", "wb") as locust_log:
            driver = subprocess.Popen(  # noqa: S603 - our own command line
                [sys.executable, "-m", "bench.bench_load", "--drive"]
                + [str(config_path), str(results_path)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=locust_log,
                text=True,
            )
            for line in driver.stdout:
                event, _, rest = line.strip().partition(" ")
                if event in ("hello-ramped", "ramped", "reports", "ended"):
                    events[event] = float(rest)
                if event == "reports":
                    watcher = threading.Thread(
                        target=watch_reports,
                        args=(url, stop_file, jobs, time.time() + REPORT_SECONDS),
                    )
                    watcher.start()
                elif event == "asked":
                    days, at, status = rest.split()
                    events["asked"].append(f"{days} days: HTTP {status}")
                    events["asked_at"].append(float(at))
            driver.wait()
        if watcher is not None:
            watcher.join()
        if driver.returncode or not results_path.exists():
            log = (tmp / "locust.log").read_text(errors="replace").splitlines()[-30:]
            print(f"error: Locust ended with {driver.returncode}\n" + "\n".join(log))
            return 3
        for server in servers:
            if server.process.poll() is not None:
                print(f"warning: {server.label} stopped during the load\n{server.log_tail()}")
        samples = json.loads(results_path.read_text())
        report(samples, events, jobs, server_times(cluster.log_path))
        counts = count_rows(url)
        print(
            f"saved: {counts['new referrals']} new referrals (POSTs answered "
            f"{answered(samples, 'new referral POST')}), {counts['offers made']} offers "
            f"({answered(samples, 'offer POST')}), {counts['sessions logged']} sessions "
            f"({answered(samples, 'session POST')})"
        )
        return 0
    finally:
        for server in reversed(servers):
            server.stop()


def main() -> int:
    from bench import datasets

    with (
        datasets.postgres_copy(REFERRALS, PROGRAMMES, LARGEST) as dataset,
        tempfile.TemporaryDirectory() as tmp,
    ):
        return run(dataset.url, Path(tmp), dataset.largest_programme_id)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--drive"]:
        drive(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["--proxy"]:
        serve_proxy(int(sys.argv[2]), [int(port) for port in sys.argv[3:]])
    else:
        sys.exit(main())
