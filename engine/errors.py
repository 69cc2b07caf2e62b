"""Expected failures: each names the field and the problem.

The API turns these into payload ``errors { field message code }``; the CLI
prints them. Anything else escaping a service is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str
    code: str = "INVALID"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class GuanxiError(Exception):
    """Base of expected failures; ``errors`` lists what was wrong."""

    code = "INVALID"

    def __init__(self, errors: list[FieldError] | FieldError | str, field: str = ""):
        if isinstance(errors, str):
            errors = [FieldError(field, errors, self.code)]
        elif isinstance(errors, FieldError):
            errors = [errors]
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


class ValidationFailed(GuanxiError):
    code = "INVALID"


class NotFound(GuanxiError):
    code = "NOT_FOUND"


class Conflict(GuanxiError):
    code = "CONFLICT"


class Forbidden(GuanxiError):
    code = "FORBIDDEN"


def invalid(field: str, message: str, code: str = "INVALID") -> ValidationFailed:
    return ValidationFailed([FieldError(field, message, code)])


def not_found(field: str, message: str) -> NotFound:
    return NotFound([FieldError(field, message, "NOT_FOUND")])
