"""`make cluster`: the production set-up scaled out, on one machine.

Two gunicorn app servers behind a round-robin proxy (which sets X-Forwarded-For; the apps
trust one proxy, PROXY_COUNT=1), one PostgreSQL database, rate-limit counters in Redis, and
two of each worker (e-mail, reports, offer deadlines). Sessions, login locks and offers live in
the database and the rate limits in Redis, so whichever server answers, the user sees the same.

    python scripts/cluster.py [--port 5000] [--app-ports 5101,5102]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/referrals_cluster]
        [--redis-url redis://127.0.0.1:6379/1] [--no-demo]

Ctrl-C (or SIGTERM) stops everything it started. The development configuration is used, with
JSON logs: production differs in its secrets, BASE_URL and HTTPS-only cookies.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))

from round_robin_proxy import make_proxy  # noqa: E402

WORKERS = {
    "mail": ["send-notifications", "--loop", "--interval", "10"],
    "reports": ["render-reports", "--loop", "--interval", "5"],
    "offers": ["expire-offers", "--loop", "--interval", "60"],
    "figures": ["refresh-figures", "--loop", "--interval", "60"],
}


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of `url` when it is not there."""
    target = sa.engine.make_url(url)
    if not target.drivername.startswith("postgresql"):
        return
    engine = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        )
        if not exists:
            connection.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    engine.dispose()


def wait_until_ready(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} stopped with exit code {process.returncode}")
        try:
            # Production answers only BASE_URL's host (TRUSTED_HOSTS).
            host = urlsplit(os.environ.get("BASE_URL") or "").hostname
            check = urllib.request.Request(f"{url}/ready", headers={"Host": host} if host else {})
            with urllib.request.urlopen(check, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} was not ready within {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--app-ports", default="5101,5102")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "CLUSTER_DATABASE_URL",
            "postgresql+psycopg://postgres@127.0.0.1:5432/referrals_cluster",
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/1")
    )
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    args = parser.parse_args(argv)
    app_ports = [int(port) for port in args.app_ports.split(",")]

    state = ROOT / "instance" / f"cluster-{args.port}"
    env = {
        **os.environ,
        "FLASK_APP": "referrals",
        "REFERRALS_CONFIG": os.environ.get("REFERRALS_CONFIG", "development"),
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "PROXY_COUNT": "1",
        "REPORTS_INLINE": "0",  # the report workers render, as in production
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "json"),
        "PYTHONUNBUFFERED": "1",
    }
    ensure_database(args.database_url)
    flask = [str(BIN / "flask")]
    subprocess.run([*flask, "db", "upgrade"], env=env, cwd=ROOT, check=True)
    if not args.no_demo:
        subprocess.run([*flask, "load-postcodes"], env=env, cwd=ROOT, check=True)
        subprocess.run([*flask, "load-demo"], env=env, cwd=ROOT, check=True)

    processes: list[tuple[str, subprocess.Popen]] = []

    def start(name: str, command: list[str], extra: dict[str, str] | None = None):
        process = subprocess.Popen(
            command, env={**env, **(extra or {})}, cwd=ROOT, start_new_session=True
        )
        processes.append((name, process))
        return process

    def stop_all() -> None:
        for _name, process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _name, process in processes:
            try:
                process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    proxy = None
    try:
        for number, port in enumerate(app_ports, start=1):
            # Each server counts its own requests for Prometheus, as on separate machines.
            metrics_dir = state / f"prometheus-{number}"
            shutil.rmtree(metrics_dir, ignore_errors=True)
            metrics_dir.mkdir(parents=True)
            server = start(
                f"app{number}",
                [str(BIN / "gunicorn"), "-c", "config/gunicorn.py", "referrals:create_app()"],
                {
                    "GUNICORN_BIND": f"127.0.0.1:{port}",
                    "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                },
            )
            wait_until_ready(f"http://127.0.0.1:{port}", server)
        for name, command in WORKERS.items():
            for number in (1, 2):
                start(f"{name}{number}", [*flask, *command])
        proxy = make_proxy(args.port, [("127.0.0.1", port) for port in app_ports])
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        if not args.no_demo:
            subprocess.run([*flask, "demo-accounts"], env=env, cwd=ROOT, check=True)
        servers = ", ".join(f"127.0.0.1:{port}" for port in app_ports)
        print(f"Cluster on http://127.0.0.1:{args.port} (app servers {servers}); Ctrl-C stops.")
        print("CLUSTER READY", flush=True)
        while not stopping.is_set():
            for name, process in processes:
                if process.poll() is not None:
                    print(f"{name} stopped with exit code {process.returncode}", file=sys.stderr)
                    return 1
            stopping.wait(1)
    except KeyboardInterrupt:
        pass
    finally:
        if proxy is not None:
            proxy.shutdown()
            proxy.server_close()
        stop_all()
        shutil.rmtree(state, ignore_errors=True)  # the metrics files of this run
    return 0


if __name__ == "__main__":
    sys.exit(main())
