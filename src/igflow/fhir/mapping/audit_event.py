"""AuditEvent: one row of igflow's audit log, as an auditor reads it over FHIR (read-only).

Sent: when (``recorded``), who (the igflow account: its user id and name, as the log writes it, ``via`` a
SMART client's id where there was one), what was done (``type``: igflow's action code, ``action``:
C/R/U/D/E from it), to what (the record's type and id, and the patient when the row names one), and the
outcome. Left out: the row's ``detail`` (search parameters, ids returned, fields changed), the client's
network address and the hash chain (``seq``, hashes). They stay in igflow's audit API and log pages, where
the auditor reads them with the chain's verification beside them.
"""

from __future__ import annotations

from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent

from igflow.fhir.codes import LOCAL
from igflow.fhir.mapping.common import instant, pruned, ref
from igflow.security.models import AuditEvent

AUDIT_ACTION = f"{LOCAL}/CodeSystem/audit-action"  # igflow's action codes: patient.read, fhir.search, ...
USER_SYSTEM = "urn:igflow:user"  # igflow account ids (the same style as the MRN system)
RECORD_SYSTEM = "urn:igflow:record"  # "<resource type>/<id>" as the audit row names it
_READS = ("read", "list", "search", "history", "vread", "view", "download", "export")


def crude(action: str) -> str:
    """R4 AuditEventAction from igflow's action code (its last word)."""
    verb = action.rsplit(".", 1)[-1]
    if verb in ("create", "add", "submit"):
        return "C"
    if verb in _READS:
        return "R"
    if verb in ("update", "edit", "change"):
        return "U"
    if verb in ("delete", "remove"):
        return "D"
    return "E"


def to_audit_event(row: AuditEvent) -> FhirAuditEvent:
    what = f"{row.resource_type}/{row.resource_id}" if row.resource_id else row.resource_type
    entities = [{"what": {"identifier": {"system": RECORD_SYSTEM, "value": what}}}]
    if row.patient_id is not None:
        entities.append({"what": ref("Patient", row.patient_id), "role": {"code": "1", "display": "Patient"}})
    who = {"display": row.actor}
    if row.actor_user_id is not None:
        who["identifier"] = {"system": USER_SYSTEM, "value": str(row.actor_user_id)}
    return FhirAuditEvent.model_validate(
        pruned(
            {
                "resourceType": "AuditEvent",
                "id": str(row.id),
                "type": {"system": AUDIT_ACTION, "code": row.action},
                "action": crude(row.action),
                "recorded": instant(row.at),
                "outcome": "0" if row.outcome == "success" else "4",
                "outcomeDesc": None if row.outcome == "success" else row.outcome,
                "agent": [{"who": who, "requestor": True}],
                "source": {"observer": {"display": "igflow"}},
                "entity": entities,
            }
        )
    )
