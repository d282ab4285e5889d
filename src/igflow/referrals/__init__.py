"""Referrals: a prescriber's request for immunoglobulin therapy, its documents and its intake decision."""
