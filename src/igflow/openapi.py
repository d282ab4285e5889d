"""The OpenAPI document as the API really answers: every error is ``{"detail", "field"?, "errors"?}``.

FastAPI's default document declares 422 bodies as a list of Pydantic errors and leaves the other
errors out; a generated client then fails to read igflow's answers. This replaces the 422 schema
with igflow's error shape and declares the errors any route may give (401, 403, 404, 409, 413, 422,
428, 429, 503) on every operation, so that clients and schemathesis' response checks see the truth.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for a person to read"},
        "field": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": "The request field at fault (``site_ids.0``), when there is one",
        },
        "errors": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Every problem found (validation errors), one line each",
        },
    },
}

ERRORS: dict[str, str] = {
    "400": "The request cannot be read (for example, a malformed body)",
    "401": "Not signed in, or the API token is invalid, expired or revoked",
    "403": "The role does not allow this, or the CSRF check failed",
    "404": "Not found (or not visible to this user)",
    "409": "Conflicts with the current state (a stale version, a duplicate, a taken slot)",
    "413": "The request body is larger than IGFLOW_MAX_UPLOAD_BYTES",
    "422": "The request is invalid; `field` names the field and `detail` says why",
    "428": "A version (or an If-Match header) is required to change this",
    "429": "Too many attempts; wait and try again",
    "503": "Busy: every database connection stayed in use; nothing was done, retry after `Retry-After`",
}

_REF = {"$ref": "#/components/schemas/Error"}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Error"] = ERROR_SCHEMA
    for methods in spec.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                responses[status] = {
                    "description": description,
                    "content": {"application/json": {"schema": _REF}},
                }
    app.openapi_schema = spec
    return spec


def install(app: FastAPI) -> None:
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
