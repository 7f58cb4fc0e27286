"""Conversation: one producer's dialogue, as plain logic (the SessionActor is only its mailbox).

For each message: store it (idempotent on the gateway's id), build the context, ask the model,
validate what it proposes (form values, alert, escalation) before writing anything, make sure a
registering producer is asked the next missing field, store the reply with latency and token
counts, and hand it to the gateway when the message came from one.

Failures are answered, never dropped: an overloaded model gets a holding reply and the message
stays ``received`` to be answered later (``answer_deferred``), in order, before anything newer;
a timeout or a missing model gets a short apology and the message is marked ``failed``.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agrochat.actors.inference import REPLY_MODEL_UNAVAILABLE, REPLY_OVERLOADED
from agrochat.actors.session._context import BuiltContext, ContextInput, Turn, build_context
from agrochat.actors.session._forms import (
    Accepted,
    Form,
    FormField,
    validate_fields,
    validate_value,
)
from agrochat.actors.session._model import Inference, output_schema, parse_output
from agrochat.actors.session._records import recent_alerts, record_model_alert
from agrochat.actors.session._retrieval import rank_knowledge
from agrochat.config import Config
from agrochat.errors import DeadlineExceeded, ModelUnavailable, Overloaded
from agrochat.knowledge import KnowledgeBase
from agrochat.logs import get_logger
from agrochat.messages import Incoming, InferenceRequest, Reply, Send, expired
from agrochat.persistence import (
    Database,
    DuplicateMessage,
    History,
    MessageStore,
    OutboxStore,
    Producer,
    ProducerStore,
    StoredMessage,
    record_audit,
    utcnow,
)
from agrochat.phones import chat_id
from agrochat.text import (
    contains_phrase,
    drop_echoes,
    fold,
    mask_phone,
    sentences,
)

log = get_logger(__name__)

ROLES = ("consulta", "registro", "alerta", "saludo", "fuera_de_tema")
# Sources whose reply the caller delivers itself (the seed's bridge reads /agent's answer; the
# terminal prints it). Any other source is a gateway we own: its replies go through the outbox.
DIRECT_SOURCES = frozenset({"api", "terminal"})

# Said when everything the model wrote was a copy of the conversation.
ECHOED = "Entendido."
WELCOME = "¡Hola! Soy agrochat, tu asesor agrícola. Para ayudarte mejor necesito unos datos."
# The inference package's wording; the message is kept and answered later (answer_deferred).
BUSY = REPLY_OVERLOADED
UNAVAILABLE = REPLY_MODEL_UNAVAILABLE
TIMEOUT = "Disculpa, no pude responder a tiempo. ¿Puedes escribirme de nuevo en un momento?"
CRASHED = "Disculpa, tuve un problema al procesar tu mensaje. Inténtalo de nuevo, por favor."
ESCALATED = "Una persona del equipo te contactará pronto."

# How long an accepted, unanswered message stays worth answering (WhatsApp's free-reply window).
DEFERRED_MAX_AGE = dt.timedelta(hours=24)
HISTORY_FETCH = 24  # MAX_HISTORY + one HISTORY_BLOCK + the message being answered + slack


class Clock:
    """Time as the conversation sees it; tests replace it (or freeze it with freezegun)."""

    def __init__(self, timezone: str = "America/Lima") -> None:
        self.zone = zoneinfo.ZoneInfo(timezone)

    def utcnow(self) -> dt.datetime:
        return utcnow()

    def today(self) -> dt.date:
        """The producers' local date: what "hoy" and "ayer" mean to them."""
        return dt.datetime.now(dt.UTC).astimezone(self.zone).date()

    def monotonic(self) -> float:
        return time.monotonic()


class Outgoing:
    """Where replies and alerts for a gateway go: an outbox row first, then a Send tell."""

    def __init__(self, db: Database, send: Callable[[Send], None] | None) -> None:
        self.outbox = OutboxStore(db)
        self._send = send

    @property
    def enabled(self) -> bool:
        return self._send is not None

    def deliver(
        self,
        phone: str,
        text: str,
        *,
        alert_id: int | None = None,
        reply_to_id: int | None = None,
    ) -> int | None:
        if self._send is None:
            return None
        outbox_id = self.outbox.enqueue(phone, text, alert_id=alert_id, reply_to_id=reply_to_id)
        # The row is persisted first: if this tell is lost (the WhatsApp actor restarting),
        # its own outbox drain sends the row later.
        self._send(Send(outbox_id=outbox_id, phone=phone, text=text, alert_id=alert_id))
        return outbox_id


@dataclass(frozen=True)
class Outcome:
    """What handling one message did, for the actor's snapshot and the directory."""

    reply: Reply
    status: str  # answered | deferred | failed | replayed
    error: str | None = None


def _empty_output(role: str, text: str, missing: Sequence[str], tema: str = "otro") -> dict:
    return {
        "role": role,
        "respuesta_chat": text,
        "acciones": {
            "actualizar_formulario": {},
            "crear_alerta": None,
            "escalar_a_humano": False,
        },
        "estado": {"tema": tema, "respondida": False, "campos_faltantes": list(missing)},
    }


# What a producer's message must mention before the model's crear_alerta / escalar_a_humano
# is acted on (word starts, folded): the model proposes, the producer's words decide.
RISK_STEMS = (
    "plaga",
    "gusan",
    "insect",
    "mancha",
    "hongo",
    "enferm",
    "helad",
    "hiela",
    "hela",
    "granizo",
    "inunda",
    "sequia",
    "muere",
    "murie",
    "podri",
    "roya",
    "rancha",
    "broca",
    "monilia",
    "gorgojo",
    "cogollero",
    "pulgon",
    "amarill",
    "marchit",
    "tizon",
    "piricularia",
)
ESCALATION_STEMS = (
    "persona",
    "humano",
    "tecnico",
    "agronomo",
    "ingenier",
    "asesor",
    "alguien",
    "llamar",
    "llamada",
    "llamen",
    "llamame",
    "urgent",
    "emergencia",
    "reclamo",
    "queja",
)


def _mentions(text: str, stems: Sequence[str]) -> bool:
    words = fold(text).split()
    return any(w.startswith(stem.strip()) for w in words for stem in stems)


class Conversation:
    def __init__(
        self,
        phone: str,
        *,
        config: Config,
        database: Database,
        inference: Inference,
        form: Form,
        knowledge: KnowledgeBase,
        outgoing: Outgoing,
        clock: Clock | None = None,
        max_tokens: int = 300,
        temperature: float = 0.0,
        context_tokens: int | None = None,
        reply_timeout_s: float | None = None,
    ) -> None:
        self.phone = phone
        self.config = config
        self.db = database
        self.inference = inference
        self.form = form
        self.knowledge = knowledge
        self.outgoing = outgoing
        self.clock = clock or Clock(config.timezone)
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.reply_timeout_s = reply_timeout_s or config.reply_timeout_s
        # What the prompt may take: the configured budget, and never more than the model's
        # window minus the reply.
        budget = context_tokens or config.context_tokens
        self.context_tokens = max(256, min(budget, config.model_ctx - max_tokens - 32))
        self.producers = ProducerStore(database)
        self.messages = MessageStore(database)
        self.crop_synonyms = self._crop_synonyms()
        # The same for every request of this form: built once, not per message.
        self.schema = output_schema(self.form.names)
        # Inbound message ids accepted but not answered yet (model overloaded), oldest first.
        self.deferred: list[int] = []
        self._deferred_loaded = False
        self.handled = 0
        self.failures = 0
        self.last_failure: str | None = None
        self.last_latency_ms: int | None = None

    # -- entry points ----------------------------------------------------------------------

    def handle(self, incoming: Incoming) -> Outcome:
        """Answer one producer message (in order with every other message of this producer)."""
        started = self.clock.monotonic()
        role = incoming.role if incoming.role in ROLES else "consulta"
        if incoming.message_id is not None:
            existing = self.messages.by_gateway_id(incoming.message_id)
            if existing is not None:
                return self._replay(existing, role)
        producer, created = self.producers.get_or_create(self.phone)
        try:
            inbound = self.messages.add_inbound(
                producer.id,
                incoming.text,
                gateway_message_id=incoming.message_id,
                role=incoming.role,
                now=self.clock.utcnow(),
            )
        except DuplicateMessage as dup:
            return self._replay(dup.existing, role)
        self.handled += 1
        self._load_deferred(producer, exclude=inbound.id)
        # Strict order: whatever was accepted earlier and is still unanswered goes first.
        if self.deferred:
            self.answer_deferred()
        if self.deferred:
            # Still overloaded: this one waits its turn behind them, without asking again.
            self.deferred.append(inbound.id)
            return self._hold(producer, inbound, role, incoming.source)
        return self._answer(
            producer,
            inbound,
            role=role,
            deadline=incoming.deadline,
            source=incoming.source,
            first_contact=created,
            started=started,
            request_id=incoming.request_id,
        )

    def answer_deferred(self) -> int:
        """Answer messages held back by an overloaded model, oldest first; stops at the first
        that is still refused. Returns how many were answered."""
        answered = 0
        while self.deferred:
            inbound = self.messages.get(self.deferred[0])
            if inbound is None or inbound.status != "received":
                self.deferred.pop(0)
                continue
            producer = self.producers.get_by_id(inbound.producer_id)
            if producer is None:
                self.deferred.pop(0)
                continue
            outcome = self._answer(
                producer,
                inbound,
                role=inbound.role if inbound.role in ROLES else "consulta",
                deadline=self.clock.monotonic() + self.reply_timeout_s,
                # The caller already got the holding reply: the answer must be pushed.
                source="deferred",
                first_contact=False,
                started=self.clock.monotonic(),
                request_id=None,
                retrying=True,
            )
            if outcome.status == "deferred":
                break
            self.deferred.pop(0)
            answered += 1
        return answered

    def fail(self, incoming: Incoming, error: BaseException) -> Outcome:
        """The apology for a message whose handling crashed: stored, logged, not retried."""
        self.failures += 1
        self.last_failure = f"{type(error).__name__}: {error}"
        role = incoming.role if incoming.role in ROLES else "consulta"
        output = _empty_output(role, CRASHED, [])
        try:
            producer, _ = self.producers.get_or_create(self.phone)
            inbound = self._find_or_store_inbound(producer, incoming)
            if inbound.status == "received":
                row = self.messages.record_reply(
                    inbound.id, CRASHED, status="failed", role=role, model_output=output
                )
                if incoming.source not in DIRECT_SOURCES:
                    self.outgoing.deliver(self.phone, CRASHED, reply_to_id=row.id)
        except Exception:
            # The database itself may be what failed; the apology still goes back.
            log.exception("could not record a failed message")
        return Outcome(
            reply=Reply(
                phone=chat_id(self.phone), model_output=output, message_id=incoming.message_id
            ),
            status="failed",
            error=self.last_failure,
        )

    def update_form(self, values: Mapping[str, str], *, source: str) -> dict[str, Any]:
        """Store already-validated values (``POST /form/update``); returns the form state."""
        producer, _ = self.producers.get_or_create(self.phone)
        self.producers.set_fields(producer.id, values, source=source, now=self.clock.utcnow())
        fields = self.producers.fields(producer.id)
        self._after_fields_changed(producer, fields)
        return {
            "phone": chat_id(self.phone),
            "fields": fields,
            "campos_faltantes": self.form.missing(fields),
        }

    def push_alert(self, alert_id: int, text: str) -> int | None:
        """An alert for this producer, delivered in order with the replies."""
        return self.outgoing.deliver(self.phone, text, alert_id=alert_id)

    def snapshot(self) -> dict[str, Any]:
        return {
            "producer": mask_phone(self.phone),
            "handled": self.handled,
            "deferred": len(self.deferred),
            "failures": self.failures,
            "last_failure": self.last_failure,
            "last_latency_ms": self.last_latency_ms,
        }

    # -- answering -------------------------------------------------------------------------

    def _answer(
        self,
        producer: Producer,
        inbound: StoredMessage,
        *,
        role: str,
        deadline: float,
        source: str,
        first_contact: bool,
        started: float,
        request_id: str | None,
        retrying: bool = False,
    ) -> Outcome:
        fields = self.producers.fields(producer.id)
        missing = self.form.missing(fields)
        if expired(deadline):
            # The caller has given up waiting (a timed-out ask is not cancelled in Pykka).
            return self._failed(
                inbound, role, TIMEOUT, missing, "deadline passed before start", source
            )
        history = self.messages.history(producer.id, limit=HISTORY_FETCH)
        built = self._build(producer, fields, inbound, history)
        request = InferenceRequest(
            messages=built.messages,
            deadline=deadline,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            schema=self.schema,
            cache_key=self.phone,
            request_id=request_id or f"msg-{inbound.id}-{uuid.uuid4().hex[:6]}",
        )
        try:
            result = self.inference.generate(request)
        except Overloaded:
            if not retrying:
                self.deferred.append(inbound.id)
                return self._hold(producer, inbound, role, source)
            return Outcome(
                reply=self._reply(_empty_output(role, BUSY, missing), inbound), status="deferred"
            )
        except DeadlineExceeded as exc:
            error = f"DeadlineExceeded: {exc}"
            return self._failed(inbound, role, TIMEOUT, missing, error, source)
        except ModelUnavailable as exc:
            error = f"ModelUnavailable: {exc}"
            return self._failed(inbound, role, UNAVAILABLE, missing, error, source)

        output = parse_output(result.content, self.form.names)
        asked = self._asked_field(fields, inbound, history)
        output["respuesta_chat"] = (
            drop_echoes(
                output["respuesta_chat"],
                producer_said=[
                    inbound.text,
                    *(m.text for m in history.messages if m.direction == "in"),
                ],
                ours=self._own_phrases(history),
            )
            or ECHOED
        )
        output = self._apply(
            producer, fields, inbound, output, asked=asked, first_contact=first_contact
        )
        latency_ms = int((self.clock.monotonic() - started) * 1000)
        metrics = result.metrics
        reply_row = self.messages.record_reply(
            inbound.id,
            output["respuesta_chat"],
            producer_id=producer.id,
            status="answered",
            role=output["role"],
            model_output=output,
            latency_ms=latency_ms,
            prompt_tokens=metrics.prompt_tokens,
            completion_tokens=metrics.generated_tokens,
            now=self.clock.utcnow(),
        )
        self.last_latency_ms = latency_ms
        if source not in DIRECT_SOURCES:
            self.outgoing.deliver(self.phone, output["respuesta_chat"], reply_to_id=reply_row.id)
        log.info(
            "reply",
            producer=mask_phone(self.phone),
            message_id=inbound.id,
            latency_ms=latency_ms,
            prompt_tokens=metrics.prompt_tokens,
            prompt_tokens_reused=metrics.prompt_tokens_reused,
            generated_tokens=metrics.generated_tokens,
            context_tokens=built.estimated_tokens,
            knowledge=list(built.knowledge_ids),
            history_dropped=built.history_dropped,
        )
        return Outcome(reply=self._reply(output, inbound), status="answered")

    def _build(
        self,
        producer: Producer,
        fields: Mapping[str, str],
        inbound: StoredMessage,
        history: History,
    ) -> BuiltContext:
        first_seq = history.total - len(history.messages)
        turns = [
            Turn(
                seq=first_seq + i,
                de="productor" if m.direction == "in" else "agrochat",
                texto=m.text,
            )
            for i, m in enumerate(history.messages)
            if m.id < inbound.id
        ]
        knowledge = rank_knowledge(
            self.knowledge.entries(),
            inbound.text,
            crop=fields.get("cultivo"),
            crop_synonyms=self.crop_synonyms,
        )
        productor = {
            "nombre": producer.name or fields.get("nombre"),
            "estado": producer.status,
            "perfil": {name: fields[name] for name in self.form.names if name in fields},
            "campos_faltantes": self.form.missing(fields),
        }
        return build_context(
            ContextInput(
                mensaje=inbound.text,
                productor=productor,
                historial=turns,
                alertas=recent_alerts(self.db, producer.id, now=self.clock.utcnow()),
                conocimiento=[
                    {"id": s.entry.id, "titulo": s.entry.title, "texto": s.entry.body}
                    for s in knowledge
                ],
                hoy=self.clock.today(),
                form_fields=self.form.names,
            ),
            budget_tokens=self.context_tokens,
        )

    # -- applying what the model proposes ----------------------------------------------------

    def _apply(
        self,
        producer: Producer,
        fields: dict[str, str],
        inbound: StoredMessage,
        output: dict[str, Any],
        *,
        asked: FormField | None,
        first_contact: bool,
    ) -> dict[str, Any]:
        acciones = output["acciones"]
        today = self.clock.today()
        proposed: dict[str, Any] = dict(acciones["actualizar_formulario"])
        accepted: dict[str, str] = {}
        rejected: dict[str, str] = {}

        checked = validate_fields(self.form, proposed, today=today)
        for name, value in checked.values.items():
            if fields.get(name) == value:
                continue
            if self._grounded(self.form.get(name), value, inbound.text, today):
                accepted[name] = value
            else:
                # Not in what the producer wrote: a small model copying the context. Dropped.
                log.info(
                    "ungrounded form value dropped", field=name, producer=mask_phone(self.phone)
                )
        for name, reason in checked.errors.items():
            # Reported to the producer only when it is their answer the model passed on;
            # an invalid value they never wrote is the model's noise.
            if (asked is not None and name == asked.name) or fold(str(proposed[name])) in fold(
                inbound.text
            ):
                rejected[name] = reason
            else:
                log.info("invalid form value dropped", field=name, producer=mask_phone(self.phone))

        # The producer's plain answer to the question we asked last.
        if asked is not None and asked.name not in accepted:
            attempt = validate_value(asked, inbound.text, today=today)
            if isinstance(attempt, Accepted):
                accepted[asked.name] = attempt.value
                rejected.pop(asked.name, None)
            elif asked.name not in rejected and self._looks_like_answer(inbound.text):
                rejected[asked.name] = attempt.reason

        if accepted:
            self.producers.set_fields(
                producer.id, accepted, source="model", now=self.clock.utcnow()
            )
            fields = {**fields, **accepted}
        self._after_fields_changed(producer, fields)

        text = output["respuesta_chat"].strip()
        extra: list[str] = []

        alerta = acciones.get("crear_alerta")
        if alerta is not None and not _mentions(inbound.text, RISK_STEMS):
            # A small model raises alerts on a greeting; only a risk the producer wrote about
            # becomes an alert.
            log.info("model alert dropped: no risk in the message", producer=mask_phone(self.phone))
            alerta = None
        if alerta is not None:
            record_model_alert(
                self.db,
                producer_id=producer.id,
                phone=self.phone,
                level=alerta["nivel"],
                message=alerta["mensaje"],
                now=self.clock.utcnow(),
            )
            if alerta["nivel"] == "alta" and fold(alerta["mensaje"]) not in fold(text):
                extra.append("⚠️ " + alerta["mensaje"])

        escalar = bool(acciones.get("escalar_a_humano"))
        if escalar and not _mentions(inbound.text, ESCALATION_STEMS):
            log.info("model escalation dropped: not asked for", producer=mask_phone(self.phone))
            escalar = False
        if escalar:
            self.producers.update(producer.id, needs_human=True, now=self.clock.utcnow())
            record_audit(
                self.db,
                actor="model",
                action="escalar_a_humano",
                target=f"producer:{producer.id}",
                details={"message_id": inbound.id},
            )
            extra.append(ESCALATED)

        for name, reason in rejected.items():
            spec = self.form.get(name)
            if spec is not None:
                extra.append(f"No pude guardar {spec.label}: {reason}.")

        missing = self.form.missing(fields)
        question = self._closing_question(fields, rejected)
        if question is not None and fold(question) not in fold(text):
            extra.append(question)
        if first_contact:
            text = f"{WELCOME} {text}" if text else WELCOME

        output = {
            **output,
            "respuesta_chat": " ".join([text, *extra]).strip(),
            "acciones": {
                **acciones,
                "actualizar_formulario": accepted,
                "crear_alerta": alerta,
                "escalar_a_humano": escalar,
            },
            "estado": {**output["estado"], "campos_faltantes": missing},
        }
        return output

    def _closing_question(
        self, fields: Mapping[str, str], rejected: Mapping[str, str]
    ) -> str | None:
        """While required fields are missing, the reply ends by asking the next one; a value
        the producer gave that could not be stored is asked again."""
        nxt = self.form.next_missing(fields)
        if nxt is not None:
            return nxt.question
        for name in rejected:
            spec = self.form.get(name)
            if spec is not None:
                return spec.question
        return None

    def _asked_field(
        self, fields: Mapping[str, str], inbound: StoredMessage, history: History
    ) -> FormField | None:
        """The field our previous reply asked for, if this message may be its answer."""
        nxt = self.form.next_missing(fields)
        last_out = next(
            (m for m in reversed(history.messages) if m.direction == "out" and m.id < inbound.id),
            None,
        )
        if last_out is None:
            return None
        candidates = [nxt] if nxt is not None else []
        candidates += [f for f in self.form.fields if f is not nxt]
        for spec in candidates:
            if fold(last_out.text).endswith(fold(spec.question)):
                return spec
        return None

    def _own_phrases(self, history: History) -> list[str]:
        """What agrochat adds to replies itself, and the notes it added in this history."""
        notes = [
            s
            for m in history.messages
            if m.direction == "out"
            for s in sentences(m.text)
            if fold(s).startswith("no pude guardar")
        ]
        return [WELCOME, ESCALATED, *(f.question for f in self.form.fields), *notes]

    @staticmethod
    def _looks_like_answer(text: str) -> bool:
        return "?" not in text and len(text.split()) <= 8

    def _grounded(self, spec: FormField | None, value: str, text: str, today: dt.date) -> bool:
        """Did the producer's own message say this value?"""
        if spec is None:
            return False
        folded = fold(text)
        if spec.type == "text":
            return fold(value) in folded
        if spec.type == "enum" and value not in spec.options:
            # A value outside the known options ("huancayo" as a crop) is only ever the
            # producer's own answer to that field's question, handled by the caller.
            return False
        if spec.units and not any(
            contains_phrase(folded, fold(s)) for synonyms in spec.units.values() for s in synonyms
        ):
            # A bare number in a sentence is rarely this field's ("el 15 de septiembre" is no
            # area); a number the producer gave as this field names its unit.
            return False
        from_text = validate_value(spec, text, today=today)
        if isinstance(from_text, Accepted) and from_text.value == value:
            return True
        return spec.type == "enum" and fold(value) in folded

    def _after_fields_changed(self, producer: Producer, fields: Mapping[str, str]) -> None:
        updates: dict[str, Any] = {}
        name = fields.get("nombre")
        if name and name != producer.name:
            updates["name"] = name
        if producer.status == "nuevo" and not self.form.missing(fields):
            updates["status"] = "activo"
        if updates:
            self.producers.update(producer.id, now=self.clock.utcnow(), **updates)

    # -- replies that are not the model's ---------------------------------------------------

    def _canned_reply(
        self,
        inbound: StoredMessage,
        role: str,
        text: str,
        missing: Sequence[str],
        *,
        status: str,
        source: str,
    ) -> dict[str, Any]:
        """Record a reply that is not the model's and send it where the message came from."""
        output = _empty_output(role, text, missing)
        row = self.messages.record_reply(
            inbound.id,
            text,
            status=status,
            role=role,
            model_output=output,
            now=self.clock.utcnow(),
        )
        if source not in DIRECT_SOURCES:
            self.outgoing.deliver(self.phone, text, reply_to_id=row.id)
        return output

    def _hold(self, producer: Producer, inbound: StoredMessage, role: str, source: str) -> Outcome:
        missing = self.form.missing(self.producers.fields(producer.id))
        output = self._canned_reply(inbound, role, BUSY, missing, status="received", source=source)
        log.warning(
            "model overloaded; message deferred",
            message_id=inbound.id,
            producer=mask_phone(self.phone),
            deferred=len(self.deferred),
        )
        return Outcome(reply=self._reply(output, inbound), status="deferred")

    def _failed(
        self,
        inbound: StoredMessage,
        role: str,
        text: str,
        missing: Sequence[str],
        error: str,
        source: str,
    ) -> Outcome:
        self.failures += 1
        self.last_failure = error
        output = self._canned_reply(inbound, role, text, missing, status="failed", source=source)
        log.warning(
            "message failed", message_id=inbound.id, producer=mask_phone(self.phone), error=error
        )
        return Outcome(reply=self._reply(output, inbound), status="failed", error=error)

    def _replay(self, inbound: StoredMessage, role: str) -> Outcome:
        """The same gateway message again: the answer already given, no model call."""
        previous = self.messages.latest_reply(inbound.id)
        if previous is not None and previous.model_output is not None:
            output = previous.model_output
        else:
            # Accepted but not answered yet (a crash in between, or still deferred).
            output = _empty_output(role, BUSY, [])
        return Outcome(reply=self._reply(output, inbound), status="replayed")

    def _reply(self, output: dict[str, Any], inbound: StoredMessage) -> Reply:
        return Reply(
            phone=chat_id(self.phone),
            model_output=output,
            message_id=inbound.gateway_message_id,
        )

    def _find_or_store_inbound(self, producer: Producer, incoming: Incoming) -> StoredMessage:
        if incoming.message_id is not None:
            existing = self.messages.by_gateway_id(incoming.message_id)
            if existing is not None:
                return existing
        recent = self.messages.history(producer.id, limit=2).messages
        for m in reversed(recent):
            if m.direction == "in" and m.text == incoming.text and m.status == "received":
                return m
        return self.messages.add_inbound(
            producer.id, incoming.text, gateway_message_id=incoming.message_id, role=incoming.role
        )

    def _load_deferred(self, producer: Producer, *, exclude: int) -> None:
        """Once per activation: messages accepted earlier and never answered (the process
        stopped, or the model was overloaded before a passivation) are answered first."""
        if self._deferred_loaded:
            return
        self._deferred_loaded = True
        cutoff = self.clock.utcnow() - DEFERRED_MAX_AGE
        self.messages.expire_unanswered(producer.id, before=cutoff)
        pending = self.messages.unanswered(producer.id, since=cutoff)
        known = set(self.deferred)
        self.deferred.extend(m.id for m in pending if m.id != exclude and m.id not in known)

    def _crop_synonyms(self) -> dict[str, tuple[str, ...]]:
        spec = self.form.get("cultivo")
        return dict(spec.options) if spec is not None else {}
