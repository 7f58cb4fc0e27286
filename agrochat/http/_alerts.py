"""Alert routes: the seed's contract, kept exactly, so an existing bridge that polls keeps working.

- ``POST /alert``: create alerts for one producer (``phone``) or a segment (``{"cultivo": ...}``,
  ``{"distrito": ...}`` or ``"all"``), now or at ``scheduled_at``; returns the ids.
- ``GET /alerts/pending``: ``{"alerts": [{"id", "phone", "message", "level"}]}``: due, pending,
  not expired; phones as WhatsApp chat ids (``51987654321@c.us``), as the seed gave them.
- ``POST /alerts/<id>/sent``: marks one sent; twice is harmless; an unknown id is a 404.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import bottle

from agrochat.actors import ActorId
from agrochat.errors import NotFound, NotReady, Unprocessable
from agrochat.http._api import json_body, json_response
from agrochat.http._context import AppContext
from agrochat.logs import get_logger
from agrochat.messages import Tick
from agrochat.persistence import (
    LEVELS,
    MAX_MESSAGE_CHARS,
    SEGMENT_FIELDS,
    AlertStore,
    Database,
    utcnow,
)
from agrochat.phones import normalize_phone

log = get_logger(__name__)

# What one poll returns at most; a bridge polling every 10 s drains a backlog in a few polls.
PENDING_LIMIT = 200
MAX_SEGMENT_VALUE = 100
# Ids are 32-bit integers in both databases; a larger number cannot name an alert.
MAX_ID = 2**31 - 1
DEFAULT_LEVEL = "media"


@dataclass(frozen=True)
class AlertRequest:
    message: str
    level: str
    phone: str | None = None
    segment: dict[str, str] | None = None  # None with phone None: every producer
    scheduled_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None


def _timestamp(value: Any) -> dt.datetime:
    """ISO 8601 to naive UTC (the database's convention); a time without a zone is UTC."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("must be ISO 8601, e.g. 2026-09-15T07:00:00-05:00") from None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
        except OverflowError:
            # 0001-01-01T00:00:00+05:00 is before the first datetime Python has, in UTC.
            raise ValueError("is out of range once converted to UTC") from None
    return parsed


def parse_alert_request(data: dict[str, Any]) -> AlertRequest:
    """Check every field; Unprocessable listing each wrong one (nothing is stored then)."""
    errors: dict[str, str] = {}

    message = data.get("message")
    if not isinstance(message, str):
        errors["message"] = "required, a string"
    elif not message.strip():
        errors["message"] = "must not be empty"
    elif len(message) > MAX_MESSAGE_CHARS:
        errors["message"] = f"longer than {MAX_MESSAGE_CHARS} characters"

    level = data.get("level", DEFAULT_LEVEL)
    if level not in LEVELS:
        errors["level"] = f"must be one of {', '.join(LEVELS)}"

    phone: str | None = None
    segment: dict[str, str] | None = None
    has_phone, has_segment = data.get("phone") is not None, data.get("segment") is not None
    if has_phone and has_segment:
        errors["segment"] = "give phone or segment, not both"
    elif not has_phone and not has_segment:
        errors["phone"] = "required (or a segment)"
    elif has_phone:
        try:
            phone = normalize_phone(data["phone"])
        except ValueError as exc:
            errors["phone"] = str(exc)
    else:
        raw = data["segment"]
        if raw == "all":
            segment = None
        elif isinstance(raw, dict) and raw:
            segment = {}
            for field, value in raw.items():
                if field not in SEGMENT_FIELDS:
                    errors["segment"] = (
                        f'unknown field {field!r}; use {", ".join(SEGMENT_FIELDS)} or "all"'
                    )
                elif not isinstance(value, str) or not value.strip():
                    errors["segment"] = f"{field} must be a non-empty string"
                elif len(value) > MAX_SEGMENT_VALUE:
                    errors["segment"] = f"{field} is longer than {MAX_SEGMENT_VALUE} characters"
                else:
                    segment[field] = value
        else:
            errors["segment"] = f'must be "all" or an object with {", ".join(SEGMENT_FIELDS)}'

    times: dict[str, dt.datetime | None] = {"scheduled_at": None, "expires_at": None}
    for field in times:
        if data.get(field) is not None:
            try:
                times[field] = _timestamp(data[field])
            except ValueError as exc:
                errors[field] = str(exc)
    scheduled, expires = times["scheduled_at"], times["expires_at"]
    if expires is not None and expires <= (scheduled or utcnow()):
        errors["expires_at"] = "must be after scheduled_at (or now)"

    if errors:
        fields = ", ".join(sorted(errors))
        raise Unprocessable(f"invalid fields: {fields}", details=errors)
    assert isinstance(message, str)
    return AlertRequest(
        message=message.strip(),
        level=level,
        phone=phone,
        segment=segment,
        scheduled_at=scheduled,
        expires_at=expires,
    )


def _database(ctx: AppContext) -> Database:
    if ctx.database is None:
        raise NotReady("the database is still starting")
    return ctx.database


def _alert_id(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_ID:
        raise NotFound(f"no alert {raw[:32]!r}: ids are positive whole numbers")
    return int(raw)


def _has_body(request: bottle.BaseRequest) -> bool:
    """Whether a body was sent. No Content-Length (Bottle's -1) is no body, as WSGI reads it
    (PEP 3333), unless the body came chunked; then it is looked at, since a chunked empty body
    is as empty as ``Content-Length: 0``."""
    if request.content_length > 0:
        return True
    if not request.get_header("Transfer-Encoding"):
        return False
    # Bottle keeps the body it read (request.body rewinds), so json_body can read it again.
    return bool(request.body.read(1))


def install(app: bottle.Bottle, ctx: AppContext) -> None:
    @app.post("/alert", auth="api")
    def create_alert() -> bottle.HTTPResponse:
        request = parse_alert_request(
            json_body(bottle.request, max_bytes=ctx.config.max_body_bytes)
        )
        store = AlertStore(_database(ctx))
        ids = store.create_for(
            phone=request.phone,
            segment=request.segment,
            message=request.message,
            level=request.level,
            source="api",
            scheduled_at=request.scheduled_at,
            expires_at=request.expires_at,
        )
        log.info("alerts created", count=len(ids), level=request.level)
        if ids and (request.scheduled_at is None or request.scheduled_at <= utcnow()):
            nudge_scheduler(ctx)
        body: dict[str, Any] = {"ids": ids, "count": len(ids)}
        if request.phone is not None:
            body["id"] = ids[0]
        return json_response(body, 201)

    @app.get("/alerts/pending", auth="api")
    def pending_alerts() -> bottle.HTTPResponse:
        alerts = AlertStore(_database(ctx)).pending_due(limit=PENDING_LIMIT)
        return json_response(
            {
                "alerts": [
                    {
                        "id": a.id,
                        "phone": f"{a.phone}@c.us" if a.phone else None,
                        "message": a.message,
                        "level": a.level,
                    }
                    for a in alerts
                ]
            }
        )

    @app.post("/alerts/<alert_id>/sent", auth="api")
    def alert_sent(alert_id: str) -> bottle.HTTPResponse:
        # The seed's bridge posts no body; one that is sent must still be well-formed JSON.
        if _has_body(bottle.request):
            json_body(bottle.request, max_bytes=ctx.config.max_body_bytes)
        number = _alert_id(alert_id)
        store = AlertStore(_database(ctx))
        changed = store.mark_sent(number)
        alert = store.get(number) if changed is not None else None
        if alert is None:
            raise NotFound(f"no alert {number}")
        # Still 200 for a cancelled alert (the bridge is done with it either way), but the
        # status says what the alert is: an admin's cancel is never reported as "sent".
        return json_response({"id": number, "status": str(alert.status)})


def nudge_scheduler(ctx: AppContext) -> None:
    """An alert due now need not wait up to a tick: ask the scheduler for one now (a tell)."""
    if not ctx.delivers or ctx.supervisor is None:
        return
    try:
        ctx.supervisor.ref(ActorId.ALERTS).tell(Tick(at=time.time()))
    except Exception as exc:
        # Not running or restarting: the next regular tick takes the alert.
        log.debug("could not nudge the alert scheduler", error=str(exc))
