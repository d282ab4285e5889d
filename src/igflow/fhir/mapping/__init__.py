"""One pure mapping per FHIR resource type: igflow rows (or their views) in, fhir.resources R4B models out.

No database, no HTTP, no clock: every input is an argument, so the same rows give the same resource.
"""
