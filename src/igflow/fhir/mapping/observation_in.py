"""An outside lab result sent with POST Observation, as an igflow measurement or outcome reading (pure).

The LOINC codes igflow receives are exactly the ones it sends (:mod:`igflow.fhir.codes`) for a
measurement kind or an outcome measure: each maps back to that kind or measure (:func:`lab_targets`). A
LOINC code igflow does not map, a vital sign (charted at the chair, not received), or a result with no LOINC
coding is refused with a 422 naming the code. The unit must be the catalog's unit, as its UCUM code (or,
without a code, as the catalog writes it): igflow converts no unit, because the catalog lists no
conversion for these results (a mg/dL IgG is refused, not divided by 100).

Elements taken: ``status`` (``final`` only: a correction of an earlier result goes through igflow's own
correction, which names the row it amends), ``code``, ``subject`` (``Patient/N``), ``effectiveDateTime``
(the date as written: ``2026-03-01`` or the date part of a dateTime in the sender's own offset),
``valueQuantity``, ``note`` (kept as the row's note, at most 400 characters), and ``category``, ``meta``,
``id`` and ``issued``, which are ignored (igflow gives the id and records when it received the result).
Anything else (``performer``, ``interpretation``, ``referenceRange``, ``component``...) is refused, naming it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from igflow.errors import InvalidInput
from igflow.fhir.codes import LOINC, MEASUREMENT_CODES, OUTCOME_LOINC, UCUM, VITAL_SIGNS_CHARTED, Code, Unit

_ALLOWED = {"resourceType", "id", "meta", "status", "category", "code", "subject", "effectiveDateTime"}
_ALLOWED |= {"issued", "valueQuantity", "note"}
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T.*)?$")
NOTE_MAX = 400


@dataclass(frozen=True)
class LabTarget:
    """Where a LOINC code goes: a measurement kind or an outcome measure, in its catalog unit."""

    loinc: Code
    target: Literal["measurement", "outcome"]
    key: str  # measurement kind (creatinine_umol_per_l) or measure id (igg-trough)
    unit: Unit


@dataclass(frozen=True)
class LabResult:
    patient_id: int
    target: LabTarget
    value: float
    measured_on: dt.date
    note: str


def lab_targets() -> dict[str, LabTarget]:
    """Every LOINC code igflow maps to one of its own measurements or outcome measures."""
    out: dict[str, LabTarget] = {}
    for target, table in (("measurement", MEASUREMENT_CODES), ("outcome", OUTCOME_LOINC)):
        for key, measure in table.items():
            for code in measure.codes:
                if code.system == LOINC and measure.unit is not None:
                    out[code.code] = LabTarget(code, target, key, measure.unit)  # type: ignore[arg-type]
    return out


def _vital_codes() -> set[str]:
    codes = {c.code for sign in VITAL_SIGNS_CHARTED for c in sign.codes}
    return codes | {c.code for sign in VITAL_SIGNS_CHARTED for c, _key, _unit in sign.components}


def _refuse(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}", path)


def _target(data: dict[str, Any]) -> LabTarget:
    codings = (data.get("code") or {}).get("coding") or []
    loinc = [c.get("code") for c in codings if c.get("system") == LOINC and c.get("code")]
    if not loinc:
        raise _refuse("Observation.code", f"a LOINC coding ({LOINC}) is needed to know what was measured")
    targets = lab_targets()
    known = [targets[c] for c in loinc if c in targets]
    if not known:
        vitals = [c for c in loinc if c in _vital_codes()]
        if vitals:
            raise _refuse(
                "Observation.code",
                f"LOINC {vitals[0]} is a vital sign: igflow charts vital signs at the chair, it does not "
                "receive them",
            )
        offered = ", ".join(sorted(targets))
        raise _refuse(
            "Observation.code", f"LOINC {', '.join(loinc)} is not a result igflow keeps (it takes {offered})"
        )
    if len({t.key for t in known}) > 1:
        raise _refuse("Observation.code", "the LOINC codings name different results; send one")
    return known[0]


def _value(data: dict[str, Any], target: LabTarget) -> float:
    quantity = data.get("valueQuantity")
    if not isinstance(quantity, dict) or not isinstance(quantity.get("value"), (int, float)):
        raise _refuse("Observation.valueQuantity", "a value with its unit is needed")
    system, code, text = quantity.get("system"), quantity.get("code"), quantity.get("unit")
    if code is not None or system is not None:
        ok = system == UCUM and code == target.unit.code
    else:
        ok = text in (target.unit.text, target.unit.code)
    if not ok:
        sent = code or text or "no unit"
        raise _refuse(
            "Observation.valueQuantity",
            f"LOINC {target.loinc.code} is received in {target.unit.text} (UCUM {target.unit.code}), not "
            f"{sent}; igflow converts no units (the catalog lists no conversion)",
        )
    return float(quantity["value"])


def _patient(data: dict[str, Any]) -> int:
    reference = str((data.get("subject") or {}).get("reference") or "")
    match = re.fullmatch(r"Patient/(\d{1,18})", reference)
    if match is None:
        raise _refuse("Observation.subject", "name the patient as Patient/<id>")
    return int(match.group(1))


def _measured_on(data: dict[str, Any]) -> dt.date:
    match = _DATE.match(str(data.get("effectiveDateTime") or ""))
    if match is None:
        raise _refuse("Observation.effectiveDateTime", "the date the sample was taken is needed (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        raise _refuse("Observation.effectiveDateTime", "not a calendar date") from None


def _note(data: dict[str, Any]) -> str:
    note = " ".join((n.get("text") or "").strip() for n in data.get("note") or []).strip()
    if len(note) > NOTE_MAX:
        raise _refuse("Observation.note", f"at most {NOTE_MAX} characters are kept")
    return note


def from_observation(data: dict[str, Any]) -> LabResult:
    """The lab result an Observation carries (``data``: its JSON, already read as an R4 Observation)."""
    extra = sorted(set(data) - _ALLOWED)
    if extra:
        raise _refuse(f"Observation.{extra[0]}", f"not kept by igflow (unsupported: {', '.join(extra)})")
    if data.get("status") != "final":
        raise _refuse(
            "Observation.status", "only final results are received (a correction is made in igflow)"
        )
    target = _target(data)
    return LabResult(_patient(data), target, _value(data, target), _measured_on(data), _note(data))
