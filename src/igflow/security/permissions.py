"""Roles and permissions. Deny by default: a role has exactly the permissions listed here."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    PHARMACIST = "pharmacist"
    NURSE = "nurse"
    SCHEDULER = "scheduler"
    INTAKE = "intake"
    PRESCRIBER = "prescriber"
    AUDITOR = "auditor"
    PATIENT = "patient"
    PT_APPROVER = "pt_approver"  # pharmacy and therapeutics committee: approves site clinical protocols
    PRIOR_AUTH = "prior_auth"  # prior-authorisation specialist: coverage, packets, payer decisions, appeals
    CAREGIVER = "caregiver"  # one patient's portal, with that patient's consent (igflow.portal.caregivers)


class Perm(StrEnum):
    PUBLIC = "public"  # no login needed (login page, static files, health)
    AUTHENTICATED = "authenticated"  # any signed-in user (home page, logout, own account)
    API_DOCS = "api.docs"
    PATIENT_LIST = "patient.list"  # search and list patients (demographics only)
    PATIENT_READ = "patient.read"  # demographics, contact, preferred sites
    PATIENT_CLINICAL_READ = "patient.clinical.read"  # allergies, risks, measurements, diagnoses
    PATIENT_WRITE = "patient.write"
    MEASUREMENT_WRITE = "measurement.write"
    PATIENT_SELF = "patient.self"  # a patient reads their own record
    REFERRAL_READ = "referral.read"
    REFERRAL_WRITE = "referral.write"
    REFERRAL_DECIDE = "referral.decide"
    DIRECTORY_READ = "directory.read"  # prescribers and payers
    DIRECTORY_WRITE = "directory.write"
    SITE_READ = "site.read"
    SITE_MANAGE = "site.manage"
    USER_MANAGE = "user.manage"
    TOKEN_MANAGE = "token.manage"  # noqa: S105 - a permission name, not a secret
    AUDIT_READ = "audit.read"
    DOSE_CALCULATE = "dose.calculate"  # the dose calculator, with or without a patient
    ORDER_READ = "order.read"
    ORDER_WRITE = "order.write"  # a prescriber, or intake on a prescriber's behalf
    PLAN_VERIFY = "plan.verify"  # the pharmacist's second-person check
    SCHEDULE_READ = "schedule.read"  # chair boards, load, courses and their appointments
    SCHEDULE_WRITE = "schedule.write"  # courses, suggestions, bookings, cancellations
    SCHEDULE_PLAN = "schedule.plan"  # planning runs and publishing them
    INVENTORY_READ = "inventory.read"  # stock, lots, expiry, pick lists, shortfalls, recall trace
    INVENTORY_WRITE = "inventory.write"  # receipts, transfers, allocation, waste, quarantine, recall
    VIAL_SCAN = "vial.scan"  # scan and dispense vials at the chair for an appointment
    INFUSION_READ = "infusion.read"  # infusion records, reactions, follow-up tasks
    INFUSION_CHART = "infusion.chart"  # chart at the chair: checklist, rates, vitals, reactions, sign
    PROTOCOL_READ = "protocol.read"  # site clinical protocols in force and their history
    PROTOCOL_WRITE = "protocol.write"  # propose and edit drafts (pharmacists)
    PROTOCOL_APPROVE = "protocol.approve"  # approve or reject a draft (P&T approver; never the proposer)
    OUTCOME_READ = "outcome.read"  # outcome readings, an order's response, review tasks and decisions
    OUTCOME_WRITE = "outcome.write"  # record outcome readings (at the chair, at a review, patient-reported)
    CONTINUATION_DECIDE = "continuation.decide"  # the prescriber's continuation decision after a review
    COVERAGE_READ = "coverage.read"  # a patient's insurance coverages and copay assistance
    COVERAGE_WRITE = "coverage.write"  # add, change or end a coverage
    PRIOR_AUTH_READ = "prior_auth.read"  # prior-authorisation requests, packets, decisions, the work queue
    PRIOR_AUTH_WRITE = "prior_auth.write"  # assemble, attest, submit, record payer decisions and appeals
    PRIOR_THERAPY_WRITE = "prior_therapy.write"  # record therapies tried before immunoglobulin
    COST_READ = "cost.read"  # drug cost of plans, courses, infusions, authorisations; cost reports
    PRICE_MANAGE = "price.manage"  # product prices per gram, with effective dates and source
    HOME_READ = "home.read"  # home visits and nurses' routes, deliveries, home stock, self-infusion logs
    HOME_PLAN = "home.plan"  # home nurses, their hours and absences; routing runs and publishing them
    DELIVERY_WRITE = "delivery.write"  # deliveries: pack, ship, temperature log, excursion release or waste
    DELIVERY_RECEIVE = "delivery.receive"  # confirm a delivery arrived at the patient's home (the nurse)


_STAFF = {Perm.AUTHENTICATED, Perm.API_DOCS, Perm.SITE_READ}
_CLINICAL = {
    Perm.PATIENT_LIST,
    Perm.PATIENT_READ,
    Perm.PATIENT_CLINICAL_READ,
    Perm.REFERRAL_READ,
    Perm.DIRECTORY_READ,
    Perm.DOSE_CALCULATE,
    Perm.ORDER_READ,
    Perm.PROTOCOL_READ,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    # Admin runs the system (users, tokens, sites) but sees no patient data.
    Role.ADMIN: frozenset(
        _STAFF
        | {Perm.SITE_MANAGE, Perm.USER_MANAGE, Perm.TOKEN_MANAGE, Perm.DIRECTORY_READ, Perm.PRICE_MANAGE}
    ),
    Role.PHARMACIST: frozenset(
        _STAFF
        | _CLINICAL
        | {
            Perm.PATIENT_WRITE,
            Perm.MEASUREMENT_WRITE,
            Perm.REFERRAL_DECIDE,
            Perm.PLAN_VERIFY,
            Perm.PROTOCOL_WRITE,
            Perm.SCHEDULE_READ,
            Perm.INVENTORY_READ,
            Perm.INVENTORY_WRITE,
            Perm.VIAL_SCAN,
            Perm.INFUSION_READ,
            Perm.OUTCOME_READ,
            Perm.OUTCOME_WRITE,
            Perm.COVERAGE_READ,
            Perm.PRIOR_AUTH_READ,
            Perm.PRIOR_THERAPY_WRITE,
            Perm.COST_READ,
            Perm.PRICE_MANAGE,
            Perm.HOME_READ,
            Perm.DELIVERY_WRITE,
        }
    ),
    Role.NURSE: frozenset(
        _STAFF
        | _CLINICAL
        | {
            Perm.MEASUREMENT_WRITE,
            Perm.SCHEDULE_READ,
            Perm.INVENTORY_READ,
            Perm.VIAL_SCAN,
            Perm.INFUSION_READ,
            Perm.INFUSION_CHART,
            Perm.OUTCOME_READ,
            Perm.OUTCOME_WRITE,
            Perm.HOME_READ,
            Perm.DELIVERY_RECEIVE,
        }
    ),
    # Scheduling needs who, where and when; not allergies, risks or diagnoses.
    Role.SCHEDULER: frozenset(
        _STAFF
        | {
            Perm.PATIENT_LIST,
            Perm.PATIENT_READ,
            Perm.SCHEDULE_READ,
            Perm.SCHEDULE_WRITE,
            Perm.SCHEDULE_PLAN,
            Perm.HOME_READ,
            Perm.HOME_PLAN,
        }
    ),
    Role.INTAKE: frozenset(
        _STAFF
        | _CLINICAL
        | {
            Perm.PATIENT_WRITE,
            Perm.MEASUREMENT_WRITE,
            Perm.REFERRAL_WRITE,
            Perm.REFERRAL_DECIDE,
            Perm.DIRECTORY_WRITE,
            Perm.ORDER_WRITE,
            Perm.COVERAGE_READ,
            Perm.COVERAGE_WRITE,
            Perm.PRIOR_AUTH_READ,
            Perm.PRIOR_THERAPY_WRITE,
        }
    ),
    Role.PRESCRIBER: frozenset(
        _STAFF
        | _CLINICAL
        | {
            Perm.MEASUREMENT_WRITE,
            Perm.REFERRAL_WRITE,
            Perm.ORDER_WRITE,
            Perm.INFUSION_READ,
            Perm.OUTCOME_READ,
            Perm.OUTCOME_WRITE,
            Perm.CONTINUATION_DECIDE,
            Perm.HOME_READ,
            Perm.COVERAGE_READ,
            Perm.PRIOR_AUTH_READ,
            Perm.PRIOR_THERAPY_WRITE,
        }
    ),
    # Prior authorisation reads the chart a packet is built from (diagnosis, labs, outcome measures, the
    # verified plan) and writes coverage and requests; it does not chart, order or verify.
    Role.PRIOR_AUTH: frozenset(
        _STAFF
        | {
            Perm.PATIENT_LIST,
            Perm.PATIENT_READ,
            Perm.PATIENT_CLINICAL_READ,
            Perm.REFERRAL_READ,
            Perm.DIRECTORY_READ,
            Perm.ORDER_READ,
            Perm.SCHEDULE_READ,
            Perm.OUTCOME_READ,
            Perm.COVERAGE_READ,
            Perm.COVERAGE_WRITE,
            Perm.PRIOR_AUTH_READ,
            Perm.PRIOR_AUTH_WRITE,
            Perm.PRIOR_THERAPY_WRITE,
            Perm.COST_READ,
            Perm.DIRECTORY_WRITE,  # payers and their prior-authorisation settings
        }
    ),
    Role.AUDITOR: frozenset({Perm.AUTHENTICATED, Perm.API_DOCS, Perm.AUDIT_READ}),
    Role.PATIENT: frozenset({Perm.AUTHENTICATED, Perm.PATIENT_SELF}),
    # The patient's pages of the one patient who consented (an active caregiver link); writes are limited
    # to CAREGIVER_MAY_POST (igflow.security.deps refuses the others).
    Role.CAREGIVER: frozenset({Perm.AUTHENTICATED, Perm.PATIENT_SELF}),
    # Given beside the pharmacist role: the service also requires the approver to verify plans.
    Role.PT_APPROVER: frozenset({Perm.AUTHENTICATED, Perm.PROTOCOL_READ, Perm.PROTOCOL_APPROVE}),
}


def permissions_for(roles: set[Role] | frozenset[Role]) -> frozenset[Perm]:
    granted: set[Perm] = {Perm.PUBLIC}
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)


ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "administrator",
    Role.PHARMACIST: "pharmacist",
    Role.NURSE: "infusion nurse",
    Role.SCHEDULER: "scheduler",
    Role.INTAKE: "intake",
    Role.PRESCRIBER: "prescriber",
    Role.AUDITOR: "auditor",
    Role.PATIENT: "patient",
    Role.PT_APPROVER: "P&T approver",
    Role.PRIOR_AUTH: "prior-authorisation specialist",
    Role.CAREGIVER: "caregiver",
}

#: The patient-page forms a caregiver may send for the patient (path prefixes): requests to the team and
#: the symptom diary. Everything else a caregiver posts on the patient's pages is refused (contact choices,
#: questionnaires, the self-infusion log, caregiver consents are the patient's own).
CAREGIVER_MAY_POST: tuple[str, ...] = ("/my/requests", "/my/diary/")

#: What each permission lets a person do, as the refusal says it ("… needs the pharmacist role").
PERM_LABELS: dict[Perm, str] = {
    Perm.PUBLIC: "opening public pages",
    Perm.AUTHENTICATED: "using igflow",
    Perm.API_DOCS: "reading the API reference",
    Perm.PATIENT_LIST: "searching patients",
    Perm.PATIENT_READ: "opening a patient's record",
    Perm.PATIENT_CLINICAL_READ: "reading a patient's clinical details",
    Perm.PATIENT_WRITE: "adding or changing patients",
    Perm.MEASUREMENT_WRITE: "recording measurements",
    Perm.PATIENT_SELF: "the patient's own pages",
    Perm.REFERRAL_READ: "reading referrals",
    Perm.REFERRAL_WRITE: "entering referrals",
    Perm.REFERRAL_DECIDE: "deciding on referrals",
    Perm.DIRECTORY_READ: "reading prescribers and payers",
    Perm.DIRECTORY_WRITE: "changing prescribers and payers",
    Perm.SITE_READ: "reading centres and chairs",
    Perm.SITE_MANAGE: "managing centres and chairs",
    Perm.USER_MANAGE: "managing users",
    Perm.TOKEN_MANAGE: "managing API tokens",
    Perm.AUDIT_READ: "reading the audit log",
    Perm.DOSE_CALCULATE: "the dose calculator",
    Perm.ORDER_READ: "reading orders and plans",
    Perm.ORDER_WRITE: "entering orders",
    Perm.PLAN_VERIFY: "verifying dose plans",
    Perm.SCHEDULE_READ: "reading schedules and chair boards",
    Perm.SCHEDULE_WRITE: "booking and cancelling appointments",
    Perm.SCHEDULE_PLAN: "planning runs",
    Perm.INVENTORY_READ: "reading stock and lots",
    Perm.INVENTORY_WRITE: "receiving, moving and recalling stock",
    Perm.VIAL_SCAN: "scanning vials at the chair",
    Perm.INFUSION_READ: "reading infusion records and tasks",
    Perm.INFUSION_CHART: "charting at the chair",
    Perm.PROTOCOL_READ: "reading site protocols",
    Perm.PROTOCOL_WRITE: "proposing site protocols",
    Perm.PROTOCOL_APPROVE: "approving site protocols",
    Perm.OUTCOME_READ: "reading outcome measures and the response to treatment",
    Perm.OUTCOME_WRITE: "recording outcome measures",
    Perm.CONTINUATION_DECIDE: "deciding whether treatment continues after a response review",
    Perm.COVERAGE_READ: "reading a patient's insurance coverage",
    Perm.COVERAGE_WRITE: "adding or changing insurance coverage",
    Perm.PRIOR_AUTH_READ: "reading prior authorisations",
    Perm.PRIOR_AUTH_WRITE: "preparing and recording prior authorisations",
    Perm.PRIOR_THERAPY_WRITE: "recording prior therapies",
    Perm.COST_READ: "reading drug costs",
    Perm.PRICE_MANAGE: "setting product prices",
    Perm.HOME_READ: "seeing home visits, routes, deliveries and home infusion logs",
    Perm.HOME_PLAN: "planning home nurses' hours and routes",
    Perm.DELIVERY_WRITE: "packing and shipping home deliveries",
    Perm.DELIVERY_RECEIVE: "confirming a delivery arrived at the patient's home",
}


def refusal(permission: Perm) -> str:
    """Why a person is refused, who may do it, and who can change that: no code, no dead end."""
    holders = [ROLE_LABELS[r] for r, perms in ROLE_PERMISSIONS.items() if permission in perms]
    what = PERM_LABELS.get(permission, permission.value)
    if not holders:
        return f"Your role does not allow {what}."
    roles = holders[0] if len(holders) == 1 else ", ".join(holders[:-1]) + " or " + holders[-1]
    return (
        f"Your role does not allow {what}: that needs the {roles} role. "
        "If you should have it, an administrator can add it on the Users page."
    )
