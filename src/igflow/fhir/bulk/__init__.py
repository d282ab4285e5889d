"""FHIR Bulk Data Access (v2) ``$export`` at ``/fhir/R4``: see docs/fhir-bulk.md."""
