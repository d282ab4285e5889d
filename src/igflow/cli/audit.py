"""``igflow audit ...``: seal, sign checkpoints, export them, verify, and make a signing key."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from igflow.config import get_settings

if TYPE_CHECKING:
    from igflow.db import Database
    from igflow.security.signing import Signer

audit_app = typer.Typer(
    help="The audit log: hash chain sealed in order, Ed25519-signed checkpoints.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)


def _database() -> Database:
    import igflow.models  # noqa: F401 - every table, so that foreign keys between capabilities resolve
    from igflow.db import Database

    return Database(get_settings().database_url)


def _signer() -> Signer:
    from igflow.security.signing import SigningKeyError, load_signer

    try:
        return load_signer(get_settings())
    except SigningKeyError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None


@audit_app.command("verify")
def audit_verify(
    checkpoints: Annotated[
        Path | None,
        typer.Option("--checkpoints", help="Exported checkpoints (JSON lines) kept outside the database"),
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="Public key to check signatures with (PEM)")
    ] = None,
    max_lag: Annotated[
        float | None, typer.Option("--max-lag", help="Fail when a row has waited longer (s) to be sealed")
    ] = None,
) -> None:
    """Check the chain against the latest signed checkpoint (and an exported file): edits, deleted rows,
    truncation, rewrites, forged checkpoints; report the unsealed lag. Exit 1 on any problem."""
    from igflow.security.audit_verify import SignedCheckpoint, read_checkpoint_lines, verify_with_settings

    external: list[SignedCheckpoint] = []
    unreadable: list[str] = []
    if checkpoints is not None:
        try:
            with checkpoints.open(encoding="utf-8") as fh:
                external, unreadable = read_checkpoint_lines(fh, str(checkpoints))
        except OSError as exc:
            err.print(f"[red]{checkpoints}: {exc.strerror}[/red]")
            raise typer.Exit(2) from None
    db = _database()
    try:
        with db.read_session() as session:  # a snapshot: writers go on while the chain is walked
            report = verify_with_settings(
                session, get_settings(), external, public_key_file=public_key, max_lag_s=max_lag
            )
    finally:
        db.dispose()
    report.problems.extend(unreadable)
    latest = report.latest_checkpoint
    if latest is not None:
        state = "valid" if latest.signature_ok else "NOT VALID"
        console.print(
            f"Latest checkpoint: row {latest.last_seq} at {latest.at}, key {latest.key_id}, "
            f"signature {state}."
        )
    if checkpoints is not None:
        console.print(f"Checked {len(external)} exported checkpoints from {checkpoints}.")
    if report.unsealed_rows:
        console.print(
            f"Unsealed: {report.unsealed_rows} rows, the oldest written {report.unsealed_lag_s:.0f} s ago "
            f"({report.unsealed_oldest_at:%Y-%m-%d %H:%M:%S} UTC)."
        )
    else:
        console.print("Unsealed: none.")
    if report.ok:
        console.print(f"[green]Audit chain intact: {report.rows_checked} rows checked.[/green]")
        return
    if report.first_broken_seq is not None:
        console.print(f"[red]Audit chain broken at row {report.first_broken_seq}.[/red]")
    else:
        console.print(f"[red]Audit log does not verify ({report.rows_checked} rows checked).[/red]")
    for problem in report.problems:
        console.print(f"[red]- {problem}[/red]")
    raise typer.Exit(1)


@audit_app.command("seal")
def audit_seal(
    every: Annotated[
        float | None, typer.Option("--every", help="Keep sealing every N seconds (Ctrl+C to stop)")
    ] = None,
) -> None:
    """Chain the rows written since the last seal, in order, and sign a checkpoint of the new head."""
    from igflow.security.audit import AuditTruncatedError, seal_pending

    signer = _signer()
    db = _database()
    try:
        while True:
            with db.session() as session:
                try:
                    result = seal_pending(session, signer, wait=every is None)
                except AuditTruncatedError as exc:
                    err.print(f"[red]{exc}[/red]")
                    raise typer.Exit(1) from None
            if result.busy:
                console.print("Another sealer is running; nothing done.")
            elif result.sealed or every is None:
                console.print(
                    f"Sealed {result.sealed} rows; chain head at row {result.last_seq}"
                    + (f", checkpoint #{result.checkpoint_ids[-1]} signed." if result.checkpoint_ids else ".")
                )
            if every is None:
                return
            time.sleep(every)
    except KeyboardInterrupt:
        return
    finally:
        db.dispose()


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Seal what is pending and sign a checkpoint of the chain head now (even if nothing was new)."""
    from igflow.security.audit import AuditTruncatedError, checkpoint_now

    signer = _signer()
    db = _database()
    try:
        with db.session() as session:
            result = checkpoint_now(session, signer)
    except AuditTruncatedError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    console.print(
        f"[green]Checkpoint #{result.checkpoint_ids[-1]} signed (key {signer.key_id}): "
        f"{result.last_seq} rows, head {result.head_hash[:16]}…[/green]"
    )


@audit_app.command("export-checkpoints")
def audit_export_checkpoints(
    output: Annotated[Path, typer.Argument(help="File to write (JSON lines); '-' for standard output")],
) -> None:
    """Write every signed checkpoint as JSON lines, to keep a copy away from the database (then
    `igflow audit verify --checkpoints FILE` notices rows deleted from the end, even with their
    checkpoints)."""
    import sys

    from igflow.security.audit_verify import export_checkpoints

    db = _database()
    try:
        with db.read_session() as session:
            if str(output) == "-":
                count = export_checkpoints(session, sys.stdout)
            else:
                with output.open("w", encoding="utf-8") as fh:
                    count = export_checkpoints(session, fh)
    finally:
        db.dispose()
    if str(output) != "-":
        console.print(f"[green]{count} checkpoints written to {output}.[/green]")


@audit_app.command("keygen")
def audit_keygen(
    output: Annotated[Path, typer.Argument(help="Private key file to create (mode 0600); '.pub' beside it")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file")] = False,
) -> None:
    """Make an Ed25519 checkpoint signing key. Point IGFLOW_AUDIT_SIGNING_KEY_FILE at it; keep it off
    the database server and out of backups of the database; give auditors the .pub file."""
    from igflow.security.signing import Signer, write_key_file

    signer = Signer.generate()
    try:
        pub = write_key_file(signer, output, overwrite=force)
    except FileExistsError:
        err.print(
            f"[red]{output} exists (use --force to replace it: old checkpoints then need the old key).[/red]"
        )
        raise typer.Exit(2) from None
    mode = oct(os.stat(output).st_mode & 0o777)
    console.print(f"[green]Signing key {output} ({mode}), public key {pub}, key id {signer.key_id}.[/green]")
