"""FHIR R4 at ``/fhir/R4``: read and search over igflow's own records, JSON only.

Layout:

- :mod:`igflow.fhir.codes`     code systems, identifier systems and the code of each measure (LOINC where
  one was verified, igflow's local code systems otherwise).
- :mod:`igflow.fhir.mapping`   one pure module per resource type: igflow rows in, ``fhir.resources`` R4B
  models out (R4B is wire-compatible with R4 for every element used; fhir.resources 8 ships no R4 package).
- :mod:`igflow.fhir.search`    search parameters: the strict check, dates, tokens, references, paging.
- :mod:`igflow.fhir.service`   one module per resource type saying which rows a search or a read selects
  (always through :mod:`igflow.security.scope`), and the paging and auditing they share.
- :mod:`igflow.fhir.capability` the CapabilityStatement (``GET /fhir/R4/metadata``): what is served
  and what is not.
- :mod:`igflow.fhir.routes`    the router: one read and one search route per type, each with the read
  permission of the data behind it; errors answered as OperationOutcome.

Writes (PUT Patient, POST Observation: :mod:`igflow.fhir.service.writes`) go through the capabilities'
own services, never their tables. The reads are a projection across capabilities, so their queries read the
capabilities' tables directly (each narrowed by ``scope``) instead of calling each capability's list
functions: a search has to filter, count and page in the database, which those functions do not offer.
"""
