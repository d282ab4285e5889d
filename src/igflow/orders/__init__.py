"""Immunoglobulin orders, their dose-plan versions and the pharmacist's second-person verification."""
