"""Persist one handled message in one transaction: the reply (the inbound message marked), the
profile values, the producer's status, the alert for the team, the audit rows and the outbox
row. Only after the commit is the WhatsApp actor told: a crash in between leaves either nothing
(the message is answered again on the next activation) or everything (the outbox drain sends
it), never a reply without its outbox row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agrochat.actors.session._review import Review
from agrochat.logs import get_logger
from agrochat.messages import Send
from agrochat.persistence import (
    AlertStore,
    Database,
    MessageStore,
    OutboxStore,
    Producer,
    ProducerStore,
    StoredMessage,
    record_audit,
)

log = get_logger(__name__)


class Delivery:
    """Where replies and alerts for a gateway of ours go: an outbox row inside the caller's
    transaction, then a ``Send`` once it is committed. Without a gateway (``send`` None) there
    is no outbox: the seed's bridge reads the reply from ``/agent``."""

    def __init__(
        self,
        db: Database,
        send: Callable[[Send], None] | None,
        *,
        split: Callable[[str], list[str]] | None = None,
    ) -> None:
        """``split``: a long text in the parts the gateway takes (WhatsApp caps a message)."""
        self.outbox = OutboxStore(db)
        self._send = send
        self._split = split or (lambda text: [text])

    @property
    def active(self) -> bool:
        return self._send is not None

    def enqueue(
        self,
        phone: str,
        text: str,
        *,
        channel: str | None = None,
        alert_id: int | None = None,
        reply_to_id: int | None = None,
    ) -> list[Send]:
        """One outbox row per part, in order; call inside the transaction that stores what
        they are, and ``notify`` after its commit."""
        if self._send is None:
            return []
        sends = []
        for part in self._split(text):
            outbox_id = self.outbox.enqueue(
                phone, part, alert_id=alert_id, reply_to_id=reply_to_id, channel=channel
            )
            if outbox_id is None:
                # The alert was cancelled in the panel since the scheduler handed it on.
                log.info("cancelled alert not queued", alert_id=alert_id)
                return []
            sends.append(
                Send(
                    outbox_id=outbox_id,
                    phone=phone,
                    text=part,
                    alert_id=alert_id,
                    channel=channel,
                )
            )
        return sends

    def notify(self, sends: list[Send]) -> None:
        # The rows are committed first: if this tell is lost (the WhatsApp actor restarting),
        # its own outbox drain sends the rows later.
        if self._send is not None:
            for send in sends:
                self._send(send)


@dataclass(frozen=True)
class Written:
    reply: StoredMessage
    sends: list[Send]


class Recorder:
    def __init__(self, db: Database, delivery: Delivery) -> None:
        self.db = db
        self.delivery = delivery
        self.messages = MessageStore(db)
        self.producers = ProducerStore(db)
        self.alerts = AlertStore(db)

    def record(
        self,
        producer: Producer,
        inbound: StoredMessage,
        output: Mapping[str, Any],
        decision: Review,
        *,
        status: str,
        deliver: bool,
        latency_ms: int | None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        now: dt.datetime,
    ) -> Written:
        """Everything one reply changes, atomically; then the gateway is told."""
        text = output["respuesta_chat"]
        with self.db.tx():
            reply = self.messages.record_reply(
                inbound.id,
                text,
                producer_id=producer.id,
                status=status,
                role=output["role"],
                model_output=dict(output),
                latency_ms=latency_ms,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                now=now,
            )
            if decision.fields:
                self.producers.set_fields(producer.id, decision.fields, source="model", now=now)
            updates: dict[str, Any] = {}
            name = decision.fields.get("nombre")
            if name and name != producer.name:
                updates["name"] = name
            if decision.status:
                updates["status"] = decision.status
            if decision.needs_human and not producer.needs_human:
                updates["needs_human"] = True
            if decision.escalate and not producer.taken_over:
                # The producer asked for a person: the assistant is quiet until one of the
                # team has answered and hands the conversation back (issue 10, takeover).
                updates["taken_over"] = True
                updates["taken_over_by"] = "escalado"
            if updates:
                self.producers.update(producer.id, now=now, **updates)
            alert = output["acciones"].get("crear_alerta")
            if alert:
                self.alerts.record_model_alert(
                    producer_id=producer.id,
                    phone=producer.phone,
                    level=alert["nivel"],
                    message=alert["mensaje"],
                    now=now,
                )
            if decision.needs_human:
                record_audit(
                    self.db,
                    actor="model",
                    action="escalar_a_humano" if decision.escalate else "sin_respuesta",
                    target=f"producer:{producer.id}",
                    details={"message_id": inbound.id},
                )
            sends = (
                self.delivery.enqueue(
                    producer.phone, text, channel=producer.channel, reply_to_id=reply.id
                )
                if deliver
                else []
            )
        self.delivery.notify(sends)
        return Written(reply=reply, sends=sends)
