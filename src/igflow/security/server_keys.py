"""The table of keys the server makes for itself (see :mod:`igflow.security.csrf`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from igflow.db import Base, utcnow
from igflow.types import UTCDateTime


class ServerSecret(Base):
    """Random keys the server makes for itself (for example, to sign the pre-login CSRF token), shared
    by every server process through the database. Not for secrets that must survive a database leak."""

    __tablename__ = "server_secret"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
