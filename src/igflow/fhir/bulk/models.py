"""Tables of FHIR Bulk Data ``$export``: one row per kick-off, and the NDJSON files it produced.

Why the files live in the database and not in a folder: a worker on one machine (``PostgresHuey`` lets
several share the queue) writes what the web server on another machine serves, and only the database is
shared between them; deleting an export (by its client or by the retention sweep) is one transaction with
no file left behind on a disk nobody looks at; a file is found by its row, never by a path built from a
request. Each file is a *part* of at most ``fhir_export_file_max_resources`` resources, so one row stays a
few megabytes (PostgreSQL compresses large text values itself, TOAST).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime


class BulkExport(Base):
    """One ``$export`` request: who asked (the account, and the SMART client if a token asked), what, and
    where it stands; the work itself is a job (``job_id``), whose state the status URL reports."""

    __tablename__ = "fhir_bulk_export"
    __table_args__ = (Index("ix_fhir_bulk_export_deleted_at", "deleted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    export_id: Mapped[str] = mapped_column(String(64), unique=True)  # opaque: in the status URL
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="RESTRICT"), index=True)
    requested_by_user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT"), index=True
    )
    client_id: Mapped[str | None] = mapped_column(String(64))  # the SMART backend client, if one asked
    level: Mapped[str] = mapped_column(String(16))  # system | group | patient
    group_id: Mapped[str | None] = mapped_column(String(64))  # Group/site-N
    types: Mapped[list[str]] = mapped_column(JSON)  # exported, in order
    omitted: Mapped[list[str]] = mapped_column(JSON)  # left out: the requester may not read them
    since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    request_url: Mapped[str] = mapped_column(Text)
    transaction_time: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the reading began
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_reason: Mapped[str | None] = mapped_column(String(16))  # client | retention | failed


class BulkExportFile(Base):
    """One NDJSON file of an export: resources of one type (or the OperationOutcome errors), one a line."""

    __tablename__ = "fhir_bulk_export_file"
    __table_args__ = (UniqueConstraint("export_pk", "resource_type", "part"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    export_pk: Mapped[int] = mapped_column(ForeignKey("fhir_bulk_export.id", ondelete="CASCADE"), index=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    part: Mapped[int] = mapped_column(Integer)  # 1, 2, ... within the type
    count: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def name(self) -> str:
        return f"{self.resource_type}-{self.part}.ndjson"
