"""``igflow schedule ...``: solve, greedy, evaluate, generate and suggest on contract documents.

Exit codes: 0 success; 1 the schedule has hard-constraint violations (``evaluate``); 2 an invalid
document (the message names the offending field).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from igflow.scheduling.cpsat import Progress as SolveProgress
from igflow.scheduling.cpsat import SolveOptions, solve
from igflow.scheduling.evaluate import evaluate
from igflow.scheduling.generator import generate
from igflow.scheduling.greedy import solve_greedy
from igflow.scheduling.models import Instance, Schedule, Session, dump_document, format_validation_error
from igflow.scheduling.suggest import SlotIndex

schedule_app = typer.Typer(help="Infusion-chair scheduling (contract igflow.schedule-instance/1).")
err = Console(stderr=True)


def _load(path: Path, model: type[BaseModel], what: str) -> Any:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        err.print(f"[red]invalid {what} {path}[/red]: {exc}")
        raise typer.Exit(2) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err.print(f"[red]invalid {what} {path}[/red]:\n{format_validation_error(exc)}", markup=False)
        raise typer.Exit(2) from exc


def _write(path: Path, doc: Instance | Schedule) -> None:
    path.write_text(dump_document(doc), encoding="utf-8")


@schedule_app.command("solve")
def solve_cmd(
    instance_path: Annotated[Path, typer.Argument(metavar="INSTANCE.json")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Schedule file to write")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="Wall-clock limit in seconds")] = 60.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="CP-SAT workers per sub-solve")] = 1,
    work_limit: Annotated[
        float | None,
        typer.Option("--work-limit", help="CP-SAT deterministic-time budget (reproducible runs)"),
    ] = None,
) -> None:
    """Optimise with CP-SAT (large-neighbourhood search warm-started from the greedy)."""
    instance: Instance = _load(instance_path, Instance, "instance")
    options = SolveOptions(time_limit_s=time_limit, seed=seed, num_workers=workers, work_limit=work_limit)
    with Progress(
        TextColumn("[bold]cp-sat"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task("solve", total=time_limit, info="greedy warm start")

        def on_progress(p: SolveProgress) -> None:
            weighted, distance, misses, peak = -p.key[0], p.key[1], p.key[2], p.key[3]
            bar.update(
                task,
                completed=min(p.elapsed_s, time_limit),
                info=f"it {p.iteration}  weighted {weighted}  dist {distance}  misses {misses}  "
                f"peak {peak}  unscheduled {p.unscheduled}",
            )

        schedule = solve(instance, options, progress=on_progress)
        bar.update(task, completed=time_limit)
    _write(output, schedule)
    figures = evaluate(instance, schedule).to_dict()
    err.print_json(json.dumps({"stats": schedule.stats.model_dump() if schedule.stats else None, **figures}))


@schedule_app.command("greedy")
def greedy_cmd(
    instance_path: Annotated[Path, typer.Argument(metavar="INSTANCE.json")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Schedule file to write")],
) -> None:
    """Front-desk baseline: first come (priority, target date), first fit."""
    instance: Instance = _load(instance_path, Instance, "instance")
    _write(output, solve_greedy(instance))


@schedule_app.command("evaluate")
def evaluate_cmd(
    instance_path: Annotated[Path, typer.Argument(metavar="INSTANCE.json")],
    schedule_path: Annotated[Path, typer.Argument(metavar="SCHEDULE.json")],
) -> None:
    """Print violations and quality figures as JSON; exit 1 if any hard constraint is violated."""
    instance: Instance = _load(instance_path, Instance, "instance")
    schedule: Schedule = _load(schedule_path, Schedule, "schedule")
    result = evaluate(instance, schedule)
    sys.stdout.write(json.dumps(result.to_dict(), indent=1) + "\n")
    if not result.valid:
        raise typer.Exit(1)


@schedule_app.command("generate")
def generate_cmd(
    output: Annotated[Path, typer.Option("-o", "--output", help="Instance file to write")],
    seed: Annotated[int, typer.Option("--seed")] = 0,
    load: Annotated[float, typer.Option("--load", help="Demand chair-minutes / capacity bound")] = 0.8,
    sites: Annotated[int, typer.Option("--sites", min=1)] = 3,
    days: Annotated[int, typer.Option("--days", min=1)] = 28,
) -> None:
    """Write a realistic synthetic instance."""
    instance = generate(seed, load, sites, days)
    _write(output, instance)
    err.print(f"{len(instance.sessions)} sessions, {len(instance.sites)} sites, {days} days -> {output}")


@schedule_app.command("suggest")
def suggest_cmd(
    instance_path: Annotated[Path, typer.Argument(metavar="INSTANCE.json")],
    schedule_path: Annotated[Path, typer.Argument(metavar="SCHEDULE.json")],
    course_path: Annotated[
        Path, typer.Argument(metavar="COURSE.json", help="JSON list of sessions (contract session objects)")
    ],
    top: Annotated[int, typer.Option("--top")] = 5,
) -> None:
    """Best options (site, dates, starts, chairs) for one new course among the booked sessions."""
    instance: Instance = _load(instance_path, Instance, "instance")
    schedule: Schedule = _load(schedule_path, Schedule, "schedule")
    try:
        raw = json.loads(course_path.read_text(encoding="utf-8"))
        course = [Session.model_validate(x) for x in raw]
    except (OSError, json.JSONDecodeError, ValidationError, TypeError) as exc:
        err.print(f"invalid course {course_path}:\n{format_validation_error(exc)}", markup=False)
        raise typer.Exit(2) from exc
    if not course:
        err.print("invalid course: no sessions")
        raise typer.Exit(2)
    unknown = [site for s in course for site in s.sites if site not in {x.id for x in instance.sites}]
    if unknown:
        err.print(f"invalid course: sites: unknown site {unknown[0]!r}")
        raise typer.Exit(2)
    known = {s.id for s in instance.sessions}
    for k, s in enumerate(course):
        if s.after is not None and s.after.session not in known | {x.id for x in course[:k]}:
            err.print(f"invalid course: [{k}].after.session: unknown session {s.after.session!r}")
            raise typer.Exit(2)
    options = SlotIndex(instance, schedule).suggest(course, top=top)
    out = [
        {
            "site": o.site,
            "dates": [d.isoformat() for d in o.dates],
            "starts": list(o.starts),
            "chairs": list(o.chairs),
            "target_distance_days": o.target_distance_days,
            "preference_misses": o.preference_misses,
            "peak_increase": o.peak_increase,
        }
        for o in options
    ]
    sys.stdout.write(json.dumps(out, indent=1) + "\n")
