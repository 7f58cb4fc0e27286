"""``/webhooks/whatsapp``: the WhatsApp Cloud API's webhook (``AGROCHAT_WHATSAPP=cloud``).

``GET`` is Meta's subscription handshake: echo ``hub.challenge`` when ``hub.verify_token`` is
ours, else 403. ``POST`` carries messages, delivery statuses and reactions; it is trusted only
when ``X-Hub-Signature-256`` signs the raw body with our app secret (else 401 and nothing is
stored). Messages are stored through the same Inbox the WhatsApp actor uses (deduplicated on
the wamid: Meta retries a webhook until it gets a 200) and handed to the producers' sessions;
the 200 goes back as soon as they are stored, the answers go out through the outbox.

No credentials of ours on these routes (``auth="none"``): Meta signs instead.
"""

from __future__ import annotations

import bottle

from agrochat.actors.whatsapp import (
    SIGNATURE_HEADER,
    check_signature,
    parse_webhook,
    verify_subscription,
)
from agrochat.errors import NotFound, NotReady, PayloadTooLarge, Unauthorized
from agrochat.http._api import json_response
from agrochat.http._context import AppContext
from agrochat.logs import get_logger

log = get_logger(__name__)

# Meta batches up to a thousand updates in one delivery; a few hundred kilobytes at most.
MAX_WEBHOOK_BYTES = 1024 * 1024


def install(app: bottle.Bottle, ctx: AppContext) -> None:
    def enabled() -> None:
        if ctx.config.whatsapp != "cloud":
            raise NotFound("the Cloud API webhook is off (AGROCHAT_WHATSAPP is not cloud)")

    @app.get("/webhooks/whatsapp", auth="none")
    def verify() -> bottle.HTTPResponse:
        enabled()
        params = {k: bottle.request.query.get(k) or "" for k in bottle.request.query}
        challenge = verify_subscription(params, ctx.config.cloud_verify_token)
        return bottle.HTTPResponse(
            body=challenge, status=200, headers={"Content-Type": "text/plain; charset=utf-8"}
        )

    @app.post("/webhooks/whatsapp", auth="none")
    def receive() -> bottle.HTTPResponse:
        enabled()
        request = bottle.request
        if request.content_length > MAX_WEBHOOK_BYTES:
            raise PayloadTooLarge(f"the webhook body is over {MAX_WEBHOOK_BYTES} bytes")
        raw = request.body.read(MAX_WEBHOOK_BYTES + 1)
        if len(raw) > MAX_WEBHOOK_BYTES:
            raise PayloadTooLarge(f"the webhook body is over {MAX_WEBHOOK_BYTES} bytes")
        header = request.get_header(SIGNATURE_HEADER)
        if not check_signature(raw, header, ctx.config.cloud_app_secret):
            log.warning("webhook refused: bad signature", signed=header is not None)
            raise Unauthorized(f"missing or wrong {SIGNATURE_HEADER}")
        events = parse_webhook(raw)
        inbox = ctx.require_inbox()
        channels = ctx.channels
        accepted = 0
        for event in events:
            if channels is not None and not channels.known(event.session):
                log.warning("webhook for a number that is not ours", number=event.session)
                continue
            try:
                if inbox.accept(event) is not None:
                    accepted += 1
            except Exception as exc:
                # Not stored: a 503 makes Meta deliver the webhook again later (what was
                # stored already is recognised then by its wamid).
                log.exception("webhook event not stored")
                raise NotReady("could not store the webhook; deliver it again") from exc
        log.info("webhook", events=len(events), new_messages=accepted)
        return json_response({"received": len(events)})
