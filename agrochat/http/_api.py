"""What every route shares: reading a JSON body, checking credentials, answering JSON.

Handlers raise ``AgrochatError``s; ``JsonErrors`` (installed by the app factory) renders them, so
this module and the routes never build error responses themselves.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

import bottle

from agrochat.errors import (
    BadRequest,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)


def json_body(request: bottle.BaseRequest, *, max_bytes: int) -> dict[str, Any]:
    """The request's JSON object body, or an error that says precisely what is wrong with it."""
    length = request.content_length
    if length > max_bytes:
        raise PayloadTooLarge(f"request body is {length} bytes; the limit is {max_bytes}")
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    raw = request.body.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"request body is over the limit of {max_bytes} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("request body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


def bearer_token(request: bottle.BaseRequest) -> str | None:
    header = request.get_header("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def check_bearer(request: bottle.BaseRequest, expected: str, *, what: str) -> None:
    token = bearer_token(request)
    # compare_digest: the time taken must not reveal how much of the key was right.
    if token is None or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized(f"send 'Authorization: Bearer <{what}>'")


def json_response(data: Any, status: int = 200) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(
        body=json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )


Handler = Callable[..., Any]
