"""Benchmark: every daily page of the product at 8 concurrent connections, against a bare
50-row table page, on the national data set at two sizes.

Run with `make bench-pages` (part of `make bench`) or `python -m bench.bench_pages`. For each
size in BENCH_PAGES_SIZES (default "200000,1000000" referrals) it takes a working copy of the
cached data set (bench/datasets.py: the largest programme has 10,000 referrals and the last one
100 at both sizes), opens login sessions for a coordinator and an officer of each of those two
programmes, a referrer (GP user) and a therapist of the largest one, and starts the product
as production runs it: `gunicorn -c config/gunicorn.py "referrals:create_app()"` with
REFERRALS_CONFIG=production, GUNICORN_WORKERS=2 sync workers (BENCH_PAGES_WORKERS), rate
limits in Redis db 1 and JSON logs. bench/hello_app.py runs with the same gunicorn settings:
its `/table` (50 rows x 6 columns rendered by Jinja) is the baseline, its `/` ("hello") shows
what the client and the machine can do.

Each page is first asked once as its role and must answer 200 (else its status is printed and
the page is skipped). Besides the daily pages it measures the password form of a logged-in
coordinator as a reference (no participant data: what a logged-in page costs before its own
work) and leaves it out of the targets. The session cookie is Secure, so it goes in a Cookie
header by hand (a new one the server sets is taken over, as a browser would). The deep page of
the referral list is found by following its "next" link (rel="next", or
"Ouder"/"Volgende"/"Older" in the pagination) BENCH_PAGES_DEPTH (50) times. Then
BENCH_PAGES_ROUNDS (3) rounds: in each, /table first, then every page at each size in turn
(both sizes' products run side by side, so the same page at 200,000 and at 1,000,000 referrals
is measured seconds apart and a change in the machine's speed during the run shows in both),
then hello, each alone for BENCH_PAGES_SECONDS (3 s) under BENCH_PAGES_CONNECTIONS (8)
connections in a closed loop, one client process per connection, a new connection per request
(gunicorn's sync workers close it after each response).

Per page: requests/s (median over rounds), the ratio to /table's requests/s of the same round
(median), the client p50 and p99 (all rounds), and from the product's JSON request log
(gunicorn's stderr; one page is measured at a time, so each window's `referrals.request` lines
are that page's) the p50 of the server time (`duration_ms`), of its Python part (duration_ms -
db_ms) and its database part (`db_ms`), and the SQL statements per request; the CPU time the
gunicorn processes used per request (from /proc: also what happens outside the logged
duration); the body size. A load generator check compares hello with /table and gives the
clients' share of the CPU (clients and servers share the machine's cores).
Then per page: server p50 at the larger size / at the smaller (target: within 20%), largest
programme / smallest programme (target: at most 1.5), and pages under 0.2x the table page or
with a client p50 of 50 ms or more at 8 connections ("below target"). Figures only: it exits
0 however slow a page is, and nonzero only when a server does not start.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import multiprocessing
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SIZES = [int(s) for s in os.environ.get("BENCH_PAGES_SIZES", "200000,1000000").split(",") if s]
SECONDS = float(os.environ.get("BENCH_PAGES_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_PAGES_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_PAGES_CONNECTIONS", "8"))
DEPTH = int(os.environ.get("BENCH_PAGES_DEPTH", "50"))
WARMUP = float(os.environ.get("BENCH_PAGES_WARMUP", "0.5"))
TIMEOUT = float(os.environ.get("BENCH_PAGES_TIMEOUT", "30"))  # seconds per request, client side
WORKERS = int(os.environ.get("BENCH_PAGES_WORKERS", "2"))  # gunicorn sync workers, both apps
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
HOST = "127.0.0.1"
BASE_URL = f"https://{HOST}"
COOKIE_NAME = "rt_session"  # config.default.SESSION_COOKIE_NAME
# Targets: the comparison section marks what misses them.
MIN_TABLE_RATIO = 0.2
MAX_P50_MS = 50.0
MAX_SIZE_GROWTH = 1.2
MAX_LARGE_SMALL = 1.5
BELOW = "<- below target"


# --- HTTP: one request per connection ------------------------------------------------------


def request_bytes(path: str, cookie: str | None = None) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {HOST}",
        "User-Agent: bench-pages",
        "Accept: text/html,application/xhtml+xml",
        "Accept-Language: nl",
        "Connection: close",
    ]
    if cookie:
        lines.append(f"Cookie: {COOKIE_NAME}={cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def exchange(port: int, data: bytes, timeout: float = TIMEOUT) -> bytes:
    """Send one request, read until the server closes the connection."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def new_cookie(self) -> str | None:
        for value in self.header("Set-Cookie"):
            name, _, rest = value.partition("=")
            if name.strip() == COOKIE_NAME:
                return rest.split(";", 1)[0]
        return None


def parse(raw: bytes) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = [tuple(s.strip() for s in line.split(":", 1)) for line in lines[1:] if ":" in line]
    if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers):
        body = dechunk(body)
    return Answer(status, headers, body)


def dechunk(body: bytes) -> bytes:
    out, rest = [], body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)


def get(port: int, path: str, cookie: str | None = None) -> Answer:
    try:
        return parse(exchange(port, request_bytes(path, cookie)))
    except OSError as error:
        return Answer(0, [], str(error).encode())


# --- the client processes ------------------------------------------------------------------


def _client(pipe) -> None:
    """One connection in a closed loop per command: (port, request, start_at, seconds); answers
    the samples (start offset, latency s, status, bytes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        command = pipe.recv()
        if command is None:
            return
        port, data, start_at, seconds = command
        samples = []
        cpu = time.process_time()
        while (pause := start_at - time.time()) > 0:
            time.sleep(min(pause, 0.01))
        end = start_at + seconds
        while (now := time.time()) < end:
            started = time.perf_counter()
            try:
                raw = exchange(port, data)
                status = int(raw[9:12]) if raw[:5] == b"HTTP/" else 0
                size = len(raw)
            except (OSError, ValueError):
                status, size = 0, 0
            samples.append((now - start_at, time.perf_counter() - started, status, size))
        pipe.send((samples, time.process_time() - cpu))


class Clients:
    """CONNECTIONS processes, each keeping one request in flight at a time."""

    def __init__(self, count: int):
        context = multiprocessing.get_context("spawn")
        self.pipes, self.processes = [], []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=_client, args=(child,), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def run(self, port: int, data: bytes, seconds: float) -> list[tuple]:
        start_at = time.time() + 0.05
        for pipe in self.pipes:
            pipe.send((port, data, start_at, seconds))
        samples, self.cpu_seconds = [], 0.0
        for pipe in self.pipes:
            answered, cpu = pipe.recv()
            samples.extend(answered)
            self.cpu_seconds += cpu  # of the last run, all client processes
        return samples

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for process in self.processes:
            process.join(timeout=5)


# --- the data set's accounts and pages -----------------------------------------------------


@dataclass
class Page:
    key: str  # the same page at another size or for the other programme
    label: str
    path: str
    cookie: str | None = None
    programme: str = ""  # "large" or "small", for the large / small comparison
    port: int = 0
    endpoint: str | None = None
    kb: float = 0.0
    status: int = 0
    rates: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    answered: int = 0
    client_cpu: float = 0.0  # seconds, all client processes, all rounds
    server_cpu: float = 0.0  # seconds, gunicorn and its workers, all rounds
    server: list[dict] = field(default_factory=list)


def prepare(url: str, secret: str, large_id: int, small_id: int) -> dict:
    """Accounts with login sessions, and the ids their pages need."""
    import sqlalchemy as sa

    from referrals import create_app
    from referrals.extensions import db
    from referrals.models import (
        Organisation,
        OrganisationKind,
        Programme,
        Role,
        Therapist,
        TrainingGroup,
        Trajectory,
        User,
        programme_coordinators,
        programme_referrers,
        programme_therapists,
        utcnow,
    )
    from referrals.services.accounts import login_sessions

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret})
    production = create_app(
        "production", {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret, "BASE_URL": BASE_URL}
    )
    serializer = production.session_interface.get_signing_serializer(production)
    users: dict[str, User] = {}
    ids: dict[str, int] = {"large": large_id, "small": small_id}
    with app.test_request_context(headers={"User-Agent": "bench-pages"}):
        now = utcnow()
        tag = uuid.uuid4().hex[:6]
        for size, programme_id in (("large", large_id), ("small", small_id)):
            programme = db.session.get(Programme, programme_id)
            for role in (Role.COORDINATOR, Role.OFFICER):
                user = User(
                    organisation_id=programme.funder_id,
                    email=f"pages-{role.value}-{size}-{tag}@bench.invalid",
                    name=f"Bench {role.value} {size}",
                    role=role,
                    password_hash="!bench",  # noqa: S106 - no valid hash: no login
                    password_changed_at=now,
                )
                db.session.add(user)
                db.session.flush()
                if role is Role.COORDINATOR:
                    db.session.execute(
                        programme_coordinators.insert().values(
                            programme_id=programme_id, user_id=user.id
                        )
                    )
                users[f"{role.value} {size}"] = user
        users["referrer large"] = db.session.scalars(
            sa.select(User)
            .join(Organisation, User.organisation_id == Organisation.id)
            .join(programme_referrers, programme_referrers.c.organisation_id == Organisation.id)
            .where(
                programme_referrers.c.programme_id == large_id,
                Organisation.kind == OrganisationKind.GP_PRACTICE,
                User.role == Role.REFERRER,
            )
            .order_by(User.id)
            .limit(1)
        ).one()
        # The therapist of the largest programme whose group has the most open members.
        members = sa.func.count(Trajectory.id)
        therapist_id, group_id, _ = db.session.execute(
            sa.select(Therapist.id, TrainingGroup.id, members)
            .join(programme_therapists, programme_therapists.c.therapist_id == Therapist.id)
            .join(TrainingGroup, TrainingGroup.therapist_id == Therapist.id)
            .outerjoin(
                Trajectory,
                sa.and_(Trajectory.group_id == TrainingGroup.id, Trajectory.closed_at.is_(None)),
            )
            .where(programme_therapists.c.programme_id == large_id)
            .group_by(Therapist.id, TrainingGroup.id)
            .order_by(members.desc(), Therapist.id, TrainingGroup.id)
            .limit(1)
        ).one()
        therapist = db.session.get(Therapist, therapist_id)
        users["therapist large"] = db.session.get(User, therapist.user_id)
        ids["group"] = group_id
        trajectory = (
            db.session.scalars(
                sa.select(Trajectory)
                .where(
                    Trajectory.group_id == group_id,
                    Trajectory.closed_at.is_(None),
                    Trajectory.first_session_on.is_not(None),
                )
                .order_by(Trajectory.id)
                .limit(1)
            ).first()
            or db.session.scalars(
                sa.select(Trajectory)
                .where(Trajectory.therapist_id == therapist_id, Trajectory.closed_at.is_(None))
                .order_by(Trajectory.id)
                .limit(1)
            ).one()
        )
        ids["trajectory"] = trajectory.id
        ids["referral"] = trajectory.referral_id
        cookies = {}
        for name, user in users.items():
            token = login_sessions.start_session(user)
            cookies[name] = serializer.dumps({"_user_id": token, "_fresh": True})
        db.session.commit()
    for each in (app, production):
        with each.app_context():
            db.session.remove()
            db.engine.dispose()
    return {"cookies": cookies, "ids": ids}


def product_pages(prepared: dict, port: int) -> list[Page]:
    c, i = prepared["cookies"], prepared["ids"]
    pages = [
        Page("login", "login (anonymous)", "/login"),
        # Not a daily page: what any logged-in page costs before its own work (the session,
        # the layout, a form, the commit), for reading the others' figures against.
        Page("floor", "password form (reference)", "/account/password", c["coordinator small"]),
        Page("referrals", "referrals, coordinator", "/referrals", c["coordinator large"], "large"),
        Page("referrals", "referrals, coordinator", "/referrals", c["coordinator small"], "small"),
        Page("referrals deep", f"referrals ~page {DEPTH + 1}, coord.", "", c["coordinator large"]),
        Page("referrals gp", "referrals, referrer (GP)", "/referrals", c["referrer large"]),
        Page(
            "referral",
            "referral detail, coordinator",
            f"/referrals/{i['referral']}",
            c["coordinator large"],
        ),
        Page("triage", "triage, coordinator", "/triage", c["coordinator large"], "large"),
        Page("triage", "triage, coordinator", "/triage", c["coordinator small"], "small"),
        Page("offers", "offers inbox, therapist", "/offers", c["therapist large"]),
        Page(
            "trajectory",
            "trajectory, therapist",
            f"/trajectories/{i['trajectory']}",
            c["therapist large"],
        ),
        Page("group", "group, therapist", f"/groups/{i['group']}", c["therapist large"]),
        Page(
            "group session",
            "group session form, therapist",
            f"/groups/{i['group']}/sessions/new",
            c["therapist large"],
        ),
        Page("uptake", "uptake, officer", f"/uptake/{i['large']}", c["officer large"], "large"),
        Page("uptake", "uptake, officer", f"/uptake/{i['small']}", c["officer small"], "small"),
    ]
    for page in pages:
        page.port = port
        if page.programme:
            page.label += f" {page.programme}"
        elif page.key not in ("login", "floor"):
            page.label += " large"
    return pages


ANCHOR = re.compile(r"<a\b([^>]*)>(.*?)</a>", re.IGNORECASE | re.DOTALL)
HREF = re.compile(r'\bhref\s*=\s*"([^"]*)"', re.IGNORECASE)
REL_NEXT = re.compile(r'\brel\s*=\s*"[^"]*\bnext\b[^"]*"', re.IGNORECASE)
PAGINATION = re.compile(r'<nav\b[^>]*class="[^"]*pagination[^"]*"[^>]*>(.*?)</nav>', re.DOTALL)
NEXT_WORDS = ("ouder", "volgende", "older", "next", "verder", "»", "›", "→")


def next_link(page_html: str) -> str | None:
    """The path of the page's "next" link: rel="next", else the pagination's Older/Next."""
    anchors = ANCHOR.findall(page_html)
    for attributes, _text in anchors:
        if REL_NEXT.search(attributes) and (href := HREF.search(attributes)):
            return _path(href.group(1))
    for block in PAGINATION.findall(page_html):
        for attributes, text in ANCHOR.findall(block):
            words = html.unescape(re.sub(r"<[^>]+>", "", text)).strip().lower()
            if any(word in words for word in NEXT_WORDS) and (href := HREF.search(attributes)):
                return _path(href.group(1))
    return None


def _path(href: str) -> str:
    parts = urlsplit(html.unescape(href))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def find_deep_page(page: Page) -> None:
    path, depth = "/referrals", 0
    while depth < DEPTH:
        answer = get(page.port, path, page.cookie)
        found = next_link(answer.body.decode("utf-8", "replace")) if answer.status == 200 else None
        if found is None:
            break
        path, depth = found, depth + 1
    page.path = path
    page.label = page.label.replace(f"~page {DEPTH + 1}", f"page {depth + 1}")
    print(f"deep page: followed the next link {depth} times: {path}", flush=True)


# --- the servers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn -c config/gunicorn.py with WORKERS sync workers; its stderr in a log file."""

    def __init__(self, label: str, app_spec: str, env: dict, log_path: Path, probe: str):
        self.label, self.probe, self.log_path = label, probe, log_path
        self.port = free_port()
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            [str(BIN / "gunicorn"), "-c", "config/gunicorn.py", app_spec],
            cwd=ROOT,
            env={**env, "GUNICORN_BIND": f"{HOST}:{self.port}", "GUNICORN_WORKERS": str(WORKERS)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.label}: stopped with exit code {self.process.returncode}"
                )
            if get(self.port, self.probe).status == 200:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.label}: {self.probe} did not answer within {timeout:.0f} s")

    def cpu_seconds(self) -> float:
        """CPU time used so far by gunicorn and its workers (Linux /proc; 0 elsewhere)."""
        total, pending = 0.0, [self.process.pid]
        while pending:
            pid = pending.pop()
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{pid}/task/{pid}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
            except (OSError, IndexError, ValueError):
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def log_offset(self) -> int:
        return self.log_path.stat().st_size

    def log_lines(self, start: int) -> list[dict]:
        """The JSON log lines written since `start`."""
        with open(self.log_path, "rb") as log:
            log.seek(start)
            text = log.read().decode("utf-8", "replace")
        lines = []
        for line in text.splitlines():
            if "{" not in line:
                continue
            try:
                lines.append(json.loads(line[line.index("{") :]))
            except ValueError:
                continue
        return lines

    def request_lines(self, start: int) -> list[dict]:
        """The product's request log lines written since `start`."""
        return [e for e in self.log_lines(start) if e.get("logger") == "referrals.request"]

    def log_tail(self, count: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-count:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def server_env(secret: str) -> dict:
    return {
        **os.environ,
        "REFERRALS_CONFIG": "production",
        "SECRET_KEY": secret,
        "BASE_URL": BASE_URL,
        "REDIS_URL": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": f"bench-pages-{uuid.uuid4().hex[:8]}",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        "MAIL_BACKEND": "folder",
    }


# --- measuring -----------------------------------------------------------------------------


def check(page: Page, product: Server | None) -> bool:
    """One request as the page's user (twice when the server sets a new cookie, which is then
    kept); the page's endpoint from the request log."""
    offset = product.log_offset() if product else 0
    for _ in range(3):
        answer = get(page.port, page.path, page.cookie)
        cookie = answer.new_cookie()
        if answer.status != 200 or not cookie or cookie == page.cookie:
            break
        page.cookie = cookie
    page.status, page.kb = answer.status, len(answer.body) / 1024
    if product:
        lines = [line for line in product.request_lines(offset) if line.get("endpoint")]
        page.endpoint = lines[-1]["endpoint"] if lines else None
    if answer.status != 200 and product:
        time.sleep(0.1)
        for line in product.log_lines(offset):
            if line.get("level") in ("ERROR", "CRITICAL"):
                last = (line.get("exc_info") or "").strip().splitlines()[-1:] or [""]
                print(f"  server log: {line.get('message')} {last[0]}", flush=True)
    if answer.status != 200:
        location = answer.header("Location")
        print(
            f"  {page.label}: {page.path} answers {answer.status}"
            + (f" (to {location[0]})" if location else "")
            + ": skipped",
            flush=True,
        )
        return False
    return True


def measure(page: Page, clients: Clients, server: Server, seconds: float, logged: bool) -> float:
    """One window of load on `page`; its requests/s. Keeps the latencies, the CPU time used by
    the clients and by the server, and (`logged`: the product) the server's request lines."""
    offset = server.log_offset()
    cpu = server.cpu_seconds()
    samples = clients.run(page.port, request_bytes(page.path, page.cookie), seconds)
    page.server_cpu += server.cpu_seconds() - cpu
    page.client_cpu += clients.cpu_seconds
    ok = [s for s in samples if s[2] == 200]
    page.answered += len(ok)
    page.errors += len(samples) - len(ok)
    page.latencies.extend(s[1] * 1000 for s in ok)
    elapsed = max([seconds] + [s[0] + s[1] for s in samples])
    if logged:
        time.sleep(0.05)  # the last lines are written before the answers end; to be sure
        page.server.extend(
            line
            for line in server.request_lines(offset)
            if line.get("endpoint") == page.endpoint and line.get("status") == 200
        )
    return len(ok) / elapsed


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


@dataclass
class Summary:
    label: str
    rate: float
    ratio: float
    p50: float
    p99: float
    server: float
    python: float
    database: float
    queries: float
    cpu: float
    kb: float
    errors: int

    @classmethod
    def of(cls, page: Page) -> Summary:
        durations = [line["duration_ms"] for line in page.server if line.get("duration_ms")]
        db_ms = [line.get("db_ms") or 0.0 for line in page.server if line.get("duration_ms")]
        return cls(
            page.label,
            median(page.rates),
            median(page.ratios),
            median(page.latencies),
            percentile(page.latencies, 0.99),
            median(durations),
            median([d - b for d, b in zip(durations, db_ms, strict=True)]),
            median(db_ms),
            median([line.get("queries", 0) for line in page.server]),
            page.server_cpu / page.answered * 1000 if page.answered else math.nan,
            page.kb,
            page.errors,
        )


def figure(value: float, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def print_table(title: str, pages: list[Page]) -> None:
    print(f"\n== {title}")
    header = (
        f"{'page':<36} {'req/s':>7} {'x table':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'server':>7} {'python':>7} {'db':>6} {'queries':>7} {'cpu':>6} {'KB':>6} {'err':>4}"
    )
    print(header)
    print("-" * len(header))
    for page in pages:
        if page.status != 200:
            print(f"{page.label:<36} HTTP {page.status}: not measured")
            continue
        s = Summary.of(page)
        print(
            f"{s.label:<36} {figure(s.rate, 0):>7} {figure(s.ratio, 2):>7} {figure(s.p50):>7} "
            f"{figure(s.p99):>7} {figure(s.server):>7} {figure(s.python):>7} "
            f"{figure(s.database):>6} {figure(s.queries, 0):>7} {figure(s.cpu):>6} "
            f"{figure(s.kb):>6} {s.errors:>4}"
        )
    print(
        f"(req/s: median of {ROUNDS} rounds of {SECONDS:g} s at {CONNECTIONS} connections; "
        "x table: req/s / /table's req/s in the same round, median; p50/p99: client, all rounds; "
        "server, python, db: p50 ms from the request log (python = duration_ms - db_ms); "
        "queries: SQL statements per request, p50; cpu: ms of CPU the gunicorn processes used "
        "per request, all of it, also outside the logged duration; KB: body)"
    )


def load_generator_check(table: Page, bare: Page, measured: list[Page]) -> None:
    """Whether the clients could go faster than the servers: hello well above the table page,
    and the clients' share of the CPU (they run on the same cores as the servers)."""

    def cpu(page: Page) -> str:
        n = max(page.answered, 1)
        return f"{page.client_cpu / n * 1000:.2f} / {page.server_cpu / n * 1000:.2f} ms"

    def share(page: Page) -> float:
        used = page.client_cpu + page.server_cpu
        return page.client_cpu / used if used else math.nan

    hello_ratio = median(bare.ratios)
    product_share = max((share(p) for p in measured), default=math.nan)
    print(
        f"load generator check: hello {figure(median(bare.rates), 0)} req/s = "
        f"{figure(hello_ratio, 1)}x the table page. CPU per request, clients / server: hello "
        f"{cpu(bare)}, table {cpu(table)}; the clients' share of that CPU: hello "
        f"{share(bare):.0%}, table {share(table):.0%}, product pages at most {product_share:.0%}"
    )
    if not hello_ratio >= 2 or not share(table) < 0.25:
        print(
            "warning: the clients may limit the table page (hello under 2x the table page, or "
            "the clients use a quarter of the CPU): its ratios would be too high"
        )


@dataclass
class SizeRun:
    """One data-set size: its working copy, its product server and its pages."""

    referrals: int
    title: str
    product: Server
    pages: list[Page]
    measured: list[Page]


def start_size(referrals: int, stack: contextlib.ExitStack, tmp: Path) -> SizeRun | None:
    """A working copy of the data set, login sessions, the product server on it, and its pages
    checked (each must answer 200); everything is undone when `stack` closes."""
    from bench import datasets

    dataset = stack.enter_context(datasets.postgres_copy(referrals))
    secret = secrets.token_urlsafe(48)
    prepared = prepare(
        dataset.url, secret, dataset.largest_programme_id, dataset.smallest_programme_id
    )
    env = {**server_env(secret), "DATABASE_URL": dataset.url}
    env["MAIL_FOLDER"] = str(tmp / f"outbox-{referrals}")
    product = Server(
        f"product ({referrals:,})",
        "referrals:create_app()",
        env,
        tmp / f"product-{referrals}.log",
        "/health",
    )
    stack.callback(product.stop)
    try:
        product.wait_until_up()
    except RuntimeError as error:
        print(f"error: {error}\n{product.log_tail()}", file=sys.stderr)
        return None
    print(
        f"product ({referrals:,}) on 127.0.0.1:{product.port} (gunicorn -c config/gunicorn.py, "
        f"{WORKERS} sync workers, production configuration)",
        flush=True,
    )
    pages = product_pages(prepared, product.port)
    deep = next(p for p in pages if p.key == "referrals deep")
    find_deep_page(deep)
    measured = [p for p in pages if check(p, product)]
    print(f"checked {len(pages)} pages: {len(measured)} answered 200", flush=True)
    title = (
        f"{dataset.info['referrals']:,} referrals, {dataset.info['programmes']:,} "
        f"programmes (large: #{dataset.largest_programme_id}, "
        f"{dataset.info['largest_size']:,} referrals; small: "
        f"#{dataset.smallest_programme_id}, {dataset.info['smallest_size']:,})"
    )
    return SizeRun(referrals, title, product, pages, measured)


def measure_sizes(
    runs: list[SizeRun], clients: Clients, hello: Server, table: Page, bare: Page
) -> None:
    """ROUNDS rounds; in each: /table, then each page at every size one after the other (the
    same page at 200,000 and at 1,000,000 referrals seconds apart, so that a change in the
    machine's speed during the run shows in both), then hello. Each page's ratio is to the
    table page of its round."""
    everything = [table, *(p for run in runs for p in run.measured), bare]
    for page in everything:  # every worker compiles its templates and warms its caches
        clients.run(page.port, request_bytes(page.path, page.cookie), WARMUP)
    for page in everything:
        page.server.clear()
    started = time.monotonic()
    positions = max(len(run.pages) for run in runs)
    answered = {id(page) for run in runs for page in run.measured}
    for number in range(ROUNDS):
        base = measure(table, clients, hello, SECONDS, logged=False)
        table.rates.append(base)
        table.ratios.append(1.0)
        for position in range(positions):
            for run in runs:
                if position >= len(run.pages) or id(run.pages[position]) not in answered:
                    continue
                page = run.pages[position]
                rate = measure(page, clients, run.product, SECONDS, logged=True)
                page.rates.append(rate)
                page.ratios.append(rate / base if base else math.nan)
        rate = measure(bare, clients, hello, SECONDS, logged=False)
        bare.rates.append(rate)
        bare.ratios.append(rate / base if base else math.nan)
        print(
            f"round {number + 1}/{ROUNDS} done ({time.monotonic() - started:.0f} s; "
            f"table {base:.0f} req/s, hello {bare.rates[-1]:.0f} req/s)",
            flush=True,
        )
    for run in runs:
        if run.product.process.poll() is not None:
            print(f"warning: the product stopped during the load\n{run.product.log_tail()}")


# --- the comparison ------------------------------------------------------------------------


def ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def mark(value: float, limit: float) -> str:
    return f"  {BELOW}" if not math.isnan(value) and value > limit else ""


def compare(results: dict[int, list[Page]]) -> None:
    print("\n== comparison (server p50 ms from the request log)")
    sizes = sorted(results)
    summaries = {
        size: {(p.key, p.programme): Summary.of(p) for p in pages if p.status == 200}
        for size, pages in results.items()
    }
    for small, big in zip(sizes, sizes[1:], strict=False):
        print(
            f"\n-- data-set size: {big:,} / {small:,} referrals (target: at most {MAX_SIZE_GROWTH})"
        )
        print(f"{'page':<36} {f'{small:,}':>10} {f'{big:,}':>10} {'ratio':>6}")
        for key, s in summaries[small].items():
            if key[0] in ("table", "hello"):
                continue
            other = summaries[big].get(key)
            if other is None:
                print(f"{s.label:<36} {figure(s.server):>10} {'-':>10}")
                continue
            growth = ratio(other.server, s.server)
            print(
                f"{s.label:<36} {figure(s.server):>10} {figure(other.server):>10} "
                f"{figure(growth, 2):>6}{mark(growth, MAX_SIZE_GROWTH)}"
            )
    print(f"\n-- largest / smallest programme (target: at most {MAX_LARGE_SMALL})")
    print(f"{'page':<28} {'referrals':>10} {'large':>8} {'small':>8} {'ratio':>6}")
    for size in sizes:
        for (key, programme), s in summaries[size].items():
            if programme != "large" or (key, "small") not in summaries[size]:
                continue
            other = summaries[size][(key, "small")]
            factor = ratio(s.server, other.server)
            name = s.label.removesuffix(" large")
            print(
                f"{name:<28} {size:>10,} {figure(s.server):>8} {figure(other.server):>8} "
                f"{figure(factor, 2):>6}{mark(factor, MAX_LARGE_SMALL)}"
            )
    print(
        f"\n-- pages under {MIN_TABLE_RATIO}x the table page's req/s, or with a client p50 of "
        f"{MAX_P50_MS:.0f} ms or more at {CONNECTIONS} connections (server p50 alongside)"
    )
    for size in sizes:
        flagged = 0
        for (key, _), s in summaries[size].items():
            if key in ("table", "hello", "floor"):
                continue
            reasons = []
            if not s.ratio >= MIN_TABLE_RATIO:
                reasons.append(f"{figure(s.ratio, 2)}x table")
            if not s.p50 < MAX_P50_MS:
                reasons.append(f"client p50 {figure(s.p50)} ms")
            if reasons:
                flagged += 1
                print(
                    f"{size:>10,}  {s.label:<36} {', '.join(reasons)} "
                    f"(server p50 {figure(s.server)} ms)  {BELOW}"
                )
        failed = [p.label for p in results[size] if p.status != 200]
        if not flagged:
            print(f"{size:>10,}  none")
        if failed:
            print(f"{size:>10,}  not measured (not 200): {', '.join(failed)}  {BELOW}")


def main() -> int:
    started = time.monotonic()
    clients = Clients(CONNECTIONS)  # before anything heavy is imported into this process
    print(
        f"bench_pages: sizes {', '.join(f'{s:,}' for s in SIZES)}; {ROUNDS} rounds of "
        f"{SECONDS:g} s per page at {CONNECTIONS} connections ({CONNECTIONS} client processes)",
        flush=True,
    )
    results: dict[int, list[Page]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder:
        tmp = Path(folder)
        hello = Server(
            "hello",
            "bench.hello_app:app",
            server_env(secrets.token_urlsafe(48)),
            tmp / "hello.log",
            "/",
        )
        try:
            try:
                hello.wait_until_up()
            except RuntimeError as error:
                print(f"error: {error}\n{hello.log_tail()}", file=sys.stderr)
                return 2
            with contextlib.ExitStack() as stack:
                runs = []
                for referrals in SIZES:
                    run = start_size(referrals, stack, tmp)
                    if run is None:
                        return 2
                    runs.append(run)
                table = Page("table", "bare /table (baseline)", "/table", port=hello.port)
                bare = Page("hello", "bare / (hello)", "/", port=hello.port)
                for page in (table, bare):
                    check(page, None)
                measure_sizes(runs, clients, hello, table, bare)
                for run in runs:
                    print_table(run.title, [table, *run.pages, bare])
                    results[run.referrals] = [table, *run.pages, bare]
                load_generator_check(table, bare, [p for run in runs for p in run.measured])
        finally:
            hello.stop()
            clients.close()
    compare(results)
    print(f"\nbench_pages wall time: {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
