"""The product served by gunicorn in a subprocess, for tests with real concurrent HTTP requests.

`LiveServer(database_url)` starts gunicorn with several workers (or threads) on a free port,
on a database the test prepared and committed to, and waits until it answers. `session_for`
gives a `requests.Session` logged in as a user, by a server-side session started in the
database and the same signed cookie the login page would set.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from flask import Flask

from referrals.models import User
from referrals.services.accounts import login_sessions

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(
        self,
        database_url: str,
        *,
        workers: int = 4,
        threads: int = 1,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        gunicorn_args: tuple[str, ...] = (),
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        environment = {
            **os.environ,
            "REFERRALS_CONFIG": "testing",
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.log_path = log_path
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(GUNICORN),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                *gunicorn_args,
                "referrals:create_app()",
            ],
            cwd=ROOT,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped with {self.process.returncode}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not answer within a minute")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log is not subprocess.DEVNULL:
            self._log.close()

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def session_cookie(app: Flask, user: User) -> str:
    """A logged-in session for `user` (committed), as the signed cookie value the server reads.
    Call inside a request context of `app` on the live server's database."""
    from referrals.extensions import db

    token = login_sessions.start_session(user)
    db.session.commit()
    return app.session_interface.get_signing_serializer(app).dumps(
        {"_user_id": token, "_fresh": True}
    )


def session_for(server: LiveServer, app: Flask, user: User) -> requests.Session:
    http = requests.Session()
    cookie = session_cookie(app, user)
    http.cookies.set(app.config["SESSION_COOKIE_NAME"], cookie, domain="127.0.0.1", path="/")
    return http


def all_at_once(calls: list) -> list:
    """Run each zero-argument callable in its own thread, released together; their results."""
    import threading

    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))
