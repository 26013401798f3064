"""The exception tree. One root, subclasses that say what went wrong and how to answer it.

    IntentlyError
    ├── ValidationError      bad input; `path` names where (HTTP 400)
    │   └── PayloadTooLarge  over the size limit (HTTP 413)
    ├── AuthError            missing or wrong write key (HTTP 401)
    ├── NotFound             no such customer, segment, ... (HTTP 404)
    ├── Forbidden            a key or session without the role a route needs (HTTP 403)
    └── StoreError           the store failed, or the engine stopped; retryable (HTTP 503)
        └── SealingError     sealed personal data cannot be opened: no or wrong master key
"""

from __future__ import annotations


class IntentlyError(Exception):
    """Root of every error Intently raises on purpose.

    Its JSON body has the shape Segment's tracking API answers with, which the official
    libraries read (`code` and `message`; they retry 5xx and 429, never another 4xx), plus
    `error` (the same code) and, for bad input, `path`."""

    status: int = 500
    code: str = "internal_error"

    def to_json(self) -> dict[str, object]:
        return {"success": False, "code": self.code, "error": self.code, "message": str(self)}


class ValidationError(IntentlyError, ValueError):
    """Input that does not follow the contract. `path` is a JSONPath such as `$.batch[3].event`."""

    status = 400
    code = "invalid_event"

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(f"{message} (at {path})")
        self.message = message
        self.path = path

    def to_json(self) -> dict[str, object]:
        return {"success": False, "code": self.code, "error": self.code,
                "message": f"{self.path}: {self.message}", "path": self.path}


class PayloadTooLarge(ValidationError):
    status = 413
    code = "payload_too_large"


class AuthError(IntentlyError):
    status = 401
    code = "unauthorized"


class Forbidden(IntentlyError):
    """A known key without the scope the request needs."""

    status = 403
    code = "forbidden"


class NotFound(IntentlyError, LookupError):
    status = 404
    code = "not_found"


class StoreError(IntentlyError):
    """The store could not complete a write; nothing from the batch was acknowledged."""

    status = 503
    code = "unavailable"
    retryable = True


class SealingError(StoreError):
    """Personal data sealed at rest cannot be opened: no master key set, a malformed one, or
    none that opens this store's data keys."""

    retryable = False
