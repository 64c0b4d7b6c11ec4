"""The one exception tree of shipml.

    ShipmlError                 base; carries an HTTP status and a stable code
    ├── NotFound                404  a thing asked for does not exist
    ├── InvalidInput            422  a request or a parameter is wrong; the message says what to fix
    ├── RejectedData            422  a data source failed validation; nothing was stored
    ├── SourceUnavailable       502  a data source could not be fetched (network, timeout, HTTP error)
    ├── Unauthorized            401  no admin token
    ├── Forbidden               403  a wrong admin token
    ├── Conflict                409  the request clashes with the current state
    ├── TooManyRequests         429  a rate limit or a queue cap was reached; retry later
    └── QueueUnavailable        503  the job queue cannot take work now; nothing was queued

The API maps every ShipmlError to ``{"error": {"code", "message"}}`` with its status.
"""

from __future__ import annotations

from typing import Any


class ShipmlError(Exception):
    """Base of every error shipml raises on purpose."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class NotFound(ShipmlError):
    status_code = 404
    code = "not_found"


class InvalidInput(ShipmlError):
    status_code = 422
    code = "invalid_input"


class RejectedData(ShipmlError):
    status_code = 422
    code = "rejected_data"


class SourceUnavailable(ShipmlError):
    status_code = 502
    code = "source_unavailable"


class SourceOffline(SourceUnavailable):
    """The source's host could not be reached over the network (no route, no name, no answer): a state that passes,
    unlike a missing file or an HTTP error."""


class Unauthorized(ShipmlError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ShipmlError):
    status_code = 403
    code = "forbidden"


class Conflict(ShipmlError):
    status_code = 409
    code = "conflict"


class TooManyRequests(ShipmlError):
    status_code = 429
    code = "too_many_requests"


class QueueUnavailable(ShipmlError):
    status_code = 503
    code = "unavailable"
