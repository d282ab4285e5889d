"""Settings from the environment (prefix ``IGFLOW_``); defaults run on SQLite in the working folder."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IGFLOW_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./igflow.db",
        description="SQLAlchemy URL; PostgreSQL in production (postgresql+psycopg://...).",
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description="Database connections each server process keeps open (PostgreSQL; SQLite too).",
    )
    db_pool_overflow: int = Field(
        default=20, ge=0, le=500, description="Connections opened beyond the pool under a burst."
    )
    db_pool_timeout_s: float = Field(
        default=10,
        gt=0,
        le=120,
        description="How long a request waits for a free connection before it is answered 503 (busy).",
    )
    https: bool = Field(default=False, description="Served over https: session cookies get the Secure flag.")
    session_idle_min: int = Field(default=15, ge=1, le=24 * 60)
    session_absolute_h: int = Field(default=12, ge=1, le=7 * 24)
    login_max_failures_per_account: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins for one account from one address before that pair is throttled.",
    )
    login_max_failures_per_account_any_address: int = Field(
        default=50,
        ge=1,
        description=(
            "Failed sign-ins for one account from all addresses before the account is throttled, "
            "except from addresses where it signed in successfully before (so a lock-out by others "
            "does not keep the owner out)."
        ),
    )
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_window_min: int = Field(default=15, ge=1)
    login_known_address_days: int = Field(
        default=90, ge=1, description="How long a successful sign-in makes an address known-good."
    )
    trusted_proxies: str = Field(
        default="",
        description=(
            "Comma-separated addresses (or networks) of reverse proxies whose X-Forwarded-For and "
            "X-Forwarded-Proto headers are believed. Empty (the default): no proxy header is trusted."
        ),
    )
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    page_size_max: int = Field(default=200, ge=10)
    audit_signing_key_file: Path | None = Field(
        default=None,
        description=(
            "Ed25519 key (PEM, mode 0600; `igflow audit keygen`) that signs audit checkpoints; never in the "
            "database. Unset, with no IGFLOW_AUDIT_SIGNING_KEY: ./igflow-audit-signing.key, created on "
            "first use (for make demo and development)."
        ),
    )
    audit_signing_key: SecretStr | None = Field(
        default=None, description="The signing key as an environment secret (PEM or base64 of the seed)."
    )
    audit_public_key_file: Path | None = Field(
        default=None,
        description="Public key that verification checks checkpoints against (default: the signing key's).",
    )
    audit_seal_every_s: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="How often each `igflow worker` seals new audit rows and signs a checkpoint (0: never).",
    )
    jobs_url: str = Field(
        default="",
        description=(
            "Where the background-job queue lives. Empty: a SQLite file beside a SQLite database "
            "(igflow.db -> igflow-jobs.db), or the same PostgreSQL database. Otherwise sqlite:///path, "
            "postgresql://..., redis://... (needs the redis package), or 'immediate' (jobs run inline:"
            " tests)."
        ),
    )
    fhir_export_retention_h: float = Field(
        default=24,
        gt=0,
        le=24 * 30,
        description=(
            "Hours a FHIR Bulk Data $export's files are kept after the export finished; then they are "
            "deleted (the status URL answers 404)."
        ),
    )
    fhir_export_file_max_resources: int = Field(
        default=10_000, ge=1, description="Resources in one $export NDJSON file at most (more: more files)."
    )
    serve_worker: bool = Field(
        default=True, description="`igflow serve` starts a job worker process beside the server."
    )
    mail_mode: str = Field(
        default="mailbox",
        pattern="^(mailbox|smtp)$",
        description=(
            "How the outbox sends: 'mailbox' (the default, for the demo and development: messages are "
            "marked sent and shown on the staff Mailbox page, nothing leaves the machine) or 'smtp'."
        ),
    )
    smtp_host: str = Field(default="", description="SMTP server for 'smtp' mail mode.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: str = Field(
        default="starttls",
        pattern="^(starttls|ssl|none)$",
        description="starttls (port 587), ssl (port 465) or none (only for a server on this machine).",
    )
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    mail_from: str = Field(default="igflow <no-reply@igflow.invalid>", max_length=200)
    host: str = "127.0.0.1"
    port: int = 8000

    def pool_options(self) -> dict[str, Any]:
        """The server's connection pool (SQLAlchemy's QueuePool, both databases)."""
        return {
            "pool_size": self.db_pool_size,
            "max_overflow": self.db_pool_overflow,
            "pool_timeout": self.db_pool_timeout_s,
        }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
