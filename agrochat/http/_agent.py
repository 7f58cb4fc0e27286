"""``POST /agent``: the seed's conversation endpoint, exactly.

Request ``{"phone": "51987654321@c.us", "message": "¿Cuándo debo regar?", "role": "consulta"}``
(plus an optional ``"message_id"``, the gateway's id, which makes the call idempotent), response
``{"model_output": {"role", "respuesta_chat", "acciones", "estado"}}``.

Every field is checked before anything reaches a session, and every problem is reported at once
(422 with one entry per field); a rejected request stores nothing.
"""

from __future__ import annotations

from typing import Any

import bottle

from agrochat.errors import Unprocessable
from agrochat.http._api import json_body, json_response
from agrochat.http._context import AppContext
from agrochat.model_output import ROLES
from agrochat.phones import normalize_phone

# WhatsApp itself caps a text at 4096 characters (Cloud API); a longer "message" is not one.
MAX_MESSAGE_CHARS = 4096
MAX_MESSAGE_ID_CHARS = 200


def check_str(
    body: dict[str, Any],
    name: str,
    errors: dict[str, str],
    *,
    max_length: int,
    required: bool = True,
) -> str | None:
    """The field as a non-empty string, or None with the reason recorded in ``errors``."""
    value = body.get(name)
    if value is None:
        if required:
            errors[name] = "required"
        return None
    if not isinstance(value, str):
        errors[name] = "must be a string"
        return None
    if not value.strip():
        errors[name] = "must not be empty"
        return None
    if len(value) > max_length:
        errors[name] = f"longer than {max_length} characters"
        return None
    return value


def check_phone(body: dict[str, Any], errors: dict[str, str]) -> str | None:
    raw = check_str(body, "phone", errors, max_length=64)
    if raw is None:
        return None
    try:
        return normalize_phone(raw)
    except ValueError as exc:
        errors["phone"] = str(exc)
        return None


def raise_if_errors(errors: dict[str, str]) -> None:
    if errors:
        raise Unprocessable(
            "invalid fields: " + ", ".join(f"{k} ({v})" for k, v in errors.items()),
            details=errors,
        )


def install(app: bottle.Bottle, ctx: AppContext) -> None:
    @app.post("/agent", auth="api", bounded=True)
    def agent() -> bottle.HTTPResponse:
        body = json_body(bottle.request, max_bytes=ctx.config.max_body_bytes)
        errors: dict[str, str] = {}
        phone = check_phone(body, errors)
        message = check_str(body, "message", errors, max_length=MAX_MESSAGE_CHARS)
        role = check_str(body, "role", errors, max_length=32)
        if role is not None and role not in ROLES:
            errors["role"] = f"must be one of {', '.join(ROLES)}"
        message_id = check_str(
            body, "message_id", errors, max_length=MAX_MESSAGE_ID_CHARS, required=False
        )
        raise_if_errors(errors)
        assert phone is not None and message is not None
        reply = ctx.require_sessions().converse(
            phone,
            message.strip(),
            role=role,
            message_id=message_id,
            source="api",
            request_id=bottle.request.environ.get("agrochat.request_id"),
        )
        return json_response({"model_output": reply.model_output})
