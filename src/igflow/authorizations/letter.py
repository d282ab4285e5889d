"""The letter of medical necessity for a prior-authorisation request, as a PDF a person prints or faxes.

Pure: rendered with reportlab from the :class:`PacketView` alone (no database, no clock: the letter's
date is the view's ``generated_at``; reportlab's ``invariant`` mode keeps the clock out of the file, so
the same view gives the same bytes). Nothing here logs: the letter is patient data.

US payers read it, so the page is US **Letter** (8.5 x 11 in) and the wording is US English; the footer
keeps igflow's own sentence. The content follows what a payer's reviewer looks for: who asks, when, for
which member, the diagnosis with its ICD-10-CM code, the product and dose (grams per cycle, days per cycle,
interval, cycles), site of care, the period and infusions asked for, the clinical justification from the
packet (labs and outcome measures with dates, prior therapies and how they ended, enclosed documents), for a
continuation the response to treatment and the authorisation it continues, the items still missing, and a
block for the prescriber to sign. The standard Helvetica font covers Latin-1 (WinAnsi) text only.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from igflow.authorizations.core import PacketView

FOOTER = (
    "Prepared with igflow from the patient's record; igflow supports clinicians and does not replace "
    "their judgement."
)
PAGE_SIZE = LETTER
MARGIN = 0.85 * inch

_STYLES = getSampleStyleSheet()
_BODY = ParagraphStyle("lmn-body", parent=_STYLES["BodyText"], fontName="Helvetica", fontSize=10, leading=13)
_SMALL = ParagraphStyle("lmn-small", parent=_BODY, fontSize=9, leading=11)
_CELL = ParagraphStyle("lmn-cell", parent=_BODY, fontSize=9, leading=11, spaceBefore=0, spaceAfter=0)
_CELL_BOLD = ParagraphStyle("lmn-cell-bold", parent=_CELL, fontName="Helvetica-Bold")
_HEAD = ParagraphStyle(
    "lmn-head", parent=_BODY, fontName="Helvetica-Bold", fontSize=11, leading=14, spaceBefore=8, spaceAfter=3
)
_TITLE = ParagraphStyle("lmn-title", parent=_BODY, fontName="Helvetica-Bold", fontSize=13, leading=16)
_ORG = ParagraphStyle("lmn-org", parent=_BODY, fontName="Helvetica-Bold", fontSize=14, leading=17)


def _p(text: str, style: ParagraphStyle = _BODY) -> Paragraph:
    """A paragraph of plain text (escaped: names and notes are never read as markup)."""
    return Paragraph(escape(text), style)


def _g(value: float) -> str:
    return f"{value:g}"


def _date(value: dt.date | None) -> str:
    if value is None:
        return "not stated"
    return f"{value:%B} {value.day}, {value.year}"


def _short(value: dt.date | None) -> str:
    return f"{value:%b} {value.day}, {value.year}" if value else "-"


def _facts(rows: Sequence[tuple[str, str]]) -> Table:
    """A two-column table of label and value."""
    data = [[_p(label, _CELL_BOLD), _p(value, _CELL)] for label, value in rows]
    table = Table(data, colWidths=[1.9 * inch, PAGE_SIZE[0] - 2 * MARGIN - 1.9 * inch], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]) -> Table:
    data = [[_p(h, _CELL_BOLD) for h in header]] + [[_p(c, _CELL) for c in row] for row in rows]
    total = PAGE_SIZE[0] - 2 * MARGIN
    table = Table(data, colWidths=[w * total for w in widths], hAlign="LEFT", repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.92, 0.92, 0.92)),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _bullets(lines: Sequence[str]) -> ListFlowable:
    return ListFlowable(
        [ListItem(_p(line), leftIndent=12) for line in lines],
        bulletType="bullet",
        start="-",
        leftIndent=12,
    )


def _dose(view: PacketView) -> list[tuple[str, str]]:
    plan = view.plan
    if plan is None:
        return [("Dose", "No verified plan on the order yet.")]
    days = f"{plan.days_per_cycle} day{'s' if plan.days_per_cycle != 1 else ''}"
    rows = [
        ("Dose per cycle", f"{_g(plan.dose_g_per_cycle)} g, given over {days}"),
        (
            "Interval",
            f"every {_g(plan.interval_weeks)} weeks" if plan.interval_weeks else "not stated (single course)",
        ),
        ("Number of cycles", str(plan.cycles) if plan.cycles else "until reviewed (maintenance)"),
    ]
    return rows


def _site(view: PacketView) -> str:
    if view.plan is not None and view.plan.site_of_care == "home":
        return "Home infusion"
    if view.facility is not None:
        fac = view.facility
        parts = [fac.name, fac.address]
        if fac.identifier:
            parts.append(f"NPI {fac.identifier}")
        return ", ".join(p for p in parts if p)
    return "Infusion facility (not yet named)"


def _story(view: PacketView) -> list[Flowable]:
    org = view.organisation
    patient = view.patient
    cov = view.coverage
    plan = view.plan
    product = plan.product_name if plan else "immune globulin"
    continuation = view.kind == "continuation"
    story: list[Flowable] = []

    # letterhead
    story.append(_p(org.name, _ORG))
    for line in (
        org.address,
        f"Phone {org.phone}" if org.phone else "",
        f"NPI {org.identifier}" if org.identifier else "",
    ):
        if line:
            story.append(_p(line, _SMALL))
    story.append(Spacer(1, 10))
    story.append(_p(_date(view.generated_at.date())))
    story.append(Spacer(1, 6))
    story.append(_p(f"To: {cov.payer_name}, Utilization Management / Prior Authorization"))
    if cov.plan_name:
        story.append(_p(f"Plan: {cov.plan_name}"))
    story.append(Spacer(1, 8))

    kind = "continued" if continuation else "initial"
    asked = "re-authorization (continued therapy)" if continuation else "initial prior authorization"
    story.append(_p("Letter of Medical Necessity", _TITLE))
    urgency = (
        "Expedited review is requested: a delay could seriously jeopardize the patient's health."
        if view.urgency == "expedited"
        else "Standard review."
    )
    story.append(_p(f"Request for {asked} of {product}. {urgency}"))
    story.append(Spacer(1, 4))
    story.append(
        _facts(
            [
                ("Patient", f"{patient.family_name}, {patient.given_name}"),
                ("Date of birth", _date(patient.date_of_birth)),
                ("MRN", patient.mrn),
                ("Member ID", cov.member_id),
                ("Group number", cov.group_number or "not stated"),
                ("Benefit", f"{cov.benefit} benefit"),
                ("Reference", f"igflow prior-authorization request {view.request_id}"),
            ]
        )
    )

    diagnosis = view.diagnosis_text or view.indication_name
    code = f" (ICD-10-CM {view.icd10_code})" if view.icd10_code else ""
    shown = view.indication_name and view.indication_name != diagnosis
    indication = f" ({view.indication_name})" if shown else ""
    story.append(_p("Diagnosis", _HEAD))
    story.append(
        _p(
            f"{patient.given_name} {patient.family_name} is under my care for {diagnosis}{code}. I am "
            f"requesting {kind} authorization of {product} for this indication{indication}."
        )
    )
    story.append(
        _facts(
            [
                ("Diagnosis", diagnosis),
                ("ICD-10-CM", view.icd10_code or "not yet on file"),
            ]
        )
    )

    story.append(_p("Requested treatment", _HEAD))
    period = (
        f"{_date(view.requested_start)} to {_date(view.requested_end)}"
        if view.requested_start or view.requested_end
        else "not stated"
    )
    rows = [("Product", product + (f" (HCPCS {view.hcpcs_code})" if view.hcpcs_code else ""))]
    rows += _dose(view)
    rows += [
        ("Site of care", _site(view)),
        ("Requested period", period),
        (
            "Infusions requested",
            str(view.requested_infusions) if view.requested_infusions is not None else "not stated",
        ),
        (
            "Total grams requested",
            f"{_g(view.requested_grams)} g" if view.requested_grams is not None else "not stated",
        ),
    ]
    story.append(_facts(rows))

    story.append(_p("Clinical justification", _HEAD))
    met = [item for item in view.items if item.satisfied and item.evidence]
    if met:
        story.append(_p(f"The criteria of the payer's policy ({view.policy_name}) documented in the record:"))
        story.append(_bullets([f"{item.label}: {item.evidence}" for item in met]))
    if view.readings:
        story.append(Spacer(1, 4))
        story.append(_p("Laboratory results and outcome measures on record:"))
        readings = sorted(view.readings, key=lambda r: (r.measured_on, r.measure_name))
        story.append(
            _grid(
                ["Measure", "Result", "Date"],
                [
                    [r.measure_name, f"{_g(r.value)} {r.unit}".strip(), _short(r.measured_on)]
                    for r in readings
                ],
                [0.5, 0.25, 0.25],
            )
        )
    if view.therapies:
        story.append(Spacer(1, 4))
        story.append(_p("Prior therapies:"))
        story.append(
            _grid(
                ["Therapy", "Started", "Stopped", "Outcome"],
                [
                    [
                        t.therapy,
                        _short(t.started_on),
                        _short(t.stopped_on),
                        t.outcome or "stopped",
                    ]
                    for t in view.therapies
                ],
                [0.3, 0.16, 0.16, 0.38],
            )
        )
    if continuation:
        story.append(_p("Response to treatment", _HEAD))
        story.append(_p(view.response_summary or "No response evaluation on record."))
        story.append(_p("Previous authorization: " + (view.previous_reference or "reference not on record")))
    story.append(_p("Documents enclosed", _HEAD))
    if view.documents:
        story.append(_bullets([f"{d.filename} ({d.category.replace('_', ' ')})" for d in view.documents]))
    else:
        story.append(_p("None."))

    missing = [item for item in view.items if not item.satisfied]
    story.append(_p("Items still missing", _HEAD))
    if missing:
        story.append(
            _p(
                f"The following items required by the payer's policy ({view.policy_name}) are not yet on "
                "file; they are listed here and will be sent as soon as they are available:"
            )
        )
        story.append(_bullets([item.label for item in missing]))
    else:
        story.append(
            _p(f"None: every item the payer's policy ({view.policy_name}) lists is documented above.")
        )

    story.append(Spacer(1, 8))
    contact = f" at {org.phone}" if org.phone else ""
    story.append(
        _p(
            f"In my clinical judgment {product} as described above is medically necessary for this patient. "
            f"Please contact {org.name}{contact} with any question about this request."
        )
    )

    pres = view.prescriber
    signature = [
        Spacer(1, 22),
        _p("Signature: _______________________________________        Date: ________________"),
        Spacer(1, 4),
        _p(f"Prescriber: {pres.name if pres else '_______________________________'}"),
        _p(f"Specialty: {view.prescriber_specialty or 'not recorded'}"),
        _p(f"NPI: {(pres.identifier if pres else None) or '____________ (not on record)'}"),
    ]
    if pres is not None and pres.phone:
        signature.append(_p(f"Phone: {pres.phone}"))
    story.append(KeepTogether(signature))
    return story


def _footer(canvas: Canvas, doc: SimpleDocTemplate) -> None:
    canvas.saveState()
    canvas.setFont("Helvetica", 7.5)
    canvas.setFillColor(colors.Color(0.3, 0.3, 0.3))
    canvas.drawString(MARGIN, 0.5 * inch, FOOTER)
    canvas.drawRightString(PAGE_SIZE[0] - MARGIN, 0.5 * inch, f"Page {doc.page}")
    canvas.restoreState()


def letter_pdf(view: PacketView, *, compress: bool = True) -> bytes:
    """The letter of medical necessity for ``view`` as PDF bytes (US Letter).

    ``compress=False`` leaves the page streams uncompressed, so their text can be searched (tests)."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE_SIZE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=0.8 * inch,
        bottomMargin=0.85 * inch,
        title="Letter of medical necessity",
        author=view.organisation.name,
        creator="igflow",
        invariant=1,
        pageCompression=1 if compress else 0,
    )
    doc.build(_story(view), onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()
