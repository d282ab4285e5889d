"""The safety report, pure: reaction rates per product, indication, centre, first versus later infusion and
the rate step reached, beside the published baseline, each with its 95 % Wilson interval.

One :class:`Infusion` per infusion charted (signed, in observation or stopped). The measures are those of
the published baseline (catalog ``infusion_day.yaml`` ``baseline_rates``, with their sources):

* ``headache``: a reaction charted with headache among its symptoms;
* ``moderate-or-severe``: the infusion's highest reaction grade is 2 or more (CTCAE: moderate or worse);
* ``serious``: the highest grade is 3 or more.

A group's rate is ``k / n`` with ``n`` the infusions in the group; the interval is the Wilson score interval
(:func:`igflow.reports.stats.wilson_interval`). A group is marked **above the baseline** only when its whole
interval lies above the baseline's upper figure (the interval's low end is higher), so a centre with few
infusions and one reaction is not flagged on chance alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from igflow.reports.stats import wilson_interval

MEASURES: dict[str, Callable[[Infusion], bool]] = {
    "headache": lambda i: i.headache,
    "moderate-or-severe": lambda i: i.max_grade >= 2,
    "serious": lambda i: i.max_grade >= 3,
}


@dataclass(frozen=True)
class Infusion:
    product: str  # words
    indication: str
    centre: str
    first: bool  # the patient's first infusion of the product
    step_reached: int | None  # 1-based highest rate step reached; None: subcutaneous (no IV steps)
    max_grade: int  # the highest CTCAE grade charted (0: no reaction)
    headache: bool


@dataclass(frozen=True)
class Baseline:
    """A published rate in percent of infusions: ``low``-``high`` (low None: "under ``high``")."""

    id: str
    label: str
    high_percent: float
    low_percent: float | None
    source: str
    verified: bool

    @property
    def words(self) -> str:
        if self.low_percent is not None:
            return f"{self.low_percent:g}–{self.high_percent:g} %"
        return f"under {self.high_percent:g} %"


@dataclass(frozen=True)
class Rate:
    events: int
    infusions: int
    interval: tuple[float, float] | None
    baseline: Baseline | None

    @property
    def rate(self) -> float | None:
        return self.events / self.infusions if self.infusions else None

    @property
    def above_baseline(self) -> bool:
        """The whole 95 % interval lies above the baseline's upper figure."""
        if self.interval is None or self.baseline is None:
            return False
        return self.interval[0] > self.baseline.high_percent / 100


@dataclass(frozen=True)
class Group:
    dimension: str
    label: str
    infusions: int
    rates: dict[str, Rate]


def _step(i: Infusion) -> str:
    return "subcutaneous (no rate steps)" if i.step_reached is None else f"step {i.step_reached}"


DIMENSIONS: dict[str, Callable[[Infusion], str]] = {
    "product": lambda i: i.product,
    "indication": lambda i: i.indication,
    "centre": lambda i: i.centre,
    "infusion": lambda i: "first infusion of the product" if i.first else "later infusions",
    "step": _step,
}


def rate(infusions: Sequence[Infusion], measure: str, baseline: Baseline | None) -> Rate:
    k = sum(1 for i in infusions if MEASURES[measure](i))
    return Rate(k, len(infusions), wilson_interval(k, len(infusions)), baseline)


def groups(infusions: Iterable[Infusion], dimension: str, baselines: Iterable[Baseline]) -> list[Group]:
    """One group per value of ``dimension``: its infusions and the rate of every baseline measure."""
    known = {b.id: b for b in baselines}
    key = DIMENSIONS[dimension]
    members: dict[str, list[Infusion]] = defaultdict(list)
    for i in infusions:
        members[key(i)].append(i)

    def order(label: str) -> tuple[int, str]:
        if dimension == "step" and label.startswith("step "):
            return (int(label.split()[1]), "")
        if dimension == "infusion":
            return (0 if label.startswith("first") else 1, label)
        return (0 if dimension != "step" else 10_000, label)

    return [
        Group(dimension, label, len(rows), {m: rate(rows, m, known.get(m)) for m in MEASURES})
        for label, rows in sorted(members.items(), key=lambda kv: order(kv[0]))
    ]


def overall(infusions: Sequence[Infusion], baselines: Iterable[Baseline]) -> Group:
    known = {b.id: b for b in baselines}
    rows = list(infusions)
    return Group("all", "all infusions", len(rows), {m: rate(rows, m, known.get(m)) for m in MEASURES})
