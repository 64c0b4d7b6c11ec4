"""The API's one error policy, and the OpenAPI entries that document it.

Every error is JSON ``{"error": {"code", "message"}}``. A caller's mistake is a 4xx whose message says what to fix;
a database or queue that cannot be reached is a 503 with ``Retry-After``; anything else is a 500 with a generic
message and a request id, its traceback logged once. No answer carries SQL, paths, hosts or exception text.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shipml.core.errors import ShipmlError
from shipml.core.outages import DATABASE, QUEUE, SERVICE, outages

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


NOT_JSON = "the body is not valid JSON"
_PARSE_FAILED = "There was an error parsing the body"  # FastAPI's 400 when the body is not even decodable


def _not_json(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return f"{NOT_JSON}: it is not UTF-8 text (byte {cause.start})"
    if isinstance(cause, RecursionError):
        return f"{NOT_JSON}: it nests too deeply"
    return NOT_JSON


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":  # FastAPI says "JSON decode error" at a position
            loc = err.get("loc", ())
            where = f" at character {loc[-1]}" if len(loc) > 1 else ""
            parts.append(f"{NOT_JSON}: {(err.get('ctx') or {}).get('error', 'decode error')}{where}")
            continue
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        message = str(err.get("msg")).removeprefix("Value error, ")  # pydantic's prefix for our own checks
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


def outage_part(exc: BaseException | None) -> str | None:
    """Which backing service an exception says cannot be reached (``database``, ``queue``…), or None when it is
    not an outage (a mistake of the caller's, or a bug). The outermost recognised exception of the chain decides."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout

    from shipml.core.errors import QueueUnavailable

    while exc is not None:
        if isinstance(exc, OperationalError | InterfaceError):
            return DATABASE
        if isinstance(exc, RedisConnectionError | RedisTimeout | QueueUnavailable):
            return QUEUE
        if isinstance(exc, ConnectionError):
            return SERVICE
        exc = exc.__cause__ or exc.__context__
    return None


def is_outage(exc: BaseException) -> bool:
    """A database or queue that cannot be reached (not a mistake of the caller's, nor a bug)."""
    return outage_part(exc) is not None


RETRY_AFTER = "5"  # seconds, on every 503 that does not say otherwise


def unavailable(part: str = SERVICE) -> JSONResponse:
    response = error_response(503, "unavailable", f"the {part} is unavailable; try again shortly")
    response.headers["Retry-After"] = RETRY_AFTER
    return response


def exception_response(request_id: str, exc: Exception) -> JSONResponse:
    """The answer to an exception no handler took: a 503 for an outage (logged once per outage, not per request,
    see :mod:`shipml.core.outages`), a 422 for a value the database cannot store, else a 500 whose traceback is
    logged once."""
    part = outage_part(exc)
    if part is not None:
        outages.down(part, exc)
        return unavailable(part)
    if isinstance(exc, DataError):
        return error_response(422, "invalid_input", "a value in the request cannot be stored; check its range and "
                                                    "characters")
    log.error("request %s: unhandled error", request_id, exc_info=exc)
    return error_response(500, "internal_error", f"an unexpected error occurred (request id {request_id}); it has "
                                                 "been logged")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into an answer of the policy."""

    @app.exception_handler(ShipmlError)
    async def shipml_error(_: Request, exc: ShipmlError) -> JSONResponse:
        response = error_response(exc.status_code, exc.code, exc.message, exc.details)
        if exc.status_code in (429, 503):
            retry = exc.details.get("retry_after", RETRY_AFTER) if isinstance(exc.details, dict) else RETRY_AFTER
            response.headers["Retry-After"] = str(retry)
        part = outage_part(exc) if exc.status_code == 503 else None
        if part is not None:
            outages.down(part, exc)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        """Only what escapes :class:`~shipml.core.middleware.RequestMiddleware` gets here (it answers every
        exception of a route itself, so that none is re-raised to the server: no second traceback, and the
        client's keep-alive connection survives)."""
        request_id = getattr(request.state, "request_id", "-")
        response = exception_response(request_id, exc)
        response.headers["X-Request-ID"] = request_id  # this handler answers outside the request middleware
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error_with_headers(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _PARSE_FAILED:  # undecodable: as any malformed body, a 422
            return error_response(422, "invalid_request", _not_json(exc.__cause__))
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(exc.status_code, "http_error")
        response = error_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return response


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """Every error: ``{"error": {"code", "message"}}``."""

    error: ErrorBody


_ERRORS = {
    "404": "not found (an id, a name, or data not ingested yet)",
    "409": "clashes with the current state",
    "413": "the request body is too large",
    "422": "the request is invalid; the message says what to fix",
    "429": "too many requests (rate limit or queue cap); see Retry-After",
    "500": "an unexpected error (with a request id; logged)",
    "502": "a data source could not be fetched",
    "503": "the database or the queue is unavailable; see Retry-After",
}
_ADMIN_ERRORS = {"401": "no admin token", "403": "a wrong admin token, or a source the policy does not allow"}


def document(app: FastAPI) -> None:
    """Every operation documents every status it can answer with, all with the one error body (unless the operation
    declares that status with a body of its own, as health's 503 is its usual answer). Admin operations
    (security ``HTTPBearer``) also document 401 and 403; those where a token is optional say so."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = base()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(error_schema.pop("$defs", {}))
        schemas["ErrorResponse"] = error_schema
        ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                schemes = {name for requirement in operation.get("security", []) for name in requirement}
                if "OptionalBearer" in schemes:
                    operation["security"] = [{}, *operation["security"]]  # works without a token too
                errors = {**_ERRORS, **(_ADMIN_ERRORS if "HTTPBearer" in schemes else {})}
                responses = operation.setdefault("responses", {})
                for status, description in errors.items():
                    if status == "422" or status not in responses:  # FastAPI's own 422 is not our error body
                        responses[status] = {"description": description, **ref}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
