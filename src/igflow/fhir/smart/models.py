"""Tables of SMART Backend Services: registered backend clients and the assertion ids they have used."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime


class BackendClient(Base):
    """A system allowed to call ``/fhir/R4`` as one igflow service account, with its public keys and the
    scopes it may ask for. Its roles and site limits are the service account's; the scopes narrow them."""

    __tablename__ = "fhir_backend_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)  # generated, public
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"), index=True)
    jwks: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"keys": [...]}: public keys only, each with a kid
    scopes: Mapped[list[str]] = mapped_column(JSON)  # the scopes it may be granted
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )


class ClientAssertionUse(Base):
    """A client assertion's ``jti``, kept until the assertion could no longer be accepted anyway: the
    unique constraint refuses a second use, even by two requests at the same moment."""

    __tablename__ = "fhir_client_assertion"
    __table_args__ = (UniqueConstraint("client_id", "jti"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("fhir_backend_client.id", ondelete="CASCADE"))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
