"""Earlier versions of a patient, rebuilt from the record's change log (pure).

igflow keeps one row per patient (its ``version`` counts the changes) and an append-only change log
(``patient_fact_change``): one row per changed field, with the value before and after and the version the
change made. Every change the patient service makes writes both in one transaction, so version ``v - 1``
is version ``v`` with the old values of the rows of ``v`` put back.

The rebuild is kept only where it is exact. Walking back from the current row, it stops at the first
version that has no change rows (a change made some other way) or whose rows do not agree with what is
being rebuilt (the new value a row names is not the value the record had at that version): that version
and every earlier one are left out of the history rather than guessed. Only the fields the Patient
resource shows (:data:`~igflow.fhir.mapping.patient.DEMOGRAPHICS`) are rebuilt: a version that changed
screening facts or preferred sites only has the same demographics as the one before it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from igflow.fhir.mapping.patient import DEMOGRAPHICS


@dataclass(frozen=True)
class FieldChange:
    """One change-log row, values decoded from their JSON text."""

    patient_version: int
    field: str
    old_value: Any
    new_value: Any
    changed_at: dt.datetime


@dataclass(frozen=True)
class PatientVersion:
    version: int
    values: dict[str, Any]  # DEMOGRAPHICS as they were at this version
    last_updated: dt.datetime
    fields_changed: tuple[str, ...]  # every field this version changed (of any kind); () for version 1


@dataclass(frozen=True)
class History:
    versions: tuple[PatientVersion, ...]  # newest first
    earliest_exact: int  # the oldest version rebuilt (1 when the whole history is)


def _stored(field: str, value: Any) -> Any:
    """A change-log value as the row holds it (dates are ISO text in the log)."""
    if field == "date_of_birth" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def rebuild(
    current: Mapping[str, Any],
    current_version: int,
    updated_at: dt.datetime,
    created_at: dt.datetime,
    changes: Iterable[FieldChange],
) -> History:
    """Every version that can be rebuilt exactly, newest first; the newest is the current row itself."""
    by_version: dict[int, list[FieldChange]] = {}
    for change in changes:
        by_version.setdefault(change.patient_version, []).append(change)
    values = {name: current[name] for name in DEMOGRAPHICS}
    fields = tuple(sorted(c.field for c in by_version.get(current_version, [])))
    out = [PatientVersion(current_version, dict(values), updated_at, fields)]
    version = current_version
    while version > 1:
        rows = by_version.get(version, [])
        if not rows:
            break  # this version was made without a change log: nothing before it is exact
        mapped = [r for r in rows if r.field in DEMOGRAPHICS]
        if any(_stored(r.field, r.new_value) != values[r.field] for r in mapped):
            break  # the log disagrees with the record: stop rather than guess
        for r in mapped:
            values[r.field] = _stored(r.field, r.old_value)
        version -= 1
        previous = by_version.get(version, [])
        if version > 1 and not previous:
            break  # its values are known, but not when it was made (nor anything before it)
        when = max(c.changed_at for c in previous) if previous else created_at
        out.append(PatientVersion(version, dict(values), when, tuple(sorted(c.field for c in previous))))
    return History(tuple(out), out[-1].version)
