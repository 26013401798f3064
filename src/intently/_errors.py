"""The exception tree. One root, subclasses that say what went wrong and how to answer it.

    IntentlyError
    ├── ValidationError      bad input; `path` names where (HTTP 400)
    │   └── PayloadTooLarge  over the size limit (HTTP 413)
    ├── AuthError            missing or wrong write key (HTTP 401)
    ├── NotFound             no such customer, segment, ... (HTTP 404)
    └── StoreError           the store failed; retryable (HTTP 503)
"""

from __future__ import annotations


class IntentlyError(Exception):
    """Root of every error Intently raises on purpose."""

    status: int = 500

    def to_json(self) -> dict[str, object]:
        return {"error": type(self).__name__, "message": str(self)}


class ValidationError(IntentlyError, ValueError):
    """Input that does not follow the contract. `path` is a JSONPath such as `$.batch[3].event`."""

    status = 400

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(f"{message} (at {path})")
        self.message = message
        self.path = path

    def to_json(self) -> dict[str, object]:
        return {"error": "invalid_event", "message": self.message, "path": self.path}


class PayloadTooLarge(ValidationError):
    status = 413

    def to_json(self) -> dict[str, object]:
        return {"error": "payload_too_large", "message": self.message, "path": self.path}


class AuthError(IntentlyError):
    status = 401

    def to_json(self) -> dict[str, object]:
        return {"error": "unauthorized", "message": str(self)}


class NotFound(IntentlyError, LookupError):
    status = 404

    def to_json(self) -> dict[str, object]:
        return {"error": "not_found", "message": str(self)}


class StoreError(IntentlyError):
    """The store could not complete a write; nothing from the batch was acknowledged."""

    status = 503
    retryable = True
