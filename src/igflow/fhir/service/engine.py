"""What every resource type shares: sources of rows, paging across them, read by id, audit, filters.

A resource type answers a search with one or more :class:`Source` (a scoped, filtered, ordered query and
the mapping of its rows); Observation has several (measurements, outcome readings, each charted vital
sign). Paging walks the sources in order by offset, so ``total`` is the sum of their counts. A read is the
same search with ``_id``: a read and a search see exactly the same rows through the same scope rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.resource import Resource
from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from igflow.errors import NotFound
from igflow.fhir.search import DateRange, Params, numeric_id, parse_date, parse_reference, valid_id
from igflow.security import audit
from igflow.security.permissions import Perm
from igflow.security.principal import Principal


@dataclass(frozen=True)
class Item:
    resource: Resource
    patient_id: int | None


#: A select of any columns (one entity, or an entity with others beside it).
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Source:
    """Rows of one query (scoped, filtered, ordered) and how they become resources (in one batch)."""

    query: AnySelect
    build: Callable[[Session, list[Any]], list[Item]]


SourcesFn = Callable[[Session, Principal, Params], list[Source]]


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: str  # FHIR SearchParamType: token, reference, date, string
    documentation: str


@dataclass(frozen=True)
class Kind:
    """One resource type served: its permissions, search parameters and sources."""

    name: str
    read_permission: Perm
    search_permission: Perm
    params: tuple[SearchParam, ...]
    sources: SourcesFn
    path_param: str  # the read route's path parameter name (``patient_id``)
    patient_data: bool = True  # reads and searches are audited
    versioned: bool = False  # meta.versionId and an ETag on read
    documentation: str = ""
    search_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "search_names", ("_id", *(p.name for p in self.params)))


def page(session: Session, sources: Sequence[Source], offset: int, count: int) -> tuple[int, list[Item]]:
    """``total`` over every source, and the items from ``offset`` (``count`` at most), source after source."""
    totals = [
        session.execute(select(func.count()).select_from(s.query.order_by(None).subquery())).scalar_one()
        for s in sources
    ]
    items: list[Item] = []
    skip, want = offset, count
    for source, size in zip(sources, totals, strict=True):
        if want <= 0:
            break
        if skip >= size:
            skip -= size
            continue
        rows = list(session.execute(source.query.offset(skip).limit(want)).all())
        items += source.build(session, rows)
        want -= len(rows)
        skip = 0
    return sum(totals), items


def read(session: Session, principal: Principal, kind: Kind, ident: str) -> Item:
    """One resource by id through the type's own search (same scope), audited; else NotFound."""
    missing = NotFound(f"{kind.name}/{ident} not found")
    if not valid_id(ident):
        raise missing
    params = Params(kind.name, values={"_id": [[ident]]}, count=1)
    _total, items = page(session, kind.sources(session, principal, params), 0, 1)
    if not items:
        raise missing
    item = items[0]
    if kind.patient_data:
        audit.record(session, principal.actor, "fhir.read", kind.name, ident, patient_id=item.patient_id)
        session.commit()
    return item


def search(session: Session, principal: Principal, kind: Kind, params: Params) -> tuple[int, list[Item]]:
    total, items = page(session, kind.sources(session, principal, params), params.offset, params.count)
    if kind.patient_data:
        _audit_search(session, principal, kind, params, total, items)
        session.commit()
    return total, items


def _audit_search(
    session: Session, principal: Principal, kind: Kind, params: Params, total: int, items: list[Item]
) -> None:
    """One row per patient whose data the page returned (so a patient's access report finds it), or one
    row for a search that returned none; the detail names the parameters (not their values) and the ids."""
    by_patient: dict[int | None, list[str]] = {}
    for item in items:
        by_patient.setdefault(item.patient_id, []).append(str(item.resource.id))
    asked = sorted(params.values)  # the parameters' names: their values (names, MRNs) stay out of the log
    for patient_id, ids in by_patient.items() or {None: []}.items():
        audit.record(
            session,
            principal.actor,
            "fhir.search",
            kind.name,
            patient_id=patient_id,
            detail={"params": asked, "total": total, "offset": params.offset, "returned_ids": ids},
        )


# --- filters shared by the types ------------------------------------------------------------------------


def all_of(clauses: Iterable[ColumnElement[bool]]) -> ColumnElement[bool]:
    found = list(clauses)
    return and_(*found) if found else true()


def ids_filter(
    params: Params, column: Any, parse_id: Callable[[str], int | None] = numeric_id
) -> ColumnElement[bool]:
    """``_id``: each group is OR, groups are AND; an id of another shape matches nothing."""
    clauses = []
    for group in params.all("_id"):
        wanted = [i for i in (parse_id(v) for v in group) if i is not None]
        clauses.append(column.in_(wanted) if wanted else false())
    return all_of(clauses)


def reference_filter(params: Params, name: str, resource_type: str, column: Any) -> ColumnElement[bool]:
    """A reference parameter (``patient=Patient/12``) on an integer id column."""
    clauses = []
    for group in params.all(name):
        wanted = [
            i for i in (numeric_id(parse_reference(name, v, resource_type)) for v in group) if i is not None
        ]
        clauses.append(column.in_(wanted) if wanted else false())
    return all_of(clauses)


def _date_clause(rng: DateRange, column: Any, as_datetime: bool) -> ColumnElement[bool]:
    def bound(day: dt.date) -> Any:
        return dt.datetime.combine(day, dt.time(0), dt.UTC) if as_datetime else day

    parts = []
    if rng.start is not None:
        parts.append(column >= bound(rng.start))
    if rng.end is not None:
        parts.append(column < bound(rng.end))
    return all_of(parts)


def date_filter(params: Params, name: str, column: Any, *, as_datetime: bool = False) -> ColumnElement[bool]:
    """A date parameter: every repeat must hold (AND); dates split by a comma in one value are OR."""
    clauses = []
    for group in params.all(name):
        clauses.append(or_(*(_date_clause(parse_date(name, v), column, as_datetime) for v in group)))
    return all_of(clauses)
