"""Errors that services raise and the app turns into clear 4xx responses naming the field."""

from __future__ import annotations


class IgflowError(Exception):
    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(IgflowError):
    status_code = 422


class NotFound(IgflowError):
    status_code = 404


class Forbidden(IgflowError):
    status_code = 403


class Conflict(IgflowError):
    status_code = 409


class PreconditionRequired(IgflowError):
    status_code = 428


class TooManyAttempts(IgflowError):
    status_code = 429


class Unauthenticated(IgflowError):
    status_code = 401
