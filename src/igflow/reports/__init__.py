"""Managers' reports: pure figures over typed rows, tables a person reads, CSV and XLSX downloads.

Each report is a pure function over plain rows (no database) in its own module, a service that reads
the rows through the site scope, and a page; :mod:`igflow.reports.table` turns its table into a download.
"""
