"""The error hierarchy. Handlers raise these; the HTTP layer renders them as JSON in one place."""

from __future__ import annotations

from typing import Any


class AgrochatError(Exception):
    """Base of every error agrochat raises on purpose."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class ConfigError(AgrochatError):
    code = "bad_config"


class BadRequest(AgrochatError):
    status = 400
    code = "bad_request"


class Unauthorized(AgrochatError):
    status = 401
    code = "unauthorized"


class Forbidden(AgrochatError):
    status = 403
    code = "forbidden"


class NotFound(AgrochatError):
    status = 404
    code = "not_found"


class MethodNotAllowed(AgrochatError):
    status = 405
    code = "method_not_allowed"


class PayloadTooLarge(AgrochatError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(AgrochatError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(AgrochatError):
    """Well-formed input whose fields are invalid; ``details`` maps each field to what is wrong."""

    status = 422
    code = "invalid_fields"


class Overloaded(AgrochatError):
    """A bounded queue is full; the work was not started and the caller should retry later."""

    status = 503
    code = "overloaded"
    # Sent as Retry-After: a slot frees as soon as one reply in progress is done.
    retry_after_s = 2


class NotReady(AgrochatError):
    """A part the request needs is still starting or has failed."""

    status = 503
    code = "not_ready"


class DeadlineExceeded(AgrochatError):
    status = 504
    code = "deadline_exceeded"


class ModelUnavailable(AgrochatError):
    status = 503
    code = "model_unavailable"


class BadMedia(AgrochatError):
    """Audio we cannot or will not transcribe; ``reason`` says which, so a gateway can answer
    the producer in a few polite words:

    - ``"corrupt"``: not decodable audio, or a container type we do not open (an image, a
      playlist, a document);
    - ``"too_long"``: longer than AGROCHAT_VOICE_MAX_SECONDS;
    - ``"too_big"``: more bytes than AGROCHAT_VOICE_MAX_BYTES.

    Retrying the same bytes never helps.
    """

    status = 422
    code = "bad_media"
    REASONS = ("corrupt", "too_long", "too_big")

    def __init__(self, reason: str, message: str = "", *, details: Any = None) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"reason must be one of {self.REASONS}, got {reason!r}")
        super().__init__(message or f"the audio is {reason.replace('_', ' ')}", details=details)
        self.reason = reason
        if reason == "too_big":
            self.status = 413


class MediaUnavailable(AgrochatError):
    """A gateway's file could not be had: ``retryable`` when trying again later may work (the
    gateway is down or slow), not when it will never come (gone, refused, not a file)."""

    status = 502
    code = "media_unavailable"

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
