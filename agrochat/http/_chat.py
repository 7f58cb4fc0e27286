"""``POST /chat``: the seed's Model API, served by agrochat's own model.

Request ``{"system": "Responde usando SOLO ...", "context": {...}, "max_tokens": 300}``,
response ``{"content": "<the model's JSON as a string>"}``, exactly as the seed's Model API.
The system text is the system message and the context (a JSON object) the user message. The
content is always a complete model_output (DESIGN.md "Model output"), validated and repaired.

Our additions, optional: ``"form_fields": ["cultivo", ...]`` (the fields the model may fill in
``actualizar_formulario``; none by default) and ``"temperature"`` (0 to 2, default 0).
"""

from __future__ import annotations

import json
from typing import Any

import bottle

from agrochat.actors.inference import InferenceClient
from agrochat.errors import NotReady, Unprocessable
from agrochat.http._api import json_body, json_response
from agrochat.http._context import AppContext
from agrochat.messages import InferenceRequest, deadline_in
from agrochat.model_output import output_schema, parse_output

MAX_SYSTEM_CHARS = 8000
MAX_CONTEXT_CHARS = 16000  # the context as compact JSON; about 5k tokens, past any sane prompt
MAX_TOKENS = 1024
DEFAULT_MAX_TOKENS = 300
MAX_FORM_FIELDS = 50
MAX_FIELD_NAME = 64


def _check_request(body: dict[str, Any]) -> tuple[str, dict[str, Any], int, list[str], float]:
    errors: dict[str, str] = {}
    for key in body:
        if key not in ("system", "context", "max_tokens", "form_fields", "temperature"):
            errors[key] = "unknown field"

    system = body.get("system")
    if not isinstance(system, str) or not system.strip():
        errors["system"] = "required, a non-empty string"
    elif len(system) > MAX_SYSTEM_CHARS:
        errors["system"] = f"longer than {MAX_SYSTEM_CHARS} characters"

    context = body.get("context", {})
    if not isinstance(context, dict):
        errors["context"] = "must be a JSON object"
    elif len(json.dumps(context, ensure_ascii=False, separators=(",", ":"))) > MAX_CONTEXT_CHARS:
        errors["context"] = f"larger than {MAX_CONTEXT_CHARS} characters as JSON"

    max_tokens = body.get("max_tokens", DEFAULT_MAX_TOKENS)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        errors["max_tokens"] = "must be a whole number"
    elif not 1 <= max_tokens <= MAX_TOKENS:
        errors["max_tokens"] = f"must be from 1 to {MAX_TOKENS}"

    form_fields = body.get("form_fields", [])
    if (
        not isinstance(form_fields, list)
        or len(form_fields) > MAX_FORM_FIELDS
        or not all(
            isinstance(f, str) and f.strip() and len(f) <= MAX_FIELD_NAME for f in form_fields
        )
    ):
        errors["form_fields"] = (
            f"must be a list of at most {MAX_FORM_FIELDS} names of 1 to {MAX_FIELD_NAME} characters"
        )

    temperature = body.get("temperature", 0.0)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        errors["temperature"] = "must be a number"
    elif not 0.0 <= temperature <= 2.0:
        errors["temperature"] = "must be from 0 to 2"

    if errors:
        raise Unprocessable(
            "invalid fields: " + ", ".join(f"{k} ({v})" for k, v in errors.items()),
            details=errors,
        )
    return system, context, max_tokens, form_fields, float(temperature)


def install(app: bottle.Bottle, ctx: AppContext) -> None:
    def client() -> InferenceClient:
        if ctx.inference is None:
            raise NotReady("the model is not connected yet; try again in a moment")
        return ctx.inference

    @app.post("/chat", auth="api", bounded=True)
    def chat() -> bottle.HTTPResponse:
        body = json_body(bottle.request, max_bytes=ctx.config.max_body_bytes)
        system, context, max_tokens, form_fields, temperature = _check_request(body)
        request = InferenceRequest(
            messages=(
                {"role": "system", "content": system},
                {"role": "user", "content": json.dumps(context, ensure_ascii=False)},
            ),
            deadline=deadline_in(ctx.config.inference_timeout_s),
            max_tokens=max_tokens,
            temperature=temperature,
            schema=output_schema(form_fields),
            request_id=bottle.request.environ.get("agrochat.request_id"),
        )
        # Overloaded, DeadlineExceeded and ModelUnavailable are rendered as 503/504 JSON.
        result = client().generate(request)
        output = parse_output(result.content, form_fields)
        return json_response({"content": json.dumps(output, ensure_ascii=False)})
