"""Code systems and identifier systems of the FHIR API, and the code each igflow measure goes out with.

LOINC codes are used only where the code (and, when given, its display) was checked against a published
source; each entry says which. A measure without a verified LOINC code goes out under igflow's own code
system (``MEASURE``), with the catalog's name as display; a client that knows only LOINC sees it as local.

Identifier systems are the ones the Da Vinci PAS export already puts on the wire
(:mod:`igflow.authorizations.pas`): one patient has one MRN system in every igflow document.
"""

from __future__ import annotations

from dataclasses import dataclass

from igflow.authorizations.pas import MRN_SYSTEM, PAYER_SYSTEM, US_NPI

__all__ = ["MRN_SYSTEM", "PAYER_SYSTEM", "SITE_SYSTEM", "US_NPI"]

#: A site's code (``north``), in the same style as the PAS identifier systems.
SITE_SYSTEM = "urn:igflow:site"

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
LOCATION_PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
ADVERSE_EVENT_SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"

#: igflow's own namespace for the code systems and extensions it defines (a reserved example domain:
#: igflow has no public address to mint them under; the URLs are names, not pages to fetch).
LOCAL = "https://igflow.example/fhir"
MEASURE = f"{LOCAL}/CodeSystem/measure"  # measurement kinds and outcome measures without a LOINC code
PRODUCT = f"{LOCAL}/CodeSystem/product"  # catalog product ids
INDICATION = f"{LOCAL}/CodeSystem/indication"  # catalog indication ids
READING_METHOD = f"{LOCAL}/CodeSystem/reading-method"  # chair, review, patient_reported
SITE_KIND = f"{LOCAL}/CodeSystem/site-kind"  # centre, home
CTCAE_GRADE = f"{LOCAL}/CodeSystem/ctcae-grade"  # 1..5, as the catalog's reaction scale labels them
EXT_RATE_STEP = f"{LOCAL}/StructureDefinition/rate-step"  # one charted rate: at, rate
EXT_PLAN_STEP = f"{LOCAL}/StructureDefinition/plan-rate-step"  # one planned step: start, duration
EXT_CTCAE_GRADE = f"{LOCAL}/StructureDefinition/ctcae-grade"
EXT_PLAN_VERSION = f"{LOCAL}/StructureDefinition/dose-plan-version"

LABORATORY, VITAL_SIGNS, SURVEY, EXAM = "laboratory", "vital-signs", "survey", "exam"


@dataclass(frozen=True)
class Code:
    """One coding: ``display`` only where it was verified (LOINC) or is igflow's own."""

    system: str
    code: str
    display: str | None = None


@dataclass(frozen=True)
class Unit:
    """A UCUM code and the unit as people write it."""

    code: str
    text: str


@dataclass(frozen=True)
class MeasureCode:
    codes: tuple[Code, ...]
    category: str
    unit: Unit | None


# --- verified LOINC codes -------------------------------------------------------------------------------
# Vital signs: the FHIR vital-signs value set (hl7.org/fhir/valueset-observation-vitalsignresult.html,
# R4/R4B/R5 pages list 29463-7, 8302-2, 8867-4, 9279-1, 8310-5, 2708-6, 85354-9, 8480-6, 8462-4 with these
# displays); 59408-5 from the same value set's 2017 (STU3 draft) page.
BODY_WEIGHT = Code(LOINC, "29463-7", "Body weight")
BODY_HEIGHT = Code(LOINC, "8302-2", "Body height")
HEART_RATE = Code(LOINC, "8867-4", "Heart rate")
RESPIRATORY_RATE = Code(LOINC, "9279-1", "Respiratory rate")
BODY_TEMPERATURE = Code(LOINC, "8310-5", "Body temperature")
BP_PANEL = Code(LOINC, "85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = Code(LOINC, "8480-6", "Systolic blood pressure")
DIASTOLIC = Code(LOINC, "8462-4", "Diastolic blood pressure")
SPO2_ARTERIAL = Code(LOINC, "2708-6", "Oxygen saturation in Arterial blood")
SPO2_PULSE_OXIMETRY = Code(LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")
# loinc.org/777-3 (long common name as given).
PLATELETS = Code(LOINC, "777-3", "Platelets [#/volume] in Blood by Automated count")
# Mayo Clinic Laboratories' test catalogue lists 2465-3 as the LOINC code of serum IgG; the display was not
# seen on loinc.org, so none is sent.
IGG_SERUM = Code(LOINC, "2465-3")
# HL7 Clinical Guidelines IG value set ckd-valueset-creatinine (LOINC 2.68 expansion).
CREATININE_MOLAR = Code(LOINC, "14682-9", "Creatinine [Moles/volume] in Serum or Plasma")


def local(code: str, display: str | None = None) -> Code:
    return Code(MEASURE, code, display)


# Measurement kinds (patients/measurement_kinds.yaml). eGFR has LOINC codes per estimating equation and
# igflow does not record the equation; the pre-pregnancy weight's LOINC code was not verified: both local.
MEASUREMENT_CODES: dict[str, MeasureCode] = {
    "weight_kg": MeasureCode((BODY_WEIGHT,), VITAL_SIGNS, Unit("kg", "kg")),
    "height_cm": MeasureCode((BODY_HEIGHT,), VITAL_SIGNS, Unit("cm", "cm")),
    "creatinine_umol_per_l": MeasureCode((CREATININE_MOLAR,), LABORATORY, Unit("umol/L", "µmol/L")),
    "egfr_ml_per_min_1_73m2": MeasureCode(
        (local("egfr_ml_per_min_1_73m2", "eGFR"),), LABORATORY, Unit("mL/min/{1.73_m2}", "mL/min/1.73 m²")
    ),
    "pre_pregnancy_weight_kg": MeasureCode(
        (local("pre_pregnancy_weight_kg", "Pre-pregnancy weight"),), VITAL_SIGNS, Unit("kg", "kg")
    ),
}

# Outcome measures (catalog outcomes.yaml) that have a LOINC code; every other measure is local.
OUTCOME_LOINC: dict[str, MeasureCode] = {
    "platelet-count": MeasureCode((PLATELETS,), LABORATORY, Unit("10*9/L", "x10^9/L")),
    "igg-trough": MeasureCode((IGG_SERUM,), LABORATORY, Unit("g/L", "g/L")),
}
#: UCUM codes of the catalog's units for local measures (a score has no unit: UCUM annotations).
OUTCOME_UNITS: dict[str, Unit] = {
    "points": Unit("{score}", "points"),
    "kPa": Unit("kPa", "kPa"),
    "grade": Unit("{grade}", "grade"),
    "infections": Unit("{infections}", "infections"),
}


@dataclass(frozen=True)
class VitalSign:
    """One vital sign charted at the chair: the chart payload keys it reads and how it goes out."""

    slug: str  # the Observation id's last part
    codes: tuple[Code, ...]
    unit: Unit | None
    payload_key: str | None  # None: a panel of components
    components: tuple[tuple[Code, str, Unit], ...] = ()


MMHG = Unit("mm[Hg]", "mmHg")
VITAL_SIGNS_CHARTED: tuple[VitalSign, ...] = (
    VitalSign(
        "blood-pressure",
        (BP_PANEL,),
        None,
        None,
        ((SYSTOLIC, "systolic_bp_mmhg", MMHG), (DIASTOLIC, "diastolic_bp_mmhg", MMHG)),
    ),
    VitalSign("heart-rate", (HEART_RATE,), Unit("/min", "beats/minute"), "heart_rate_bpm"),
    VitalSign("respiratory-rate", (RESPIRATORY_RATE,), Unit("/min", "breaths/minute"), "resp_rate_per_min"),
    VitalSign("oxygen-saturation", (SPO2_ARTERIAL, SPO2_PULSE_OXIMETRY), Unit("%", "%"), "spo2_percent"),
    VitalSign("body-temperature", (BODY_TEMPERATURE,), Unit("Cel", "°C"), "temperature_c"),
)
VITAL_BY_SLUG = {v.slug: v for v in VITAL_SIGNS_CHARTED}


def vital_payload_keys(sign: VitalSign) -> tuple[str, ...]:
    """The chart payload keys any one of which makes this vital sign present in a vitals entry."""
    if sign.payload_key is not None:
        return (sign.payload_key,)
    return tuple(key for _code, key, _unit in sign.components)
