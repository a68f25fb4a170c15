"""Benchmark: the product under HTTP load, served by gunicorn as in production, against a bare
Flask "hello" app served the same way.

Run with `make bench-load` (or `python -m bench.bench_load`). It builds a synthetic data set in a
scratch PostgreSQL database (BENCH_LOAD_REFERRALS, default 20,000 referrals over
BENCH_LOAD_PROGRAMMES=30 programmes, the largest with BENCH_LOAD_LARGEST=5,000), opens login
sessions for BENCH_LOAD_ACCOUNTS (10) accounts of each role (referrer at a GP practice,
coordinator, therapist, officer: half of each in the largest programme), and starts two gunicorn
servers with 2 sync workers each: the product with REFERRALS_CONFIG=production, and
bench/hello_app.py. Locust then drives them, in a subprocess of its own (gevent stays out of
this process):

1. the hello app alone, BENCH_LOAD_USERS (50) users for BENCH_LOAD_HELLO_SECONDS (20 s): the
   baseline;
2. the product, the same number of users for BENCH_LOAD_SECONDS (60 s), each user waiting 1 to
   3 s between pages: referral lists and pages, the triage queue, the therapist's offers and
   trajectory pages, the uptake dashboard and its CSV export, and new referrals from GPs (the
   form, then its POST with the CSRF token and submission key it carried). One more user asks
   the hello app every 0.2-0.4 s throughout, to show what the load does to the machine itself.
   Once all users run, `flask render-reports` renders two queued programme reports (the worker,
   a process of its own), so the load also meets a report render.

It prints per page the requests, p50, p95, errors and the p50 as a multiple of hello's p50;
the product's p50 while the reports rendered and otherwise; and the total errors. Figures only:
it exits 0 however slow a page is, and nonzero when a server does not start or Locust fails.
The session cookie is Secure in production, so each simulated user sends it in its own Cookie
header (and takes over any new one the server sets), with the BASE_URL's host as Host header.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REFERRALS = int(os.environ.get("BENCH_LOAD_REFERRALS", "20000"))
PROGRAMMES = int(os.environ.get("BENCH_LOAD_PROGRAMMES", "30"))
LARGEST = int(os.environ.get("BENCH_LOAD_LARGEST", "5000"))
ACCOUNTS = int(os.environ.get("BENCH_LOAD_ACCOUNTS", "10"))
USERS = int(os.environ.get("BENCH_LOAD_USERS", "50"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
HELLO_SECONDS = float(os.environ.get("BENCH_LOAD_HELLO_SECONDS", "20"))
SPAWN_RATE = float(os.environ.get("BENCH_LOAD_SPAWN_RATE", "10"))
WORKERS = 2
WAIT = (1.0, 3.0)  # seconds a simulated user waits between pages
PROBE_WAIT = (0.2, 0.4)
RENDER_DELAY = 5.0  # seconds after the last user started
PG_SERVER = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
HOST = "verwijzen.bench.invalid"
BASE_URL = f"https://{HOST}"
COOKIE_NAME = "rt_session"  # config.default.SESSION_COOKIE_NAME
ROLES = ("referrer", "coordinator", "therapist", "officer")


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


def prepare(url: str, secret: str) -> dict:
    """Migrate, build the data set, and open the sessions; the accounts and what they visit."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from referrals import create_app
    from referrals.extensions import db
    from referrals.models import (
        Organisation,
        OrganisationKind,
        PostcodeArea,
        Programme,
        Referral,
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
    from referrals.services.accounts import login_sessions
    from referrals.services.uptake import programme_report
    from referrals.synthetic import build

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret})
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        built = build(referrals=REFERRALS, programmes=PROGRAMMES, largest=LARGEST)
        db.session.commit()
        print(
            f"data set: {built.referrals:,} referrals in {built.programmes} programmes, "
            f"{built.attendances:,} attendances, built in {time.perf_counter() - started:.0f} s"
        )
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
        programme_ids = list(db.session.scalars(sa.select(Programme.id).order_by(Programme.id)))
        assert programme_ids[0] == built.largest_programme_id
        # Synthetic programmes cover no postcode area; a new referral needs one.
        for programme_id in programme_ids:
            db.session.add(PostcodeArea(programme_id=programme_id, pc4_from=1000, pc4_to=9999))
        db.session.commit()

    def sample(statement, n: int = 100) -> list[int]:
        return list(db.session.scalars(statement.order_by(sa.func.random()).limit(n)))

    # The production app (same key) signs the cookies the production server reads.
    production = create_app(
        "production", {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret, "BASE_URL": BASE_URL}
    )
    serializer = production.session_interface.get_signing_serializer(production)
    plan: dict[str, list[dict]] = {role: [] for role in ROLES}
    with app.test_request_context(headers={"User-Agent": "bench-load"}):
        now = utcnow()
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
                dict(user=coordinator, programme_id=programme_id, referral_ids=sample(in_programme))
            )
            plan["therapist"].append(
                dict(
                    user=db.session.get(User, therapist.user_id),
                    trajectory_ids=sample(
                        sa.select(Trajectory.id).where(Trajectory.therapist_id == therapist.id)
                    ),
                )
            )
            plan["officer"].append(dict(user=officer, programme_id=programme_id))
        for accounts in plan.values():
            for account in accounts:
                user = account.pop("user")
                token = login_sessions.start_session(user)
                account["cookie"] = serializer.dumps({"_user_id": token, "_fresh": True})
        # Two reports for the worker to render during the load: the largest programme's last
        # year and last two years.
        largest = db.session.get(Programme, programme_ids[0])
        officer = db.session.scalar(sa.select(User).where(User.email == "officer-0@bench.invalid"))
        today = local_today()
        for days in (364, 729):
            start = max(largest.starts_on, today - timedelta(days=days))
            programme_report.request_report(largest, start, today, actor=officer)
        db.session.commit()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    with production.app_context():
        db.engine.dispose()
    return plan


# --- the servers ---------------------------------------------------------------------------


class Server:
    """gunicorn with WORKERS sync workers on a free port, as the README's production command."""

    def __init__(self, label: str, app_spec: str, env: dict, log_path: Path, ready_path: str):
        self.label = label
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            [
                str(BIN / "gunicorn"),
                "--workers",
                str(WORKERS),
                "--bind",
                f"127.0.0.1:{self.port}",
                app_spec,
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.ready_path = ready_path

    def wait_until_up(self, timeout: float = 60) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label}: gunicorn stopped with {self.process.returncode}")
            try:
                answer = requests.get(self.url + self.ready_path, headers={"Host": HOST}, timeout=2)
                if answer.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.label}: gunicorn did not answer within {timeout:.0f} s")

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def smoke_test(plan: dict, product: Server) -> None:
    """One request per page before the load (which also warms the workers); says what fails."""
    import requests

    for method, path, role in pages_to_check(plan):
        account = plan[role][0]
        answer = requests.request(
            method,
            product.url + path,
            headers={"Host": HOST, "Cookie": f"{COOKIE_NAME}={account['cookie']}"},
            allow_redirects=False,
            timeout=30,
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
        ("GET", f"/uptake/{officer['programme_id']}/export.csv", "officer"),
    ]
    if referrer["referral_ids"]:
        checks.append(("GET", f"/referrals/{referrer['referral_ids'][0]}", "referrer"))
    if coordinator["referral_ids"]:
        checks.append(("GET", f"/referrals/{coordinator['referral_ids'][0]}", "coordinator"))
    if therapist["trajectory_ids"]:
        checks.append(("GET", f"/trajectories/{therapist['trajectory_ids'][0]}", "therapist"))
    return checks


# --- the load (the Locust subprocess) ------------------------------------------------------

INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
SUBMITTED = re.compile(r"^(https?://[^/]+)?/referrals/\d+$")  # the new referral's page


def hidden_fields(page: str) -> dict[str, str]:
    fields = {}
    for tag in INPUT.findall(page):
        attributes = {k.lower(): html.unescape(v) for k, v in ATTRIBUTE.findall(tag)}
        if attributes.get("type") == "hidden" and "name" in attributes:
            fields.setdefault(attributes["name"], attributes.get("value", ""))
    return fields


def user_classes(config: dict) -> dict[str, list]:
    """The Locust users of each phase, built after Locust (and so gevent) is imported."""
    import random

    from locust import HttpUser, between, task

    pick = random.Random().choice  # noqa: S311 - which page next, not a secret

    taken = {role: itertools.count() for role in config["accounts"]}

    class Hello(HttpUser):
        host = config["hello_url"]
        wait_time = between(*WAIT)

        @task
        def hello(self):
            with self.client.get(
                "/", name="hello", headers={"Host": HOST}, catch_response=True
            ) as answer:
                if answer.status_code != 200:
                    answer.failure(f"HTTP {answer.status_code}")

    class HelloDuringLoad(Hello):
        fixed_count = 1
        wait_time = between(*PROBE_WAIT)

        @task
        def hello(self):
            with self.client.get(
                "/", name="hello (during load)", headers={"Host": HOST}, catch_response=True
            ) as answer:
                if answer.status_code != 200:
                    answer.failure(f"HTTP {answer.status_code}")

    class Product(HttpUser):
        abstract = True
        host = config["product_url"]
        wait_time = between(*WAIT)
        role = ""

        def on_start(self):
            pool = config["accounts"][self.role]
            self.account = pool[next(taken[self.role]) % len(pool)]
            self.cookie = self.account["cookie"]

        def request(self, method, page, path, expect=200, **kwargs):
            """One request with the session cookie by hand (it is Secure; this is plain HTTP),
            taking over a new cookie the server sets (CSRF token, flashed messages)."""
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
                return answer

        def referral_list(self):
            self.request("GET", "referral list", "/referrals")

        def referral_page(self):
            if self.account["referral_ids"]:
                referral_id = pick(self.account["referral_ids"])
                self.request("GET", "referral page", f"/referrals/{referral_id}")

        def dashboard(self):
            self.request("GET", "uptake dashboard", f"/uptake/{self.account['programme_id']}")

        def export(self):
            self.request("GET", "CSV export", f"/uptake/{self.account['programme_id']}/export.csv")

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
            answer = self.request("POST", "new referral POST", path, expect=302, data=data)
            location = answer.headers.get("Location", "")
            if answer.status_code == 302 and not SUBMITTED.search(location):
                answer.failure(f"redirected to {location}")

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

        @task(1)
        def uptake(self):
            self.dashboard()

        @task(1)
        def csv(self):
            self.export()

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

    class Officer(Product):
        role = "officer"
        weight = 1

        @task(3)
        def uptake(self):
            self.dashboard()

        @task(1)
        def csv(self):
            self.export()

    return {
        "hello": [Hello],
        "product": [Referrer, Coordinator, TherapistUser, Officer, HelloDuringLoad],
    }


def drive(config_path: str, results_path: str) -> None:
    """The Locust process: each phase, its samples to `results_path`; 'ramped <phase>' lines."""
    import gevent
    from locust.env import Environment

    config = json.loads(Path(config_path).read_text())
    classes = user_classes(config)
    samples: list[list] = []
    for phase, seconds in (("hello", config["hello_seconds"]), ("product", config["seconds"])):
        environment = Environment(user_classes=classes[phase])

        def on_request(
            name, response_time, exception=None, start_time=None, context=None, phase=phase, **_
        ):
            error = None if exception is None else str(exception)[:200]
            request_id = (context or {}).get("request_id")
            samples.append(
                [phase, name, start_time or time.time(), response_time, error, request_id]
            )

        environment.events.request.add_listener(on_request)
        runner = environment.create_local_runner()
        started = time.monotonic()
        runner.start(config["users"], spawn_rate=config["spawn_rate"])
        while runner.state != "running" and time.monotonic() - started < seconds:
            gevent.sleep(0.1)
        print(f"ramped {phase} {time.time():.3f}", flush=True)
        gevent.sleep(max(0.0, seconds - (time.monotonic() - started)))
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
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("request_id") and entry.get("duration_ms") is not None:
            times[entry["request_id"]] = entry["duration_ms"]
    return times


def report(samples: list[list], render: dict, server_ms: dict[str, float]) -> int:
    by_name: dict[str, list[list]] = {}
    for sample in samples:
        by_name.setdefault(sample[1], []).append(sample)
    hello = [s[3] for s in by_name.get("hello", []) if s[4] is None]
    hello_p50 = statistics.median(hello) if hello else float("nan")
    print(
        f"\n{'page (role)':<36} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6} "
        f"{'p50/hello':>9} {'app p50':>8}"
    )
    total_errors = 0
    order = sorted(by_name, key=lambda n: (n.startswith("hello"), n))
    for name in order:
        rows = by_name[name]
        times = [s[3] for s in rows]
        errors = sum(1 for s in rows if s[4] is not None)
        total_errors += errors
        p50 = statistics.median(times)
        ratio = "" if name == "hello" else f"{p50 / hello_p50:.1f}x"
        inside = [server_ms[s[5]] for s in rows if s[5] in server_ms]
        app_p50 = f"{statistics.median(inside):.1f}" if inside else ""
        print(
            f"{name:<36} {len(rows):>8} {p50:>8.1f} {percentile(times, 0.95):>8.1f} "
            f"{errors:>6} {ratio:>9} {app_p50:>8}"
        )
    product = [s for s in samples if s[0] == "product" and not s[1].startswith("hello")]
    if product:
        first, last = min(s[2] for s in product), max(s[2] for s in product)
        print(
            f"\nproduct: {len(product)} requests in {last - first:.0f} s "
            f"({len(product) / max(last - first, 1):.1f}/s) with {USERS} users, "
            f"{WORKERS} sync workers"
        )
    if render.get("started"):
        during = [
            s[3] for s in product if render["started"] <= s[2] <= render.get("ended", math.inf)
        ]
        outside = [
            s[3] for s in product if not render["started"] <= s[2] <= render.get("ended", math.inf)
        ]
        print(
            f"report worker: `flask render-reports` {render.get('output', '').strip() or '?'}, "
            f"exit {render.get('returncode')}, {render['ended'] - render['started']:.1f} s, "
            f"from {render['started'] - render['load_started']:.0f} s into the load "
            f"(of {SECONDS:.0f} s)"
        )
        if during and outside:
            print(
                f"product p50 while the reports rendered: {statistics.median(during):.1f} ms "
                f"({len(during)} requests); otherwise {statistics.median(outside):.1f} ms"
            )
    else:
        print("report worker: did not run")
    print(f"errors: {total_errors} in total")
    errors = {}
    for s in samples:
        if s[4] is not None:
            errors[(s[1], s[4])] = errors.get((s[1], s[4]), 0) + 1
    for (name, error), count in sorted(errors.items(), key=lambda e: -e[1])[:10]:
        print(f"  {count} x {name}: {error}")
    return total_errors


def saved_referrals(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            return c.scalar(
                sa.text("SELECT COUNT(*) FROM participants WHERE last_name LIKE 'Load %'")
            )
    finally:
        engine.dispose()


def posted(samples: list[list]) -> int:
    return sum(1 for s in samples if s[1].startswith("new referral POST") and s[4] is None)


def render_reports(env: dict, render: dict, delay: float) -> None:
    time.sleep(delay)
    render["started"] = time.time()
    done = subprocess.run(  # noqa: S603 - our own command line
        [str(BIN / "flask"), "render-reports"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    render["ended"] = time.time()
    render["returncode"] = done.returncode
    render["output"] = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode:
        render["output"] += " " + done.stderr.strip()[-300:]


def run(url: str, tmp: Path) -> int:
    secret = secrets.token_urlsafe(48)
    plan = prepare(url, secret)
    env = {
        **os.environ,
        "REFERRALS_CONFIG": "production",
        "DATABASE_URL": url,
        "SECRET_KEY": secret,
        "BASE_URL": BASE_URL,
        "FLASK_APP": "referrals",
        "PYTHONUNBUFFERED": "1",
    }
    servers = []
    try:
        for label, spec, ready in (
            ("product", "referrals:create_app()", "/health"),
            ("hello", "bench.hello_app:app", "/"),
        ):
            servers.append(Server(label, spec, env, tmp / f"{label}.log", ready))
        for server in servers:
            try:
                server.wait_until_up()
            except RuntimeError as error:
                print(f"error: {error}\n{server.log_tail()}", file=sys.stderr)
                return 2
        product, hello = servers
        smoke_test(plan, product)
        config = {
            "product_url": product.url,
            "hello_url": hello.url,
            "users": USERS,
            "seconds": SECONDS,
            "hello_seconds": HELLO_SECONDS,
            "spawn_rate": SPAWN_RATE,
            "accounts": plan,
        }
        config_path, results_path = tmp / "config.json", tmp / "samples.json"
        config_path.write_text(json.dumps(config))
        print(
            f"load: hello alone for {HELLO_SECONDS:.0f} s, then the product for {SECONDS:.0f} s; "
            f"{USERS} users, {WAIT[0]:g}-{WAIT[1]:g} s between pages"
        )
        render: dict = {}
        worker = None
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
                if line.startswith("ramped product"):
                    render["load_started"] = time.time()
                    worker = threading.Thread(
                        target=render_reports, args=(env, render, RENDER_DELAY)
                    )
                    worker.start()
            driver.wait()
        if worker is not None:
            worker.join()
        if driver.returncode or not results_path.exists():
            log = (tmp / "locust.log").read_text(errors="replace").splitlines()[-30:]
            print(f"error: Locust ended with {driver.returncode}\n" + "\n".join(log))
            return 3
        for server in servers:
            if server.process.poll() is not None:
                print(f"warning: {server.label} server stopped during the load")
        samples = json.loads(results_path.read_text())
        report(samples, render, server_times(product.log_path))
        print(f"new referrals saved: {saved_referrals(url)} (POSTs answered: {posted(samples)})")
        return 0
    finally:
        for server in servers:
            server.stop()


def main() -> int:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    name = f"referrals_bench_load_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        with tempfile.TemporaryDirectory() as tmp:
            return run(url, Path(tmp))
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--drive"]:
        drive(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
