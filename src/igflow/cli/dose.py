"""`igflow dose` and `igflow catalog check` (shared/contracts/dose.md).

The lead's ``igflow.cli`` registers ``dose`` as a command and ``catalog_app`` as the ``catalog`` group.
For local use: ``python -m igflow.cli.dose dose ...`` or ``python -m igflow.cli.dose catalog check``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from igflow.catalog import PHASES, CatalogError, load_catalog, load_catalog_from
from igflow.catalog.loader import default_data_dir
from igflow.catalog.protocol import ProtocolFileError, apply_protocol, load_protocol_file
from igflow.clinical import DoseInputError, DoseRequest, plan_dose
from igflow.clinical.models import DosePlan
from igflow.clinical.scig import ScigInputError, ScigRequest
from igflow.clinical.scig_contract import ScigContext, is_sc_product, plan_sc

EXIT_OK = 0
EXIT_INVALID_INPUT = 2
EXIT_HARD_STOP = 3


def _fail_input(field: str, message: str) -> typer.Exit:
    typer.echo(f"invalid input: --{field.replace('_', '-')}: {message}", err=True)
    return typer.Exit(EXIT_INVALID_INPUT)


def _print_human(plan: DosePlan) -> None:
    console = Console()
    data = plan.to_contract_dict()
    console.print(
        f"[bold]{data['indication']} / {data['phase']} / {data['product']}[/] policy {data['policy']}: "
        f"dosing weight {data['dosing_weight_kg']} kg ({data['weight_basis']}), "
        f"prescribed {data['prescribed_g']} g, dispensed {data['dispensed_g']} g"
    )
    for reason in data["weight_reasoning"]:
        console.print(f"  {reason}")
    for day in data["days"]:
        table = Table(title=f"Day {day['day']}: {day['dispensed_g']} g, {day['volume_ml']} mL")
        for column in ("start min", "minutes", "mg/kg/min", "mL/h", "mL"):
            table.add_column(column, justify="right")
        for step in day["steps"]:
            table.add_row(
                str(step["start_min"]),
                str(step["minutes"]),
                str(step["rate_mg_per_kg_min"]),
                str(step["rate_ml_per_h"]),
                str(step["volume_ml"]),
            )
        console.print(table)
    for alert in data["alerts"]:
        console.print(
            f"[{'red' if alert['severity'] == 'hard_stop' else 'yellow'}]{alert['severity']}[/] "
            f"{alert['code']}: {alert['message']}"
        )


def _print_human_sc(data: dict[str, Any]) -> None:
    console = Console()
    console.print(
        f"[bold]{data['product']} (subcutaneous)[/]: {data['weekly_dose_g']} g a week, "
        f"{data['dose_per_infusion_g']} g {data['frequency']}; dispensed {data['dispensed_g']} g "
        f"in {data['volume_ml']} mL"
    )
    if data.get("rate_ml_per_h_per_site"):
        console.print(
            f"  {data['sites']} site(s) x {data['ml_per_site']} mL at "
            f"{data['rate_ml_per_h_per_site']} mL/h per site ({data['total_rate_ml_per_h']} mL/h in all), "
            f"{data['duration_min']} min"
        )
    for step in data.get("ramp_up") or []:
        console.print(
            f"  week {step['week']}: the {step['covers_weeks']}-week dose {step['dose_g']} g "
            f"({step['volume_ml']} mL, {step['sites']} site(s))"
        )
    for alert in data["alerts"]:
        console.print(
            f"[{'red' if alert['severity'] == 'hard_stop' else 'yellow'}]{alert['severity']}[/] "
            f"{alert['code']}: {alert['message']}"
        )


def _dose_sc(
    product: str,
    weight_kg: float,
    age_years: float,
    sc: dict[str, float | int | None],
    context: ScigContext,
    json_output: bool,
) -> None:
    """The SC plan (docs/dose-scig.md): the same exit codes as the IV contract."""
    for name in ("previous_iv_dose_g", "iv_interval_weeks"):
        if sc[name] is None:
            raise _fail_input(
                name, "required for a subcutaneous plan (the patient's IV regimen being switched)"
            )
    catalog = load_catalog()
    weeks = float(sc["iv_interval_weeks"] or 0)
    interval = sc["interval_days"]
    if interval is None:
        if product != catalog.scig.hyqvia.product:
            raise _fail_input(
                "interval_days", "required for a subcutaneous plan (1 = daily ... 14 = every 2 weeks)"
            )
        interval = round(weeks * 7)  # HyQvia keeps the IV interval
    request = ScigRequest(
        product_id=product,
        previous_iv_dose_g=float(sc["previous_iv_dose_g"] or 0),
        iv_interval_weeks=weeks,
        interval_days=int(interval),
        weight_kg=weight_kg,
        age_years=age_years,
        infusion_number=int(sc["infusion_number"] or 1),
    )
    try:
        data = plan_sc(request, catalog, context)
    except ScigInputError as exc:
        field = {"product_id": "product", "interval_days": "interval_days"}.get(exc.field, exc.field)
        raise _fail_input(field, exc.message) from None
    if json_output:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        _print_human_sc(data)
    raise typer.Exit(EXIT_HARD_STOP if data["status"] == "hard_stop" else EXIT_OK)


def dose(
    weight_kg: Annotated[float, typer.Option(help="Actual body weight, kg.")],
    age_years: Annotated[float, typer.Option(help="Age in years.")],
    product: Annotated[str, typer.Option(help="Product id from the catalog.")],
    indication: Annotated[
        str | None, typer.Option(help="Indication id from the catalog (required for an IV plan).")
    ] = None,
    phase: Annotated[
        str | None, typer.Option(help=f"One of: {', '.join(PHASES)} (required for an IV plan).")
    ] = None,
    height_cm: Annotated[float | None, typer.Option(help="Height, cm (required for an IV plan).")] = None,
    sex: Annotated[str | None, typer.Option(help="female or male (required for an IV plan).")] = None,
    policy: Annotated[
        str | None, typer.Option(help="Dosing-weight policy id (default: catalog default).")
    ] = None,
    dose_g_per_kg: Annotated[float | None, typer.Option(help="Prescribed dose, g/kg per course.")] = None,
    days: Annotated[int | None, typer.Option(help="Split the course over N days.")] = None,
    first_infusion: Annotated[
        bool, typer.Option("--first-infusion", help="First infusion of this product.")
    ] = False,
    risk: Annotated[str | None, typer.Option(help="Comma-separated risk ids, e.g. renal,thrombosis.")] = None,
    iga_deficient_with_antibodies: Annotated[
        bool, typer.Option("--iga-deficient-with-antibodies", help="IgA deficiency with anti-IgA antibodies.")
    ] = False,
    pregnant: Annotated[bool, typer.Option("--pregnant", help="Patient is pregnant.")] = False,
    override_reason: Annotated[
        str | None, typer.Option(help="Prescriber's documented reason to pass an overridable stop.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the contract JSON.")] = False,
    protocol: Annotated[
        Path | None,
        typer.Option(
            help="A site protocol document (YAML or JSON, as exported from igflow's Site protocols page or "
            "GET /api/v1/protocols/{id}/document): its values replace the catalog's unknowns, as in igflow."
        ),
    ] = None,
    route: Annotated[
        str | None,
        typer.Option(help="iv or sc (default: the product's route; sc for a product licensed both ways)."),
    ] = None,
    previous_iv_dose_g: Annotated[
        float | None, typer.Option(help="SC: the IV dose being switched from, g per IV infusion.")
    ] = None,
    iv_interval_weeks: Annotated[
        float | None, typer.Option(help="SC: weeks between the IV infusions.")
    ] = None,
    interval_days: Annotated[
        int | None, typer.Option(help="SC: days between SC infusions (1 daily, 7 weekly, 14 every 2 weeks).")
    ] = None,
    infusion_number: Annotated[
        int | None, typer.Option(help="SC: which infusion of this product for the patient (default 1).")
    ] = None,
) -> None:
    """Plan an immunoglobulin course: dosing weight, whole vials, rate steps, chair time, alerts.

    A subcutaneous product (or --route sc) is planned as a switch from IVIG: docs/dose-scig.md.
    Exit 0: a plan (may carry warnings); 3: a hard stop (JSON still printed); 2: invalid input.
    """
    risks = tuple(item.strip() for item in (risk or "").split(",") if item.strip())
    if route not in (None, "iv", "sc"):
        raise _fail_input("route", f"unknown route {route!r}; valid: iv, sc")
    sc_inputs = {
        "previous_iv_dose_g": previous_iv_dose_g,
        "iv_interval_weeks": iv_interval_weeks,
        "interval_days": interval_days,
        "infusion_number": infusion_number,
    }
    if route == "sc" or (route is None and is_sc_product(product, load_catalog())):
        context = ScigContext(
            indication=indication,
            phase=phase,
            risks=risks,
            iga_deficient_with_antibodies=iga_deficient_with_antibodies,
            pregnant=pregnant,
            override_reason=override_reason,
            sex=sex,
            height_cm=height_cm,
        )
        _dose_sc(product, weight_kg, age_years, sc_inputs, context, json_output)
    given = [name for name, value in sc_inputs.items() if value is not None]
    if given:
        raise _fail_input(given[0], "only for a subcutaneous plan (an SC product, or --route sc)")
    missing = [
        n
        for n, v in (("indication", indication), ("phase", phase), ("height_cm", height_cm), ("sex", sex))
        if v is None
    ]
    if missing:
        raise _fail_input(missing[0], "required for an intravenous plan")
    assert indication is not None and phase is not None and height_cm is not None and sex is not None
    request = DoseRequest(
        indication=indication,
        phase=phase,
        product=product,
        weight_kg=weight_kg,
        height_cm=height_cm,
        sex=sex,
        age_years=age_years,
        policy=policy,
        dose_g_per_kg=dose_g_per_kg,
        days=days,
        first_infusion=first_infusion,
        risks=risks,
        iga_deficient_with_antibodies=iga_deficient_with_antibodies,
        pregnant=pregnant,
        override_reason=override_reason,
    )
    catalog = load_catalog()
    if protocol is not None:
        try:
            document = load_protocol_file(protocol, catalog)
        except ProtocolFileError as exc:
            raise _fail_input("protocol", str(exc)) from None
        catalog = apply_protocol(catalog, document.values, document.citation)
    try:
        plan = plan_dose(request, catalog)
    except DoseInputError as exc:
        raise _fail_input(exc.field, exc.message) from None
    if json_output:
        sys.stdout.write(json.dumps(plan.to_contract_dict(), indent=2) + "\n")
    else:
        _print_human(plan)
    raise typer.Exit(EXIT_HARD_STOP if plan.hard_stopped else EXIT_OK)


catalog_app = typer.Typer(help="Reference catalog: validation and coverage.", no_args_is_help=True)


@catalog_app.command("check")
def check(
    data_dir: Annotated[
        Path | None, typer.Option(help="Catalog data folder (default: the packaged catalog).")
    ] = None,
) -> None:
    """Validate the catalog and print its coverage; exit 1 on validation errors."""
    console = Console(width=200)
    try:
        catalog = load_catalog_from(data_dir or default_data_dir())
    except CatalogError as exc:
        for problem in exc.problems:
            typer.echo(f"catalog error: {problem}", err=True)
        raise typer.Exit(1) from None

    fields = list(next(iter(catalog.products.values())).fact_fields())
    products = Table(title="Products x fields (known / unknown; * = secondary or unverified)")
    products.add_column("product")
    for name in fields:
        products.add_column(name.replace("_", " "), justify="center")
    products.add_column("rate protocols", justify="right")
    for product in catalog.products.values():
        cells = []
        for fact in product.fact_fields().values():
            mark = "known" if fact.known else "[red]unknown[/]"
            cells.append(mark + ("*" if fact.known and not fact.verified else ""))
        products.add_row(product.id, *cells, str(len(product.titration)))
    console.print(products)

    indications = Table(title="Indications x regimens (with sources)")
    for column in ("indication", "class", "urgency", *PHASES, "outcomes", "regimen sources"):
        indications.add_column(column, overflow="fold")
    for indication in catalog.indications.values():
        cells = []
        sources = []
        for phase in PHASES:
            regimen = indication.regimens.get(phase)
            if regimen is None:
                cells.append("-")
                continue
            cells.append(
                f"{regimen.usual_g_per_kg:g} g/kg ({regimen.min_g_per_kg:g}-{regimen.max_g_per_kg:g}) "
                f"x{regimen.usual_days} d"
            )
            sources.append(f"{phase}: {regimen.source}")
        indications.add_row(
            indication.id,
            indication.recommendation,
            str(indication.urgency),
            *cells,
            str(len(indication.outcomes)),
            "\n".join(sources) or (indication.regimen_note or ""),
        )
    console.print(indications)
    unknown = sum(
        not fact.known for product in catalog.products.values() for fact in product.fact_fields().values()
    )
    console.print(
        f"catalog OK: {len(catalog.products)} products, {len(catalog.indications)} indications, "
        f"{len(catalog.policies)} policies; {unknown} product facts unknown (engine refuses to use them)."
    )


def _main_app() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)
    app.command("dose")(dose)
    app.add_typer(catalog_app, name="catalog")
    return app


if __name__ == "__main__":
    _main_app()()
