"""A patient's booked appointments as an iCalendar (RFC 5545) file."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from igflow.appointments.models import Appointment
from igflow.appointments.service._common import policy
from igflow.db import utcnow
from igflow.patients import service as patients_service
from igflow.security import audit
from igflow.security.principal import Principal
from igflow.sites.models import Site


def _ics_escape(text_: str) -> str:
    return text_.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 line folding at 75 octets."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts, current = [], b""
    for ch in line:
        b = ch.encode()
        if len(current) + len(b) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += b
    parts.append(current.decode())
    return "\r\n ".join(parts)


def ics_for_patient(session: Session, principal: Principal, patient_id: int, host: str) -> str:
    """The patient's booked appointments as an iCalendar file, with preparation advice."""
    patients_service.check_access(session, principal, patient_id)
    rules = policy()
    appts = list(
        session.execute(
            select(Appointment)
            .where(Appointment.patient_id == patient_id, Appointment.status == "booked")
            .order_by(Appointment.date, Appointment.start_min)
        ).scalars()
    )
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//igflow//appointments//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for appt in appts:
        site = session.get(Site, appt.site_id)
        assert site is not None
        zone = ZoneInfo(site.timezone)
        start_local = dt.datetime.combine(appt.date, dt.time()) + dt.timedelta(minutes=appt.start_min)
        begins = start_local.replace(tzinfo=zone).astimezone(dt.UTC)
        ends = begins + dt.timedelta(minutes=appt.duration_min)
        hours = f"{appt.duration_min / 60:.1f}".rstrip("0").rstrip(".")
        lines += [
            "BEGIN:VEVENT",
            f"UID:igflow-appointment-{appt.id}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{begins.strftime('%Y%m%dT%H%M%SZ')}",
            f"DTEND:{ends.strftime('%Y%m%dT%H%M%SZ')}",
            f"SUMMARY:{_ics_escape('Immunoglobulin infusion at ' + site.name)}",
            f"LOCATION:{_ics_escape(site.address or site.name)}",
            f"DESCRIPTION:{_ics_escape(rules.ics_preparation.format(hours=hours))}",
            "STATUS:CONFIRMED",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    audit.record(
        session,
        principal.actor,
        "appointment.calendar",
        "patient",
        patient_id,
        patient_id=patient_id,
        detail={"count": len(appts)},
    )
    session.commit()
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
