"""Load and cross-check the YAML catalog shipped in ``igflow/catalog/data``."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from igflow.catalog import home_supply as home_supply_checks
from igflow.catalog.home_supply import HomeSupplyFile
from igflow.catalog.models import (
    Administration,
    HomeFile,
    IbwFormula,
    Indication,
    IndicationsFile,
    InfusionDay,
    Measure,
    OutcomesFile,
    PayersFile,
    PoliciesFile,
    Policy,
    Product,
    ProductsFile,
    ResponseThreshold,
    ScigFile,
)

#: Ids the dose contract (shared/contracts/dose.md) promises; the catalog must hold all of them.
CONTRACT_PRODUCT_IDS: tuple[str, ...] = (
    "privigen",
    "gammagard-liquid",
    "gamunex-c",
    "octagam-10",
    "panzyga",
    "bivigam",
    "gammaplex-10",
    "flebogamma-10-dif",
    "asceniv",
    "hizentra",
    "cuvitru",
    "hyqvia",
    "xembify",
    "cutaquig",
)
CONTRACT_INDICATION_IDS: tuple[str, ...] = (
    "kawasaki",
    "itp-adult",
    "itp-child",
    "gbs",
    "cidp",
    "mmn",
    "dermatomyositis",
    "polymyositis",
    "myasthenia-gravis",
    "sle",
    "lupus-nephritis",
    "pid",
    "sid",
    "ms",
    "ra",
    "aiha",
    "acquired-haemophilia",
    "autoimmune-neutropenia",
)
CONTRACT_POLICY_IDS: tuple[str, ...] = (
    "actual",
    "australia-2026",
    "nhs-england-2021",
    "ontario",
    "adjusted-bmi30",
)


class CatalogError(ValueError):
    """The catalog data is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid catalog:\n- " + "\n- ".join(problems))


@dataclass(frozen=True)
class Catalog:
    """The validated catalog. Look-ups by id; iteration order follows the YAML files."""

    products: dict[str, Product]
    indications: dict[str, Indication]
    policies: dict[str, Policy]
    formulas: dict[str, IbwFormula]
    default_policy: str
    administration: Administration
    infusion_day: InfusionDay
    outcomes: OutcomesFile
    payers: PayersFile
    scig: ScigFile
    home: HomeFile
    home_supply: HomeSupplyFile

    def risk_ids(self) -> list[str]:
        return [risk.id for risk in self.administration.screening.risks]


def _read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _parse(model: type[Any], path: Path, problems: list[str]) -> Any:
    try:
        return model.model_validate(_read_yaml(path))
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"])
            problems.append(f"{path.name}: {where}: {err['msg']}")
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path.name}: {exc}")
    return None


def _unique(kind: str, ids: list[str], problems: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            problems.append(f"duplicate {kind} id {item!r}")
        seen.add(item)


def _cross_check(catalog: Catalog, problems: list[str]) -> None:
    indication_ids = set(catalog.indications)
    for needed, present, kind in (
        (CONTRACT_PRODUCT_IDS, catalog.products, "product"),
        (CONTRACT_INDICATION_IDS, catalog.indications, "indication"),
        (CONTRACT_POLICY_IDS, catalog.policies, "policy"),
    ):
        problems.extend(f"contract {kind} id {item!r} is missing" for item in needed if item not in present)
    if catalog.default_policy not in catalog.policies:
        problems.append(f"default_policy {catalog.default_policy!r} is not a policy id")
    for product in catalog.products.values():
        approved = product.approved_indications.value or []
        problems.extend(
            f"product {product.id}: approved indication {item!r} is not an indication id"
            for item in approved
            if item not in indication_ids
        )
        problems.extend(
            f"product {product.id}: licensed age indication {item!r} is not an indication id"
            for licence in product.licensed_ages
            for item in licence.indications
            if item not in indication_ids
        )
        covered: set[str] = set()
        for protocol in product.titration:
            for item in protocol.indications:
                if item not in indication_ids:
                    problems.append(f"product {product.id}: titration indication {item!r} is unknown")
                if item in covered:
                    problems.append(f"product {product.id}: two titration protocols for {item!r}")
                covered.add(item)
        if product.is_iv:
            problems.extend(
                f"product {product.id}: licensed for {item!r} but has no titration protocol for it"
                for item in approved
                if product.titration_for(item) is None
            )
            if product.default_titration_indication is None:
                problems.append(f"product {product.id}: IV product needs default_titration_indication")
            elif product.titration_for(product.default_titration_indication) is None:
                problems.append(f"product {product.id}: default_titration_indication has no protocol")
        sizes = product.vial_sizes_g.value
        if sizes is not None and (not sizes or any(size <= 0 for size in sizes)):
            problems.append(f"product {product.id}: vial sizes must be positive")
    for policy in catalog.policies.values():
        if policy.ibw_formula is not None and policy.ibw_formula not in catalog.formulas:
            problems.append(f"policy {policy.id}: formula {policy.ibw_formula!r} is not defined")
    bands = catalog.administration.plausibility.bands
    for first, second in itertools.pairwise(bands):
        if first.age_to != second.age_from:
            problems.append("plausibility bands must be contiguous")
    _unique("risk", catalog.risk_ids(), problems)
    _check_infusion_day(catalog.infusion_day, problems)
    _check_outcomes(catalog.outcomes, indication_ids, problems)
    _check_payers(catalog, indication_ids, problems)
    for entry in catalog.scig.products:
        if entry.product not in catalog.products:
            problems.append(f"scig: {entry.product!r} is not a product id")
    for name, scope in [(e.product, e.conversion_indications) for e in catalog.scig.products] + [
        ("hyqvia", catalog.scig.hyqvia.conversion_indications)
    ]:
        for indication in scope.value or []:
            if indication not in indication_ids:
                problems.append(f"scig: {name}: conversion indication {indication!r} is not an indication id")


def _check_payers(catalog: Catalog, indication_ids: set[str], problems: list[str]) -> None:
    payers = catalog.payers
    _unique("payer policy", [p.id for p in payers.policies], problems)
    categories = {c.id for c in payers.document_categories}
    _unique("document category", [c.id for c in payers.document_categories], problems)
    measures = {m.id for m in catalog.outcomes.measures}
    for policy in payers.policies:
        where = f"payers: policy {policy.id}"
        lists = [("default", policy.default_requirements)]
        lists += [(entry.indication, entry.requirements) for entry in policy.indications]
        for entry in policy.indications:
            if entry.indication not in indication_ids:
                problems.append(f"{where}: {entry.indication!r} is not an indication id")
        for item in policy.not_covered_indications:
            if item.indication not in indication_ids:
                problems.append(f"{where}: not covered {item.indication!r} is not an indication id")
        _unique(f"{where} indication", [e.indication for e in policy.indications], problems)
        for name, requirements in lists:
            _unique(f"{where}/{name} requirement", [r.id for r in requirements], problems)
            for req in requirements:
                if req.measure is not None and req.measure not in measures:
                    problems.append(f"{where}/{name}/{req.id}: measure {req.measure!r} is not defined")
                if req.document is not None and req.document not in categories:
                    problems.append(f"{where}/{name}/{req.id}: document category {req.document!r} is unknown")
        products = policy.preferred_products.value or []
        for product in products:
            if product not in catalog.products:
                problems.append(f"{where}: preferred product {product!r} is not a product id")
    if not any(p.id == "generic" for p in payers.policies):
        problems.append("payers: a 'generic' policy is needed for payers without their own")


def _check_infusion_day(day: InfusionDay, problems: list[str]) -> None:
    _unique("symptom", [s.id for s in day.symptoms], problems)
    _unique("follow-up checklist", [c.id for c in day.follow_up.checklist], problems)
    _unique("baseline rate", [r.id for r in day.baseline_rates], problems)
    start, end = day.follow_up.window_start_h.value, day.follow_up.window_end_h.value
    if start is not None and end is not None and not 0 <= start < end:
        problems.append("follow_up: window_start_h must be >= 0 and before window_end_h")
    for name, limit in day.vital_limits.limits.items():
        low = limit.low.value if limit.low is not None else None
        high = limit.high.value if limit.high is not None else None
        if low is not None and high is not None and low >= high:
            problems.append(f"vital_limits: {name} low limit must be below the high limit")
    for rate in day.baseline_rates:
        if rate.low_percent is not None and rate.low_percent > rate.high_percent:
            problems.append(f"baseline rate {rate.id}: low_percent above high_percent")
    for fact_name in ("stop_infusion_from_grade", "escalate_from_grade"):
        grade = getattr(day.reaction_protocol, fact_name).value
        if grade is not None and grade not in range(1, 6):
            problems.append(f"reaction_protocol: {fact_name} must be a CTCAE grade 1..5")


def _whole(value: float | None) -> bool:
    return value is None or float(value).is_integer()


def _check_measure(measure: Measure, problems: list[str]) -> None:
    where = f"outcomes: measure {measure.id}"
    low, high = measure.scale_min.value, measure.scale_max.value
    if measure.integer and not (_whole(low) and _whole(high)):
        problems.append(f"{where}: an integer scale needs whole-number bounds")
    for part in measure.parts:
        part_low, part_high = part.scale_min.value, part.scale_max.value
        if part_low is not None and part_high is not None and part_low >= part_high:
            problems.append(f"{where}: part {part.id} scale_min must be below scale_max")
        if measure.integer and not (_whole(part_low) and _whole(part_high)):
            problems.append(f"{where}: part {part.id} needs whole-number bounds")
    if measure.parts:
        lows = [part.scale_min.value for part in measure.parts]
        highs = [part.scale_max.value for part in measure.parts]
        if None not in lows and low is not None and sum(v for v in lows if v is not None) != low:
            problems.append(f"{where}: the parts' minima must add up to scale_min")
        if None not in highs and high is not None and sum(v for v in highs if v is not None) != high:
            problems.append(f"{where}: the parts' maxima must add up to scale_max")
    for excluded in measure.excluded_part_changes:
        part = measure.part(excluded.part)
        part_low, part_high = part.scale_min.value, part.scale_max.value
        for grade in excluded.between:
            if (part_low is not None and grade < part_low) or (part_high is not None and grade > part_high):
                problems.append(f"{where}: excluded change grade {grade} is outside part {part.id}")


def _check_outcomes(outcomes: OutcomesFile, indication_ids: set[str], problems: list[str]) -> None:
    _unique("outcome measure", [m.id for m in outcomes.measures], problems)
    _unique("outcome indication", [entry.indication for entry in outcomes.indications], problems)
    measures = {m.id: m for m in outcomes.measures}
    for measure in outcomes.measures:
        _check_measure(measure, problems)
    listed = {entry.indication for entry in outcomes.indications}
    problems.extend(
        f"outcomes: indication {item!r} has no entry (list it, with a note if no measure applies)"
        for item in sorted(indication_ids - listed)
    )
    for entry in outcomes.indications:
        if entry.indication not in indication_ids:
            problems.append(f"outcomes: {entry.indication!r} is not an indication id")
        if not entry.measures and not entry.note:
            problems.append(f"outcomes: {entry.indication} lists no measure and needs a note saying why")
        for used in entry.measures:
            found = measures.get(used.measure)
            if found is None:
                problems.append(f"outcomes: {entry.indication}: measure {used.measure!r} is not defined")
                continue
            _check_threshold(entry.indication, found, used.threshold, problems)
    rules = outcomes.course_rules
    cycles = rules.no_improvement_review_after_cycles.value
    if cycles is not None and cycles < 1:
        problems.append("outcomes: no_improvement_review_after_cycles must be at least 1")
    interval = rules.review_interval_days.value
    if interval is not None and interval < 1:
        problems.append("outcomes: review_interval_days must be at least 1")


def _check_threshold(
    indication: str, measure: Measure, threshold: ResponseThreshold, problems: list[str]
) -> None:
    where = f"outcomes: {indication}/{measure.id}"
    low, high = measure.scale_min.value, measure.scale_max.value
    span = high - low if low is not None and high is not None else None
    if threshold.kind == "points":
        for change in (threshold.improvement, threshold.worsening):
            if change is not None and span is not None and change.value > span:
                problems.append(f"{where}: a {change.value}-point threshold exceeds the scale")
    for level in threshold.levels:
        if (low is not None and level.min_value < low) or (high is not None and level.min_value > high):
            problems.append(f"{where}: level {level.id} lies outside the scale")
    if threshold.kind == "percent_of_baseline" and low is not None and low < 0:
        problems.append(f"{where}: a percent-of-baseline threshold needs a scale that starts at 0 or above")


def load_catalog_from(data_dir: Path) -> Catalog:
    """Load and validate the catalog in ``data_dir`` (not cached). Raises ``CatalogError``."""
    problems: list[str] = []
    products_file = _parse(ProductsFile, data_dir / "products.yaml", problems)
    indications_file = _parse(IndicationsFile, data_dir / "indications.yaml", problems)
    policies_file = _parse(PoliciesFile, data_dir / "policies.yaml", problems)
    administration = _parse(Administration, data_dir / "administration.yaml", problems)
    infusion_day = _parse(InfusionDay, data_dir / "infusion_day.yaml", problems)
    outcomes = _parse(OutcomesFile, data_dir / "outcomes.yaml", problems)
    payers = _parse(PayersFile, data_dir / "payers.yaml", problems)
    scig = _parse(ScigFile, data_dir / "scig.yaml", problems)
    home = _parse(HomeFile, data_dir / "home.yaml", problems)
    home_supply = _parse(HomeSupplyFile, data_dir / "home_supply.yaml", problems)
    if problems:
        raise CatalogError(problems)
    assert isinstance(products_file, ProductsFile)
    assert isinstance(indications_file, IndicationsFile)
    assert isinstance(policies_file, PoliciesFile)
    assert isinstance(administration, Administration)
    assert isinstance(infusion_day, InfusionDay)
    assert isinstance(outcomes, OutcomesFile)
    assert isinstance(payers, PayersFile)
    assert isinstance(scig, ScigFile)
    assert isinstance(home, HomeFile)
    assert isinstance(home_supply, HomeSupplyFile)
    _unique("product", [p.id for p in products_file.products], problems)
    _unique("indication", [i.id for i in indications_file.indications], problems)
    _unique("policy", [p.id for p in policies_file.policies], problems)
    catalog = Catalog(
        products={p.id: p for p in products_file.products},
        indications={i.id: i for i in indications_file.indications},
        policies={p.id: p for p in policies_file.policies},
        formulas={str(key): value for key, value in policies_file.formulas.items()},
        default_policy=policies_file.default_policy,
        administration=administration,
        infusion_day=infusion_day,
        outcomes=outcomes,
        payers=payers,
        scig=scig,
        home=home,
        home_supply=home_supply,
    )
    _cross_check(catalog, problems)
    home_supply_checks.check(catalog, problems)
    if problems:
        raise CatalogError(problems)
    return catalog


def default_data_dir() -> Path:
    return Path(str(resources.files("igflow.catalog") / "data"))


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The packaged catalog, validated once and cached for the life of the process."""
    return load_catalog_from(default_data_dir())
