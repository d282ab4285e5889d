"""Infusion day at the chair: checklist, rate steps, vitals, graded reactions, vials, signature, follow-up."""
