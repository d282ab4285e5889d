"""The ``igflow`` command line (Typer + Rich)."""

from __future__ import annotations

import getpass
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from igflow.cli.audit import audit_app
from igflow.cli.dose import catalog_app, dose
from igflow.cli.imports import import_app
from igflow.cli.lots import lots_app
from igflow.cli.schedule import schedule_app
from igflow.cli.worker import worker
from igflow.config import get_settings

app = typer.Typer(help="igflow: immunoglobulin therapy from referral to outcome.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.command("dose", help="Plan a dose (the JSON of shared/contracts/dose.md); reads the catalog only.")(dose)
app.add_typer(catalog_app, name="catalog")
app.add_typer(schedule_app, name="schedule", help="Chair scheduling: generate, greedy, solve, evaluate.")
app.add_typer(lots_app, name="lots", help="Inventory lots: recall look-back.")
app.add_typer(import_app, name="import")
app.command("worker")(worker)

console = Console()
err = Console(stderr=True)


def _database():  # type: ignore[no-untyped-def]
    import igflow.models  # noqa: F401 - every table, so that foreign keys between capabilities resolve
    from igflow.db import Database

    return Database(get_settings().database_url)


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return None


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations (creates the SQLite file on first use)."""
    from igflow.migrate import upgrade

    url = get_settings().database_url
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    upgrade(url, revision)
    console.print(f"[green]Database at revision {revision}.[/green]")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    worker: Annotated[
        bool | None,
        typer.Option(help="Start a job worker beside the server (default: IGFLOW_SERVE_WORKER, on)"),
    ] = None,
) -> None:
    """Serve the web app and the API (and, unless --no-worker, a background-job worker)."""
    import uvicorn

    from igflow.app import create_app
    from igflow.logging_setup import configure_logging

    settings = get_settings()
    configure_logging()
    application = create_app(settings)
    console.print(
        f"igflow serving on http://{host or settings.host}:{port or settings.port}  (Ctrl+C to stop)"
    )
    from igflow.cli.worker import start_worker_process, stop_worker_process

    job_worker = start_worker_process() if (settings.serve_worker if worker is None else worker) else None
    try:
        uvicorn.run(
            application,
            host=host or settings.host,
            port=port or settings.port,
            access_log=False,
            log_config=None,
            # Proxy headers are believed only from IGFLOW_TRUSTED_PROXIES, by the app itself; uvicorn's
            # own default would trust X-Forwarded-For from 127.0.0.1.
            proxy_headers=False,
        )
    finally:
        if job_worker is not None:
            stop_worker_process(job_worker)


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same network")] = 42,
    patients: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many synthetic patients")] = 250,
    orders: Annotated[
        int, typer.Option(min=0, max=2000, help="Orders entered, verified and scheduled through the services")
    ] = 120,
) -> None:
    """Load the deterministic synthetic three-centre network (safe to re-run)."""
    from igflow.demo.network import DEMO_USERS, load_demo

    db = _database()
    try:
        created = load_demo(db, seed=seed, patients=patients, console=console, orders=orders)
    finally:
        db.dispose()
    if not created:
        console.print("[yellow]Demo data already present: nothing added.[/yellow]")
    table = Table(title="Demo logins (synthetic data only)")
    table.add_column("role")
    table.add_column("username")
    table.add_column("password")
    for user in DEMO_USERS:
        roles = ", ".join((user.role, *user.extra_roles)).replace("pt_approver", "P&T approver")
        table.add_row(roles, user.username, user.password)
    console.print(table)


@user_app.command("add")
def user_add(
    username: str,
    display_name: Annotated[str, typer.Option("--name", help="Full name")],
    roles: Annotated[str, typer.Option(help="Comma-separated roles, e.g. pharmacist,nurse")],
    sites: Annotated[str, typer.Option(help="Comma-separated site ids to limit the user to")] = "",
    service_account: Annotated[bool, typer.Option(help="An account for API tokens, no password")] = False,
) -> None:
    """Add a user; the password is asked for (or read from IGFLOW_NEW_PASSWORD)."""
    from igflow.errors import IgflowError
    from igflow.security import service
    from igflow.security.audit import Actor

    password = None
    if not service_account:
        password = os.environ.get("IGFLOW_NEW_PASSWORD") or getpass.getpass("Password (12+ characters): ")
    db = _database()
    try:
        with db.session() as session:
            user = service.create_user(
                session,
                Actor(None, f"cli:{getpass.getuser()}"),
                username=username,
                display_name=display_name,
                password=password,
                roles=[r.strip() for r in roles.split(",") if r.strip()],
                site_ids=[int(s) for s in sites.split(",") if s.strip()],
                is_service_account=service_account,
            )
            console.print(f"[green]Created user {user.username} (id {user.id}).[/green]")
    except IgflowError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        db.dispose()


def _find_user(session, username: str):  # type: ignore[no-untyped-def]
    from igflow.security import service

    user = service.get_user_by_username(session, username)
    if user is None:
        err.print(f"[red]No user named {username}.[/red]")
        raise typer.Exit(2)
    return user


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Disable a user: ends their sessions and revokes their tokens."""
    from igflow.security import service
    from igflow.security.audit import Actor

    db = _database()
    try:
        with db.session() as session:
            user = _find_user(session, username)
            service.set_active(session, Actor(None, f"cli:{getpass.getuser()}"), user.id, False)
            console.print(f"[green]Disabled {username}.[/green]")
    finally:
        db.dispose()


@user_app.command("reset-password")
def user_reset_password(username: str) -> None:
    """Set a new password (asked for, or IGFLOW_NEW_PASSWORD); ends the user's sessions."""
    from igflow.errors import IgflowError
    from igflow.security import service
    from igflow.security.audit import Actor

    password = os.environ.get("IGFLOW_NEW_PASSWORD") or getpass.getpass("New password (12+ characters): ")
    db = _database()
    try:
        with db.session() as session:
            user = _find_user(session, username)
            service.reset_password(session, Actor(None, f"cli:{getpass.getuser()}"), user.id, password)
            console.print(f"[green]Password reset for {username}.[/green]")
    except IgflowError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        db.dispose()


def _private_file(target: Path) -> None:
    """Create (or truncate) ``target`` readable and writable by its owner only (mode 0600)."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(target, 0o600)  # an existing file keeps its old mode through os.open


@app.command()
def backup(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Backup file to write")] = None,
) -> None:
    """Back up the database: SQLite through its online backup API; PostgreSQL with pg_dump.

    The backup holds every patient's data: it is created readable by its owner only (mode 0600).
    """
    url = get_settings().database_url
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = _sqlite_path(url)
    if path is not None:
        target = output or Path(f"igflow-backup-{stamp}.db")
        if not path.exists():
            err.print(f"[red]No database at {path}.[/red]")
            raise typer.Exit(2)
        _private_file(target)
        source = sqlite3.connect(path)
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)  # consistent even while the server writes
        finally:
            dest.close()
            source.close()
        console.print(f"[green]Backed up {path} to {target} (mode 0600: owner only).[/green]")
        return
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        err.print(
            "[red]pg_dump was not found on PATH: install the PostgreSQL client tools "
            "to back up PostgreSQL.[/red]"
        )
        raise typer.Exit(2)
    target = output or Path(f"igflow-backup-{stamp}.dump")
    _private_file(target)  # pg_dump writes into it and keeps the mode
    libpq_url = url.replace("postgresql+psycopg://", "postgresql://")
    result = subprocess.run([pg_dump, "--format=custom", f"--file={target}", libpq_url], check=False)  # noqa: S603
    if result.returncode != 0:
        err.print("[red]pg_dump failed; see its message above.[/red]")
        raise typer.Exit(result.returncode)
    console.print(f"[green]Backed up to {target} (mode 0600: owner only).[/green]")


@app.command()
def restore(
    backup_file: Path,
    yes: Annotated[bool, typer.Option("--yes", help="Replace the current database without asking")] = False,
) -> None:
    """Restore a backup over the current database (stop the server first)."""
    url = get_settings().database_url
    if not backup_file.exists():
        err.print(f"[red]No backup at {backup_file}.[/red]")
        raise typer.Exit(2)
    if not yes and not typer.confirm(f"Replace the database at {url} with {backup_file}?"):
        raise typer.Exit(1)
    path = _sqlite_path(url)
    if path is not None:
        check = sqlite3.connect(backup_file)
        try:
            ok = check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        except sqlite3.DatabaseError:
            ok = False
        finally:
            check.close()
        if not ok:
            err.print(f"[red]{backup_file} is not an intact SQLite database; nothing was changed.[/red]")
            raise typer.Exit(2)
        source = sqlite3.connect(backup_file)
        dest = sqlite3.connect(path)
        try:
            source.backup(dest)
        finally:
            dest.close()
            source.close()
        console.print(f"[green]Restored {backup_file} into {path}.[/green]")
        return
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        err.print("[red]pg_restore was not found on PATH: install the PostgreSQL client tools.[/red]")
        raise typer.Exit(2)
    libpq_url = url.replace("postgresql+psycopg://", "postgresql://")
    result = subprocess.run(  # noqa: S603
        [pg_restore, "--clean", "--if-exists", "--no-owner", f"--dbname={libpq_url}", str(backup_file)],
        check=False,
    )
    if result.returncode != 0:
        err.print("[red]pg_restore failed; see its message above.[/red]")
        raise typer.Exit(result.returncode)
    console.print(f"[green]Restored {backup_file}.[/green]")
