"""``POST /form/update``: set a producer's profile fields, through the same validation as the
conversation.

Request ``{"phone": "51987654321@c.us", "fields": {"cultivo": "papa", "fecha_siembra":
"2026-09-15"}}``. All or nothing: if any field is unknown or its value invalid, the answer is a
422 whose ``details.fields`` gives the reason for each bad field, and nothing is stored (a
partial update would leave the producer's form in a state nobody asked for). Otherwise the
values are stored normalised ("1,5 ha" -> "1.5", "por surcos" -> "gravedad") through the
producer's session, in order with its conversation, and the response shows the whole form:
``{"phone", "fields", "campos_faltantes"}``. An unknown phone creates the producer.
"""

from __future__ import annotations

import bottle

from agrochat.actors.session import Clock, load_form, validate_fields
from agrochat.errors import Unprocessable
from agrochat.http._agent import check_phone, raise_if_errors
from agrochat.http._api import json_body, json_response
from agrochat.http._context import AppContext

MAX_FIELDS = 50


def install(app: bottle.Bottle, ctx: AppContext) -> None:
    clock = Clock(ctx.config.timezone)

    @app.post("/form/update", auth="api", bounded=True)
    def form_update() -> bottle.HTTPResponse:
        body = json_body(bottle.request, max_bytes=ctx.config.max_body_bytes)
        errors: dict[str, str] = {}
        phone = check_phone(body, errors)
        fields = body.get("fields")
        if fields is None:
            errors["fields"] = "required"
        elif not isinstance(fields, dict):
            errors["fields"] = "must be an object of field: value"
        elif not fields:
            errors["fields"] = "must not be empty"
        elif len(fields) > MAX_FIELDS:
            errors["fields"] = f"more than {MAX_FIELDS} fields"
        raise_if_errors(errors)
        assert phone is not None and isinstance(fields, dict)
        form = load_form("perfil")
        checked = validate_fields(form, fields, today=clock.today())
        if not checked.ok:
            raise Unprocessable(
                "invalid fields: " + ", ".join(sorted(checked.errors)),
                details={"fields": checked.errors},
            )
        state = ctx.require_sessions().update_form(phone, checked.values, source="api")
        return json_response(state)
