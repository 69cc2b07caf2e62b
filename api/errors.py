"""Error codes and shapes: top-level GraphQL errors carry ``extensions.code``;
expected failures of a mutation go in the payload's ``errors`` list."""

from __future__ import annotations

import enum
import logging
import re
import sqlite3

import strawberry
from graphql import GraphQLError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, TimeoutError as PoolTimeout

from engine import integrity
from engine.errors import FieldError as EngineFieldError
from engine.errors import Forbidden, GuanxiError, NotFound

log = logging.getLogger("guanxi.api")

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
BAD_CURSOR = "BAD_CURSOR"
BAD_PAGE_SIZE = "BAD_PAGE_SIZE"
BAD_REQUEST = "BAD_REQUEST"
BAD_USER_INPUT = "BAD_USER_INPUT"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL = "INTERNAL_SERVER_ERROR"
DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"  # over the role's query cost budget (api/cost.py)
RATE_LIMITED = "RATE_LIMITED"  # over the key's requests per minute (api/rate_limits.py), HTTP 429
QUERY_TIMEOUT = "QUERY_TIMEOUT"  # the request's database work ran past its budget (api/statement_budget.py)
# PostgreSQL's query_canceled: statement_timeout expired (or the query was cancelled).
_QUERY_CANCELED = "57014"


_CODES = {
    # top-level errors (extensions.code)
    UNAUTHENTICATED: "No key, or a key that is unknown or revoked.",
    FORBIDDEN: "The key's role may not do this.",
    NOT_FOUND: "No such object in this tenant (the field names the id as sent).",
    BAD_CURSOR: "A cursor this API did not issue, or made for another ordering.",
    BAD_PAGE_SIZE: "first/last outside 0..100, or both given.",
    BAD_REQUEST: "The HTTP request is not a GraphQL request this API accepts.",
    BAD_USER_INPUT: "An argument or variable of the wrong type or out of range.",
    PARSE_FAILED: "The query is not valid GraphQL syntax.",
    VALIDATION_FAILED: "The query does not fit the schema.",
    INTERNAL: "A bug: reported without details (see the server log).",
    DATABASE_UNAVAILABLE: "The database did not answer in time; retry shortly.",
    "PAYLOAD_TOO_LARGE": "The request body is larger than the API accepts (HTTP 413).",
    QUERY_TOO_COSTLY: "The query asks for more objects than the role's budget (extensions: cost, budget).",
    RATE_LIMITED: "The key (or address) is over its requests per minute (HTTP 429, Retry-After).",
    QUERY_TIMEOUT: "The request's database work ran past its time budget and was stopped.",
    # payload errors (errors { field message code })
    "INVALID": "The value of the named field is not acceptable.",
    "REQUIRED": "The named field must be given.",
    "CONFLICT": "Another record already holds the value (a unique field) or the change raced another.",
    "DUPLICATE": "The same value was already given (a repeated code or item).",
    "DELETED": "The customer was deleted (merged or erased).",
    "ERASED": "The customer's personal data was erased.",
    "SAME_CUSTOMER": "A customer cannot be merged into itself.",
    "UNSUPPORTED": "An enabled module does not support the operation.",
    "TOO_MANY_ITEMS": "A bulk request with more items than allowed.",
    "TOO_LARGE": "The result would be larger than the format holds.",
    "REFUSED": "The database refused the row.",
    "IMPORT_FAILED": "The import could not be run.",
    "MODULE_DISABLED": "The module this needs is off for the tenant.",
    "ILLEGAL_TRANSITION": "The status (of a complaint, a campaign) cannot move that way.",
    "ALREADY_ENROLLED": "The customer is already a loyalty member.",
    "MEMBER_INACTIVE": "The loyalty member is suspended or closed.",
    "NEGATIVE_BALANCE": "The member owes points; redemption is blocked until the balance is positive.",
    "INSUFFICIENT_POINTS": "Not enough points for the redemption.",
    "OVER_ORDER_LIMIT": "Points would pay more of the order than the settings allow.",
    "OUT_OF_STOCK": "No reward of this kind is left.",
    "COUPON_USED": "The coupon was already used.",
    "COUPON_VOIDED": "The coupon was voided.",
    "COUPON_EXPIRED": "The coupon has expired.",
    "COUPON_NOT_YET_VALID": "The coupon's validity has not started.",
    # a survey link's answers (/satisfaction/s/..., docs/satisfaction.md): HTTP errors, not GraphQL ones
    "TOKEN_UNKNOWN": "No such survey link (HTTP 404).",
    "TOKEN_WRONG_TENANT": "The survey link belongs to another tenant (HTTP 403).",
    "TOKEN_USED": "The survey link was already answered (HTTP 409).",
    "TOKEN_WRONG_SURVEY": "The survey link is for another survey (HTTP 409).",
    "TOKEN_EXPIRED": "The survey link has expired (HTTP 410).",
}

ErrorCode = strawberry.enum(
    enum.Enum("ErrorCode", {code: strawberry.enum_value(code, description=text) for code, text in _CODES.items()}),
    name="ErrorCode",
    description="Every stable error code: payload errors' `code` and top-level errors' `extensions.code`.",
)


def error_code(code: str) -> ErrorCode:
    """The enum member of a code; an unlisted code is a bug logged once, sent as INVALID rather than a 500."""
    try:
        return ErrorCode(code)
    except ValueError:
        log.error("error code %r is not in ErrorCode (api/errors.py)", code)
        return ErrorCode("INVALID")


def api_error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def forbidden(message: str) -> GraphQLError:
    return api_error(message, FORBIDDEN)


# JSON inputs: the keys inside them are the client's own, sent as written
# (module settings are snake_case), so error paths keep them as they are.
_JSON_INPUTS = {"attributes", "consent", "payload", "settings"}


def camel(name: str) -> str:
    """``referrer_id`` -> ``referrerId`` in every part of a dotted path, up
    to a JSON input: ``settings.window_days`` names the key the client sent."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part in _JSON_INPUTS:
            break
        parts[i] = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), part)
    return ".".join(parts)


def format_error(error: GraphQLError) -> dict:
    """The error as sent: a stable code always; bugs never leak their text."""
    formatted = error.formatted
    extensions = dict(formatted.get("extensions") or {})
    original = error.original_error
    if "code" not in extensions:
        if original is None:
            extensions["code"] = PARSE_FAILED if error.message.startswith("Syntax Error") else VALIDATION_FAILED
        elif isinstance(original, GraphQLError):
            extensions["code"] = (original.extensions or {}).get("code", BAD_USER_INPUT)
        elif isinstance(original, (TypeError, ValueError)) and _is_input_coercion(error):
            extensions["code"] = BAD_USER_INPUT
        elif is_query_timeout(original):
            log.warning("query cancelled: the request's statement timeout expired")
            extensions["code"] = QUERY_TIMEOUT
            formatted["message"] = ("the query ran past the request's time budget and was stopped: "
                                    "ask for less (smaller pages, fewer nested lists, narrower filters)")
        elif isinstance(original, GuanxiError):  # an expected failure raised by a query's resolver
            extensions["code"] = _CODE_OF_FAILURE.get(type(original), BAD_USER_INPUT)
            formatted["message"] = "; ".join(str(e if not e.field else f"{camel(e.field)}: {e.message}") for e in original.errors)
        elif (isinstance(original, DBAPIError) and original.connection_invalidated
              or isinstance(original, (OperationalError, PoolTimeout))):
            log.error("database error in resolver", exc_info=original)
            extensions["code"] = DATABASE_UNAVAILABLE
            formatted["message"] = "the database is unavailable or busy; retry shortly"
        else:
            log.error("unexpected error in resolver", exc_info=original)
            extensions["code"] = INTERNAL
            formatted["message"] = "Internal server error"
    formatted["extensions"] = extensions
    return formatted


def is_query_timeout(error: BaseException | None) -> bool:
    """A statement stopped at the request's deadline: PostgreSQL's statement_timeout
    (SQLSTATE 57014), or SQLite interrupted by api/statement_budget.py's progress handler."""
    if not isinstance(error, DBAPIError):
        return False
    if getattr(error.orig, "sqlstate", None) == _QUERY_CANCELED:
        return True
    return isinstance(error.orig, sqlite3.OperationalError) and str(error.orig) == "interrupted"


_CODE_OF_FAILURE = {NotFound: NOT_FOUND, Forbidden: FORBIDDEN}


def _is_input_coercion(error: GraphQLError) -> bool:
    return error.message.startswith("Variable ") or "Expected type" in error.message


def field_errors(errors: list[EngineFieldError], index: int | None = None) -> list[dict]:
    """Engine FieldErrors as payload error objects (field names in camelCase)."""
    return [{"field": camel(e.field) or None, "message": e.message, "code": e.code, "index": index} for e in errors]


# What a mutation catches and hands to expected_failure: a service's refusal,
# or a statement the database refused.
EXPECTED_FAILURES = (GuanxiError, IntegrityError, DataError)


def expected_failure(error: Exception) -> GuanxiError:
    """A mutation's failure as the payload error it is, or the error re-raised (a bug).

    ``GuanxiError``: a service's own refusal. A statement the database refused
    (a unique value a concurrent request took first, a total past its column)
    is mapped centrally from its constraint to the field (engine/integrity.py)."""
    if isinstance(error, GuanxiError):
        return error
    expected = integrity.mapped(error)
    if expected is None:
        raise error
    return expected
