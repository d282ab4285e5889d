"""Outcomes and continuation review: readings of outcome measures, response against baseline, decisions."""
