"""The ``import_upload`` table: a file uploaded on the /imports page, kept where the import job reads it.

The bytes stay in the application's own database (no shared folder between web and worker is needed); the
job names the upload by id, and only the person who uploaded it can run it (the job runs as them).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime

UPLOAD_KINDS = ("patients", "prescribers", "coverages", "measurements", "bundle")


class ImportUpload(Base):
    __tablename__ = "import_upload"
    __table_args__ = (
        CheckConstraint(
            "kind in ('patients', 'prescribers', 'coverages', 'measurements', 'bundle')", name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    uploaded_by_user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT"), index=True
    )
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
