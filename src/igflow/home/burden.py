"""Time burden and "could move home", pure: what a course of therapy costs the patient in hours a month,
and whether the record shows a stable maintenance patient whose coverage allows home therapy.

Hours in a chair come from the verified plan (chair minutes per cycle over the regimen's interval); travel
is estimated from the home's and the centre's coordinates with the home-infusion travel model
(``home.yaml``; an operational assumption, not a measured drive), there and back for each chair day.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WEEKS_PER_MONTH = 52 / 12  # calendar arithmetic, not a clinical figure


@dataclass(frozen=True)
class Burden:
    chair_hours_per_month: float | None
    travel_hours_per_month: float | None
    chair_days_per_month: float | None
    note: str

    @property
    def total_hours_per_month(self) -> float | None:
        if self.chair_hours_per_month is None:
            return None
        return self.chair_hours_per_month + (self.travel_hours_per_month or 0.0)


def burden(
    chair_min_per_cycle: float | None,
    chair_days_per_cycle: int,
    interval_weeks: float | None,
    travel_min_one_way: int | None,
) -> Burden:
    """Hours a month in a chair (and travelling, when the one-way minutes are known)."""
    if not chair_min_per_cycle or not interval_weeks or interval_weeks <= 0:
        return Burden(None, None, None, "no verified plan with a regimen interval to count from")
    cycles_per_month = WEEKS_PER_MONTH / interval_weeks
    days = chair_days_per_cycle * cycles_per_month
    chair_h = chair_min_per_cycle * cycles_per_month / 60
    if travel_min_one_way is None:
        return Burden(round(chair_h, 1), None, round(days, 1), "travel unknown: no coordinates for the home")
    travel_h = 2 * travel_min_one_way * days / 60
    return Burden(round(chair_h, 1), round(travel_h, 1), round(days, 1), "travel estimated from coordinates")


@dataclass(frozen=True)
class Candidate:
    could_move: bool
    reasons_for: list[str] = field(default_factory=list)
    reasons_against: list[str] = field(default_factory=list)


def could_move_home(
    *,
    phase: str,
    setting: str,
    completed_cycles: int,
    stable_after_cycles: int,
    highest_reaction_grade: int | None,
    centre_from_grade: int,
    coverage_site_of_care: str | None,
) -> Candidate:
    """A stable maintenance patient without severe reactions whose coverage allows home therapy."""
    yes: list[str] = []
    no: list[str] = []
    if setting == "home":
        return Candidate(False, [], ["already given at home"])
    (yes if phase == "maintenance" else no).append(
        "maintenance therapy" if phase == "maintenance" else f"{phase} phase, not maintenance"
    )
    if completed_cycles >= stable_after_cycles:
        yes.append(f"{completed_cycles} cycles completed")
    else:
        no.append(f"{completed_cycles} of {stable_after_cycles} cycles completed so far")
    if highest_reaction_grade is None or highest_reaction_grade < centre_from_grade:
        yes.append("no reaction of grade " + str(centre_from_grade) + " or more on record")
    else:
        no.append(f"a grade {highest_reaction_grade} reaction on record")
    if coverage_site_of_care in ("home", "either"):
        yes.append("coverage allows home infusion")
    elif coverage_site_of_care is None:
        no.append("no active coverage on record")
    else:
        no.append("coverage requires a facility")
    return Candidate(not no, yes, no)
