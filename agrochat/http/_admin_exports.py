"""The panel's CSV exports: the producers with their profiles, one producer's conversation, the
alerts with how far each got.

Streamed: the route checks what it can (the login, the producer), writes the audit row, and
returns a generator; waitress then sends the file as the stores read it, one batch of rows at a
time (``*_batches``: keyset pages, one short transaction each), so a large programme is never in
memory at once. A failure half-way is logged and breaks the connection: the browser reports a
failed download rather than keeping a file that looks complete.

Every cell goes through ``_csv`` (formula-looking text made inert, UTF-8 with a byte order mark).
Phones are the canonical digits (country code first, as the API and the panel's search take
them): a leading "+" would be made inert like any other, and show as "'+51…".
Times are in the producers' zone, like the panel's pages, as ``YYYY-MM-DD HH:MM`` so that a
spreadsheet sorts them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import bottle

from agrochat.actors.session import load_form
from agrochat.errors import NotFound
from agrochat.http._admin import (
    ALERT_STATUS,
    PRODUCER_STATUS,
    Panel,
    check_id,
    query_param,
)
from agrochat.http._csv import csv_chunks
from agrochat.logs import get_logger
from agrochat.persistence import STATUSES, AlertStore, MessageStore, OutboxStore, ProducerStore

log = get_logger(__name__)

Route = Callable[..., Callable[[Callable[..., Any]], Any]]

DIRECTION = {"in": "recibido", "out": "enviado"}
MESSAGE_STATUS = {
    "received": "sin responder aún",
    "answered": "respondido",
    "failed": "falló la respuesta",
    "held": "para el equipo",
}
DELIVERY = {
    "pending": "en cola",
    "sending": "enviando",
    "sent": "enviado",
    "delivered": "entregado",
    "read": "leído",
    "failed": "no se pudo enviar",
    "cancelled": "cancelado",
}


def install(route: Route, panel: Panel) -> None:
    @route("/admin/exports/producers.csv")
    def producers_csv() -> Iterator[bytes]:
        state = _choice("estado", PRODUCER_STATUS)
        panel.audit("export.producers", None, estado=state)
        name = f"productores-{state}" if state else "productores"
        return _attachment(panel, name, _producer_rows(panel, state))

    @route("/admin/exports/producers/<producer_id:int>/conversation.csv")
    def conversation_csv(producer_id: int) -> Iterator[bytes]:
        store = ProducerStore(panel.db)
        producer = store.get_by_id(check_id(producer_id, "el productor"))
        if producer is None:
            raise NotFound(f"No existe el productor {producer_id}.")
        panel.audit("export.conversation", f"producer:{producer.id}")
        rows = _conversation_rows(panel, producer.id)
        return _attachment(panel, f"conversacion-{producer.phone}", rows)

    @route("/admin/exports/alerts.csv")
    def alerts_csv() -> Iterator[bytes]:
        state = _choice("estado", STATUSES)
        panel.audit("export.alerts", None, estado=state)
        name = f"alertas-{state}" if state else "alertas"
        return _attachment(panel, name, _alert_rows(panel, state))


def _choice(name: str, allowed: Iterable[str]) -> str | None:
    value = query_param(name)
    return value if value in set(allowed) else None


def _attachment(
    panel: Panel, name: str, table: tuple[Sequence[str], Iterable[Sequence[Any]]]
) -> Iterator[bytes]:
    """The response: headers now, the body as the generator is iterated (after this returns)."""
    header, rows = table
    day = panel.today().isoformat()
    bottle.response.content_type = "text/csv; charset=utf-8"
    # The name is ours (ASCII letters, digits, dashes): nothing to quote or encode.
    bottle.response.set_header("Content-Disposition", f'attachment; filename="{name}-{day}.csv"')
    return _logged(name, csv_chunks(header, rows))


def _logged(name: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from chunks
    except GeneratorExit:
        log.info("export abandoned by the client", export=name)
        raise
    except Exception:
        # The headers are sent: all that is left is to break the connection (waitress does
        # when this re-raises), so the download fails visibly instead of ending short.
        log.exception("export failed half-way", export=name)
        raise
    log.info("export sent", export=name)


def _when(panel: Panel, value: dt.datetime | None) -> str:
    if value is None:
        return ""
    local = value.replace(tzinfo=dt.UTC).astimezone(panel.zone)
    return local.strftime("%Y-%m-%d %H:%M")


def _producer_rows(
    panel: Panel, state: str | None
) -> tuple[Sequence[str], Iterator[Sequence[Any]]]:
    form = load_form("perfil")
    names = form.names
    header = [
        "id",
        "teléfono",
        "estado",
        "espera a una persona",
        "registrado",
        "último mensaje",
        *names,
    ]

    def rows() -> Iterator[Sequence[Any]]:
        for batch in ProducerStore(panel.db).profile_batches(status=state):
            for producer, values in batch:
                yield [
                    producer.id,
                    producer.phone,
                    PRODUCER_STATUS.get(producer.status, producer.status),
                    producer.needs_human,
                    _when(panel, producer.created_at),
                    _when(panel, producer.last_inbound_at),
                    *(values.get(n, "") for n in names),
                ]

    return header, rows()


def _conversation_rows(
    panel: Panel, producer_id: int
) -> tuple[Sequence[str], Iterator[Sequence[Any]]]:
    header = [
        f"hora ({panel.ctx.config.timezone})",
        "dirección",
        "autor",
        "texto",
        "estado",
        "entrega",
    ]

    def rows() -> Iterator[Sequence[Any]]:
        outbox = OutboxStore(panel.db)
        for batch in MessageStore(panel.db).batches(producer_id):
            deliveries = outbox.deliveries_of([m.id for m in batch if m.direction == "out"])
            for m in batch:
                if m.direction == "in":
                    author, status = "productor", MESSAGE_STATUS.get(m.status, m.status)
                else:
                    author = m.author.removeprefix("admin:") if m.author else "agrochat"
                    status = ""
                delivery = deliveries.get(m.id)
                yield [
                    _when(panel, m.created_at),
                    DIRECTION.get(m.direction, m.direction),
                    author,
                    m.text,
                    status,
                    DELIVERY.get(delivery, delivery) if delivery else "",
                ]

    return header, rows()


def _alert_rows(panel: Panel, state: str | None) -> tuple[Sequence[str], Iterator[Sequence[Any]]]:
    zone = panel.ctx.config.timezone
    header = [
        "id",
        "productor",
        "teléfono",
        "nivel",
        "mensaje",
        "origen",
        "estado",
        "vía",
        "entrega",
        "intentos",
        "último error",
        f"programada ({zone})",
        f"vence ({zone})",
        f"enviada ({zone})",
    ]

    def rows() -> Iterator[Sequence[Any]]:
        db = panel.db
        producers, outbox = ProducerStore(db), OutboxStore(db)
        for batch in AlertStore(db).batches(status=state):
            names = producers.names(a.producer_id for a in batch if a.producer_id)
            deliveries = outbox.alert_deliveries([a.id for a in batch])
            for a in batch:
                delivery = deliveries.get(a.id)
                yield [
                    a.id,
                    (names.get(a.producer_id) or "") if a.producer_id else "",
                    a.phone or "",
                    a.level,
                    a.message,
                    a.source,
                    ALERT_STATUS.get(a.status, a.status),
                    a.delivery or "",
                    DELIVERY.get(delivery, delivery) if delivery else "",
                    a.attempts,
                    a.last_error or "",
                    _when(panel, a.scheduled_at),
                    _when(panel, a.expires_at),
                    _when(panel, a.sent_at),
                ]

    return header, rows()
