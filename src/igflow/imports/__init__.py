"""Imports: patients, prescribers, coverages and measurements from CSV files and FHIR transaction Bundles.

- :mod:`~igflow.imports.columns` (pure): the columns of each CSV kind (the template in docs/imports.md),
  reading a file as a stream of rows, and turning one row into the capability's own input shape or the
  reasons it cannot be.
- :mod:`~igflow.imports.bundle` (pure): a FHIR R4 transaction Bundle (validated with ``fhir.resources``) into
  the same rows, its entries' codes mapped back through :mod:`igflow.fhir.codes`.
- :mod:`~igflow.imports.service`: the two passes. First every row is checked (format, sites and their
  limits, duplicates in the file and in igflow, references) with nothing written; then, only if no row was
  bad, every row goes through the capability's own service in **one transaction** (committed at the end,
  or rolled back whole on any failure, a dry run or a cancel).
- :mod:`~igflow.imports.job`: the background-job kinds the /imports page submits;
  :mod:`~igflow.imports.pages` the page; ``igflow import ...`` the command line (:mod:`igflow.cli.imports`).
"""
