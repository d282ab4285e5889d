"""Patients: demographics, contact, preferred sites, clinical flags, coverage and dated measurements."""
