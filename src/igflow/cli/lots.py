"""``igflow lots ...``: recall look-back on the command line.

``igflow lots trace LOT_NUMBER [--csv FILE]`` lists every patient, date, site, appointment and vial count
that received the lot (dispensed net of returns). The look-up is audited as ``cli:<os user>``.
Exit codes: 0 found (even with no patient); 2 no lot with that number.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from igflow.config import get_settings
from igflow.errors import NotFound

lots_app = typer.Typer(help="Inventory lots: recall look-back.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@lots_app.command("trace")
def trace(
    lot_number: Annotated[str, typer.Argument(metavar="LOT_NUMBER")],
    csv: Annotated[Path | None, typer.Option("--csv", help="Also write the rows to this CSV file")] = None,
) -> None:
    """Every patient who received LOT_NUMBER: patient, MRN, date, site, appointment, vials."""
    from igflow.db import Database
    from igflow.inventory import service
    from igflow.security.audit import Actor

    db = Database(get_settings().database_url)
    try:
        with db.session() as session:
            try:
                rows = service.trace_lot_as(session, Actor(None, f"cli:{getpass.getuser()}"), lot_number)
            except NotFound as exc:
                err.print(f"[red]{exc.message}[/red]")
                raise typer.Exit(2) from None
    finally:
        db.dispose()
    table = Table(title=f"Lot {lot_number}: {len(rows)} appointment(s)")
    for column in ("Patient", "MRN", "Date", "Site", "Appointment", "Product", "Vials"):
        table.add_column(column, justify="right" if column in ("Appointment", "Vials") else "left")
    for row in rows:
        table.add_row(
            row.patient_name,
            row.mrn,
            row.date.isoformat(),
            row.site_code,
            str(row.appointment_id),
            row.product_id,
            str(row.vial_count),
        )
    console.print(table)
    if csv is not None:
        csv.write_text(service.trace_csv(rows), encoding="utf-8")
        console.print(f"Wrote {len(rows)} row(s) to {csv}")
