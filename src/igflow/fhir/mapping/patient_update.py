"""A Patient sent with PUT, as igflow's demographic changes (pure).

An update replaces what the resource shows (FHIR update semantics): an element left out is cleared where
igflow allows an empty value (phone, email, address) and refused where it does not (name, gender,
birthDate). Only the elements igflow serves on read are taken: ``identifier`` (the igflow MRN, which
cannot change), ``active`` (true), one ``name`` (``family`` and ``given``; several given names are kept as
one, separated by spaces), ``telecom`` (at most one phone and one email, ``system`` and ``value`` only),
``gender``, a full ``birthDate``, one ``address`` as ``text``, ``meta`` (ignored) and the change-reason
extension (:data:`CHANGE_REASON`). Anything else is refused with a 422 naming the element, so that nothing
a client sends is dropped without it knowing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from igflow.errors import InvalidInput
from igflow.fhir.codes import LOCAL, MRN_SYSTEM

#: ``{"url": CHANGE_REASON, "valueString": "why"}``: why screening facts, the date of birth or sex changed.
CHANGE_REASON = f"{LOCAL}/StructureDefinition/change-reason"
_ALLOWED = {"resourceType", "id", "meta", "identifier", "active", "name", "telecom", "gender", "birthDate"}
_ALLOWED |= {"address", "extension"}
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class PatientUpdate:
    changes: dict[str, Any]  # igflow field -> value (given_name, family_name, date_of_birth, sex, ...)
    change_reason: str | None


def _refuse(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}", path)


def _only(node: dict[str, Any], keys: set[str], path: str) -> None:
    extra = sorted(set(node) - keys)
    if extra:
        raise _refuse(
            f"{path}.{extra[0]}",
            f"not kept by igflow (unsupported: {', '.join(extra)}); send only {', '.join(sorted(keys))}",
        )


def _name(data: dict[str, Any]) -> dict[str, str]:
    names = data.get("name") or []
    if len(names) != 1:
        raise _refuse("Patient.name", "send exactly one name (igflow keeps one family and given name)")
    name = names[0]
    _only(name, {"use", "family", "given"}, "Patient.name[0]")
    if name.get("use") not in (None, "official", "usual"):
        raise _refuse("Patient.name[0].use", "igflow keeps the official name only")
    given = " ".join(g.strip() for g in name.get("given") or [] if g.strip())
    family = (name.get("family") or "").strip()
    if not family or not given:
        raise _refuse("Patient.name[0]", "a family name and a given name are both needed")
    return {"family_name": family, "given_name": given}


def _telecom(data: dict[str, Any]) -> dict[str, str]:
    found = {"phone": "", "email": ""}
    seen: set[str] = set()
    for i, point in enumerate(data.get("telecom") or []):
        path = f"Patient.telecom[{i}]"
        _only(point, {"system", "value"}, path)
        system = point.get("system")
        if system not in found:
            raise _refuse(f"{path}.system", f"igflow keeps a phone and an email only, not {system!r}")
        if system in seen:
            raise _refuse(path, f"igflow keeps one {system}; send one")
        seen.add(system)
        found[system] = (point.get("value") or "").strip()
    return found


def _address(data: dict[str, Any]) -> str:
    addresses = data.get("address") or []
    if len(addresses) > 1:
        raise _refuse("Patient.address", "igflow keeps one address; send one")
    if not addresses:
        return ""
    _only(addresses[0], {"text"}, "Patient.address[0]")
    return (addresses[0].get("text") or "").strip()


def _identifiers(data: dict[str, Any], mrn: str) -> None:
    for i, ident in enumerate(data.get("identifier") or []):
        path = f"Patient.identifier[{i}]"
        if ident.get("system") != MRN_SYSTEM:
            raise _refuse(f"{path}.system", f"igflow keeps its own MRN ({MRN_SYSTEM}) only")
        if str(ident.get("value", "")).strip().upper() != mrn.upper():
            raise _refuse(f"{path}.value", f"the MRN cannot be changed (it is {mrn})")


def _reason(data: dict[str, Any], header: str | None) -> str | None:
    reasons = []
    for i, ext in enumerate(data.get("extension") or []):
        if ext.get("url") != CHANGE_REASON or not isinstance(ext.get("valueString"), str):
            raise _refuse(
                f"Patient.extension[{i}]", f"the only extension taken is {CHANGE_REASON} with a valueString"
            )
        reasons.append(ext["valueString"].strip())
    if header and header.strip():
        reasons.append(header.strip())
    if len(set(reasons)) > 1:
        raise _refuse(
            "Patient.extension", "the change-reason extension and the X-Change-Reason header differ"
        )
    return reasons[0] if reasons else None


def from_patient(data: dict[str, Any], mrn: str, reason_header: str | None = None) -> PatientUpdate:
    """The demographic changes a Patient asks for (``data``: its JSON, already read as an R4 Patient)."""
    _only(data, _ALLOWED, "Patient")
    _identifiers(data, mrn)
    if data.get("active") is False:
        raise _refuse("Patient.active", "a patient is not made inactive through FHIR")
    if not data.get("gender"):
        raise _refuse("Patient.gender", "needed (female, male, other or unknown)")
    birth = data.get("birthDate")
    if not isinstance(birth, str) or not _FULL_DATE.match(birth):
        raise _refuse("Patient.birthDate", "a full date of birth (YYYY-MM-DD) is needed")
    telecom = _telecom(data)
    changes: dict[str, Any] = {
        **_name(data),
        "sex": data["gender"],
        "date_of_birth": birth,
        "phone": telecom["phone"],
        "email": telecom["email"],
        "address": _address(data),
    }
    return PatientUpdate(changes, _reason(data, reason_header))


#: Where each igflow field sits in the Patient, to name in a refusal.
FHIR_PATHS = {
    "given_name": "Patient.name[0].given",
    "family_name": "Patient.name[0].family",
    "date_of_birth": "Patient.birthDate",
    "sex": "Patient.gender",
    "phone": "Patient.telecom (phone)",
    "email": "Patient.telecom (email)",
    "address": "Patient.address[0].text",
    "change_reason": f"Patient.extension ({CHANGE_REASON}) or the X-Change-Reason header",
}
