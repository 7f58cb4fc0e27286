"""Conversation: one producer's dialogue, as plain logic (the SessionActor is only its mailbox).

It sequences the stages of a reply, each of them a pure function or small class with its own
tests:

1. accept: store the message (idempotent on the gateway's id); a voice note is heard first
   (``_voice``: fetched, transcribed) and its transcript is then the message's text;
2. read (``_signals``) and find what we know (``KnowledgeBase.search``);
3. understand (``_understand``): code decides, the model only breaks a close tie;
4. review what the message proposes (``_review``): form values, an alert, a person;
5. compose the reply (``_compose``), and optionally let a capable model reword it (``_phrase``);
6. persist it all in one transaction and hand it to the gateway (``_persist``).

The model is never required: when it is overloaded, late or down, the tie it would have broken
is broken by retrieval's ranking and the producer still gets a vetted answer at once.

Nothing here promises a later answer ("te respondo en breve"): without a gateway of ours
(``AGROCHAT_WHATSAPP=none``, a bridge polling the seed's API) a later answer could reach nobody,
so a reply that cannot be given now asks the producer to write again (``wording.TIMEOUT``).
"""

from __future__ import annotations

import datetime as dt
import enum
import time
import uuid
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from agrochat import wording
from agrochat.actors.session import _phrase, _prompt
from agrochat.actors.session._compose import Advice, Profile, compose, team_alert
from agrochat.actors.session._extract import extract_fields
from agrochat.actors.session._forms import Form, FormField
from agrochat.actors.session._persist import Delivery, Recorder
from agrochat.actors.session._review import Review, review
from agrochat.actors.session._signals import Signals, read_signals, without_instructions
from agrochat.actors.session._understand import (
    Intent,
    ModelReading,
    Understanding,
    decide,
    needs_model,
    options,
)
from agrochat.actors.session._voice import Heard, VoiceNotes
from agrochat.actors.transcription import LOW_CONFIDENCE
from agrochat.config import Config
from agrochat.errors import AgrochatError
from agrochat.knowledge import Hit, KnowledgeBase
from agrochat.logs import get_logger
from agrochat.messages import Incoming, InferenceRequest, InferenceResult, Reply, expired
from agrochat.model_output import build_output, canned_output
from agrochat.persistence import (
    Database,
    DuplicateMessage,
    History,
    MessageStatus,
    MessageStore,
    Producer,
    ProducerStore,
    StoredMessage,
    record_audit,
    utcnow,
)
from agrochat.phones import chat_id
from agrochat.text import fold, mask_phone

log = get_logger(__name__)

# Sources whose reply the caller delivers itself (the seed's bridge reads /agent's answer; the
# terminal prints it). Any other source is a gateway we own: its replies go through the outbox.
DIRECT_SOURCES = frozenset({"api", "terminal"})
# How long an accepted, unanswered message stays worth answering (WhatsApp's free-reply window).
UNANSWERED_MAX_AGE = dt.timedelta(hours=24)
HISTORY_FETCH = 6


class Inference(Protocol):
    """Raises Overloaded (queue full), DeadlineExceeded, ModelUnavailable."""

    def generate(self, request: InferenceRequest) -> InferenceResult: ...


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


class Status(enum.StrEnum):
    ANSWERED = "answered"
    FAILED = "failed"
    REPLAYED = "replayed"
    HELD = "held"  # a person on the team has the conversation


@dataclass(frozen=True)
class Outcome:
    """What handling one message did, for the actor's snapshot and the directory."""

    reply: Reply
    status: Status
    error: str | None = None


@dataclass(frozen=True)
class Understood:
    """A message read, searched and understood: what compose and review work from."""

    signals: Signals
    hits: Sequence[Hit]
    understanding: Understanding
    asked: FormField | None
    model_tokens: tuple[int, int] | None = None  # prompt, generated


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
        delivery: Delivery,
        clock: Clock | None = None,
        phrase: bool = False,
        voice: VoiceNotes | None = None,
        shared: bool = False,
    ) -> None:
        """``phrase``: let the model reword composed answers (AGROCHAT_PHRASE); ``voice``:
        how voice notes are heard (None: no transcriber, they get ``wording.MEDIA``);
        ``shared``: other processes answer this producer too (PostgreSQL), so what was stored
        before a message is looked for at every turn, not once per activation."""
        self.phone = phone
        self.config = config
        self.inference = inference
        self.form = form
        self.knowledge = knowledge
        self.delivery = delivery
        self.clock = clock or Clock(config.timezone)
        self.phrase = phrase
        self.voice = voice
        self.shared = shared
        self.reply_timeout_s = config.reply_timeout_s
        self.producers = ProducerStore(database)
        self.messages = MessageStore(database)
        self.recorder = Recorder(database, delivery)
        spec = form.get("cultivo")
        self.crop_synonyms: dict[str, tuple[str, ...]] = dict(spec.options) if spec else {}
        self._recovered = False
        self.handled = 0
        self.failures = 0
        self.last_failure: str | None = None
        self.last_latency_ms: int | None = None

    # -- entry points ----------------------------------------------------------------------

    def handle(self, incoming: Incoming) -> Outcome:
        """Answer one producer message (in order with every other message of this producer).

        A gateway's message arrives already stored as ``received`` (the WhatsApp inbox keeps it
        before telling us): that row is answered. Any other message seen before is replayed.
        """
        started = self.clock.monotonic()
        producer, _ = self.producers.get_or_create(self.phone)
        inbound: StoredMessage | None = None
        if incoming.message_id is not None:
            # This producer's message with that id only: ids come from the caller, and another
            # producer's must never replay their reply here.
            existing = self.messages.by_gateway_id(producer.id, incoming.message_id)
            if existing is not None and existing.status != MessageStatus.RECEIVED:
                return self._replay(existing, incoming.role)
            inbound = existing
        if inbound is None:
            try:
                inbound = self.messages.add_inbound(
                    producer.id,
                    incoming.text,
                    gateway_message_id=incoming.message_id,
                    role=incoming.role,
                    now=self.clock.utcnow(),
                )
            except DuplicateMessage as dup:
                return self._replay(dup.existing, incoming.role)
        self.handled += 1
        deliver = incoming.source not in DIRECT_SOURCES
        if producer.taken_over:
            return self._hold(producer, inbound, deliver=deliver)
        # Strict order: whatever was accepted earlier and never answered goes first.
        self._recover(producer, before=inbound.id)
        return self._respond(
            producer,
            inbound,
            deadline=incoming.deadline,
            deliver=deliver,
            started=started,
            request_id=incoming.request_id,
        )

    def fail(self, incoming: Incoming, error: BaseException) -> Outcome:
        """The apology for a message whose handling crashed: stored, logged, not retried."""
        self.failures += 1
        self.last_failure = f"{type(error).__name__}: {error}"
        output = canned_output(incoming.role, wording.CRASHED)
        try:
            producer, _ = self.producers.get_or_create(self.phone)
            inbound = self._find_or_store_inbound(producer, incoming)
            if inbound.status == MessageStatus.RECEIVED:
                self.recorder.record(
                    producer,
                    inbound,
                    output,
                    Review(),
                    status=Status.FAILED,
                    deliver=incoming.source not in DIRECT_SOURCES,
                    latency_ms=None,
                    now=self.clock.utcnow(),
                )
        except Exception:
            # The database itself may be what failed; the apology still goes back.
            log.exception("could not record a failed message")
        return Outcome(
            reply=Reply(
                phone=chat_id(self.phone), model_output=output, message_id=incoming.message_id
            ),
            status=Status.FAILED,
            error=self.last_failure,
        )

    def update_form(
        self, values: Mapping[str, str], *, source: str, author: str | None = None
    ) -> dict[str, Any]:
        """Store already-validated values (``POST /form/update``, the panel); the form state.

        ``author`` (an admin in the panel): the audit row goes in the same transaction as the
        values, so neither is stored without the other.
        """
        producer, _ = self.producers.get_or_create(self.phone)
        now = self.clock.utcnow()
        with self.recorder.db.tx():
            before = self.producers.fields(producer.id)
            self.producers.set_fields(producer.id, values, source=source, now=now)
            if author is not None:
                record_audit(
                    self.recorder.db,
                    actor=author,
                    action="producer.profile_update",
                    target=f"producer:{producer.id}",
                    details={
                        "fields": dict(values),
                        "before": {name: before.get(name) for name in values},
                    },
                    now=now,
                )
            fields = self.producers.fields(producer.id)
            updates: dict[str, Any] = {}
            if fields.get("nombre") and fields["nombre"] != producer.name:
                updates["name"] = fields["nombre"]
            if producer.status == "nuevo" and not self.form.missing(fields):
                updates["status"] = "activo"
            if updates:
                self.producers.update(producer.id, now=now, **updates)
        return {
            "phone": chat_id(self.phone),
            "fields": fields,
            "campos_faltantes": self.form.missing(fields),
        }

    def push_alert(self, alert_id: int, text: str) -> list[int]:
        """An alert for this producer, delivered in order with the replies; its outbox rows."""
        producer = self.producers.get(self.phone)
        channel = producer.channel if producer is not None else None
        sends = self.delivery.enqueue(self.phone, text, alert_id=alert_id, channel=channel)
        self.delivery.notify(sends)
        return [send.outbox_id for send in sends]

    def admin_reply(self, text: str, *, author: str) -> dict[str, Any]:
        """A person on the team writes to the producer: stored as theirs, sent through the
        outbox, and the conversation is theirs until they hand it back (the assistant is quiet
        meanwhile)."""
        producer, _ = self.producers.get_or_create(self.phone)
        now = self.clock.utcnow()
        with self.recorder.db.tx():
            message = self.messages.add_outbound(producer.id, text, author=author, now=now)
            if not producer.taken_over:
                self.producers.update(producer.id, now=now, taken_over=True, taken_over_by=author)
            record_audit(
                self.recorder.db,
                actor=author,
                action="respuesta_humana",
                target=f"producer:{producer.id}",
                details={"message_id": message.id},
            )
            sends = self.delivery.enqueue(
                producer.phone, text, channel=producer.channel, reply_to_id=message.id
            )
        self.delivery.notify(sends)
        log.info("admin replied", message_id=message.id, parts=len(sends))
        return {"message_id": message.id, "outbox_ids": [s.outbox_id for s in sends]}

    def take_over(self, *, author: str, to_assistant: bool) -> dict[str, Any]:
        """An admin takes the conversation, or hands it back to the assistant (which also
        closes the "waiting for a person" flag: a person has dealt with it)."""
        producer, _ = self.producers.get_or_create(self.phone)
        now = self.clock.utcnow()
        with self.recorder.db.tx():
            if to_assistant:
                self.producers.update(
                    producer.id, now=now, taken_over=False, taken_over_by=None, needs_human=False
                )
            else:
                self.producers.update(producer.id, now=now, taken_over=True, taken_over_by=author)
            record_audit(
                self.recorder.db,
                actor=author,
                action="devolver_al_asistente" if to_assistant else "tomar_conversacion",
                target=f"producer:{producer.id}",
                details={},
            )
        return {"phone": chat_id(self.phone), "taken_over": not to_assistant}

    def snapshot(self) -> dict[str, Any]:
        return {
            "producer": mask_phone(self.phone),
            "handled": self.handled,
            "failures": self.failures,
            "last_failure": self.last_failure,
            "last_latency_ms": self.last_latency_ms,
        }

    # -- answering -------------------------------------------------------------------------

    def _respond(
        self,
        producer: Producer,
        inbound: StoredMessage,
        *,
        deadline: float,
        deliver: bool,
        started: float,
        request_id: str | None,
    ) -> Outcome:
        """Whatever the message is: text answered, a voice note heard then answered, any
        other media told we only read text."""
        if inbound.is_voice and self.voice is not None:
            return self._voice_note(
                producer,
                inbound,
                deadline=deadline,
                deliver=deliver,
                started=started,
                request_id=request_id,
            )
        if inbound.media_type is not None:
            return self._canned(producer, inbound, wording.MEDIA, deliver=deliver)
        return self._answer(
            producer,
            inbound,
            deadline=deadline,
            deliver=deliver,
            started=started,
            request_id=request_id,
        )

    def _voice_note(
        self,
        producer: Producer,
        inbound: StoredMessage,
        *,
        deadline: float,
        deliver: bool,
        started: float,
        request_id: str | None,
    ) -> Outcome:
        """The transcript is the producer's message: stored as its text (with how sure the
        transcriber was) and answered like a written one; a doubtful one is asked again."""
        assert self.voice is not None
        heard = self.voice.hear(producer, inbound, deadline=deadline)
        transcript = heard.transcript
        if transcript is None:
            if heard.retry and self.messages.latest_reply(inbound.id) is None:
                return self._retry_later(producer, inbound, heard, deliver=deliver)
            text = wording.VOICE_NOT_RECEIVED if heard.retry else heard.reply
            return self._failed(producer, inbound, text, heard.error, deliver)
        text = transcript.text.strip()
        self.messages.set_transcript(inbound.id, text, transcript.confidence)
        inbound = replace(inbound, text=text, transcript_confidence=transcript.confidence)
        if transcript.confidence < LOW_CONFIDENCE or not text:
            return self._canned(producer, inbound, wording.VOICE_UNCLEAR, deliver=deliver)
        return self._answer(
            producer,
            inbound,
            deadline=deadline,
            deliver=deliver,
            started=started,
            request_id=request_id,
        )

    def _retry_later(
        self, producer: Producer, inbound: StoredMessage, heard: Heard, *, deliver: bool
    ) -> Outcome:
        """The first time a note cannot be had or heard for a passing reason: the producer is
        told, and the message stays ``received`` so that it is tried once more (the WhatsApp
        actor's sweep of unanswered messages, or this producer's next activation); a second
        failure is final (``latest_reply`` shows this apology was given)."""
        self.failures += 1
        self.last_failure = heard.error
        log.warning("voice note to be tried again", message_id=inbound.id, error=heard.error)
        missing = self.form.missing(self.producers.fields(producer.id))
        output = canned_output(inbound.role, heard.reply, missing)
        self.recorder.record(
            producer,
            inbound,
            output,
            Review(),
            status=MessageStatus.RECEIVED,
            deliver=deliver,
            latency_ms=None,
            now=self.clock.utcnow(),
        )
        return Outcome(reply=self._reply(output, inbound), status=Status.FAILED, error=heard.error)

    def _answer(
        self,
        producer: Producer,
        inbound: StoredMessage,
        *,
        deadline: float,
        deliver: bool,
        started: float,
        request_id: str | None,
    ) -> Outcome:
        stored = self.producers.fields(producer.id)
        now, today = self.clock.utcnow(), self.clock.today()
        if expired(deadline):
            # The caller has given up waiting (a timed-out ask is not cancelled in Pykka).
            return self._failed(
                producer, inbound, wording.TIMEOUT, "deadline passed before start", deliver
            )
        history = self.messages.history(producer.id, limit=HISTORY_FETCH)
        # The welcome (which asks for their data) goes with a new producer's first message,
        # however the producer row came to be (the gateway's inbox, the panel, this message).
        first_contact = bool(self.form.missing(stored)) and not any(
            m.id < inbound.id for m in history.messages
        )
        request_id = request_id or f"msg-{inbound.id}-{uuid.uuid4().hex[:6]}"
        understood = self._understand(inbound, stored, history, today, deadline, request_id)
        understanding = understood.understanding
        decision = review(
            understanding,
            understood.signals,
            form=self.form,
            stored=stored,
            asked=understood.asked,
            producer_status=producer.status,
            text=inbound.text,
            today=today,
        )
        output = self._reply_output(
            producer,
            understood,
            decision,
            stored=stored,
            first_contact=first_contact,
            today=today,
            deadline=deadline,
            request_id=request_id,
        )
        latency_ms = int((self.clock.monotonic() - started) * 1000)
        tokens = understood.model_tokens
        written = self.recorder.record(
            producer,
            inbound,
            output,
            decision,
            status=Status.ANSWERED,
            deliver=deliver,
            latency_ms=latency_ms,
            prompt_tokens=tokens[0] if tokens else None,
            completion_tokens=tokens[1] if tokens else None,
            now=now,
        )
        self.last_latency_ms = latency_ms
        log.info(
            "reply",
            message_id=inbound.id,
            reply_id=written.reply.id,
            intent=understanding.intent.value,
            decided_by=understanding.decided_by,
            entry=understanding.entry_id,
            no_answer=understanding.no_answer,
            hits=[(h.entry_id, h.score) for h in understood.hits[:3]],
            latency_ms=latency_ms,
        )
        return Outcome(reply=self._reply(output, inbound), status=Status.ANSWERED)

    def _reply_output(
        self,
        producer: Producer,
        understood: Understood,
        decision: Review,
        *,
        stored: Mapping[str, str],
        first_contact: bool,
        today: dt.date,
        deadline: float,
        request_id: str,
    ) -> dict[str, Any]:
        """The seed's model_output for this message: the composed text (reworded when the
        model may), the vetted entry quoted, the values, the alert for the team."""
        understanding = understood.understanding
        entry = self.knowledge.entry(understanding.entry_id) if understanding.entry_id else None
        advice = Advice.of(entry) if entry is not None else None
        after = {**stored, **decision.fields}
        missing = self.form.missing(after)
        profile = Profile(name=decision.fields.get("nombre") or producer.name, fields=after)
        text = compose(
            understanding,
            understood.signals,
            decision,
            advice=advice,
            profile=profile,
            form=self.form,
            missing_after=missing,
            first_contact=first_contact,
            today=today,
        )
        if advice is not None and self.phrase:
            text = self._phrase(text, advice, profile, deadline, request_id)
        topic = entry.topic if entry is not None and entry.topic else None
        return build_output(
            role=understanding.role,
            text=text,
            fields=decision.fields,
            alert=team_alert(decision.alert_level, entry, after.get("cultivo")),
            escalate=decision.escalate,
            topic=topic or ("registro" if understanding.intent is Intent.REGISTRATION else "otro"),
            answered=advice is not None,
            missing=missing,
            knowledge=[advice.id] if advice is not None else [],
        )

    def _understand(
        self,
        inbound: StoredMessage,
        stored: Mapping[str, str],
        history: History,
        today: dt.date,
        deadline: float,
        request_id: str,
    ) -> Understood:
        words = self.knowledge.words(inbound.text)
        signals = read_signals(inbound.text, words, self.crop_synonyms)
        if signals.instruction:
            # Orders to agrochat change nothing; the question they wrap is what is looked up.
            words = self.knowledge.words(without_instructions(inbound.text))
        earlier: list[str] = []
        earlier_crops: tuple[str, ...] = ()
        if signals.followup:
            previous = self._previous_question(history, inbound)
            if previous is not None:
                earlier = self.knowledge.words(previous.text)
                earlier_crops = read_signals(previous.text, earlier, self.crop_synonyms).crops
        crops = list(signals.crops or earlier_crops)
        if not crops and stored.get("cultivo"):
            crops = [stored["cultivo"]]
        hits = self.knowledge.search(words, crops=crops, earlier=earlier)
        asked = self._asked_field(stored, inbound, history)
        # Only a plain reply is read as a whole value for the asked field (a question, a
        # greeting or talk about the chacra is no name).
        plain = not (
            signals.question or signals.only_social or signals.asks_person or signals.farming
        ) or (asked is not None and asked.type == "enum" and not signals.question)
        fields = extract_fields(inbound.text, self.form, today=today, asked=asked, plain=plain)
        fields = {k: v for k, v in fields.items() if stored.get(k) != v}
        # A short reply right after we asked for a field is an answer to it, valid or not.
        answering = asked is not None and "?" not in inbound.text and len(words) <= 4
        reading, tokens = None, None
        if needs_model(signals, hits, fields, answering=answering):
            reading, tokens = self._ask_model(inbound.text, hits, deadline, request_id)
        understanding = decide(signals, hits, fields, reading, answering=answering)
        return Understood(
            signals=signals,
            hits=hits,
            understanding=understanding,
            asked=asked,
            model_tokens=tokens,
        )

    def _ask_model(
        self, text: str, hits: Sequence[Hit], deadline: float, request_id: str
    ) -> tuple[ModelReading | None, tuple[int, int] | None]:
        shown = []
        for hit in options(hits):
            entry = self.knowledge.entry(hit.entry_id)
            if entry is not None:
                shown.append(_prompt.Option(title=entry.title, answer=entry.answer))
        request = InferenceRequest(
            messages=_prompt.messages(text, shown),
            deadline=deadline,
            max_tokens=_prompt.MAX_TOKENS,
            schema=_prompt.SCHEMA,
            request_id=request_id,
        )
        try:
            result = self.inference.generate(request)
        except AgrochatError as exc:
            # Overloaded, late or down: the rules' own choice stands (see the module's note).
            log.info("model not consulted", reason=type(exc).__name__)
            return None, None
        metrics = result.metrics
        return (
            _prompt.parse_reading(result.content, len(shown)),
            (metrics.prompt_tokens, metrics.generated_tokens),
        )

    def _phrase(
        self, text: str, advice: Advice, profile: Profile, deadline: float, request_id: str
    ) -> str:
        request = InferenceRequest(
            messages=_phrase.messages(text),
            deadline=deadline,
            max_tokens=_phrase.MAX_TOKENS,
            schema=_phrase.SCHEMA,
            request_id=f"{request_id}-phrase",
        )
        try:
            rewritten = _phrase.parse(self.inference.generate(request).content)
        except AgrochatError:
            return text
        allowed = [advice.answer, *(profile.fields.values()), profile.name or ""]
        if rewritten is None or not _phrase.keeps_the_facts(rewritten, text, allowed):
            log.info("rewording dropped: it changed the facts")
            return text
        return rewritten

    # -- what the history says ---------------------------------------------------------------

    def _asked_field(
        self, stored: Mapping[str, str], inbound: StoredMessage, history: History
    ) -> FormField | None:
        """The field our previous reply asked for, if this message may be its answer."""
        last_out = next(
            (m for m in reversed(history.messages) if m.direction == "out" and m.id < inbound.id),
            None,
        )
        if last_out is None:
            # Nothing said yet here (a producer registered elsewhere, history from another
            # channel): a bare option of the first missing choice ("papa", "goteo") answers it,
            # as it would the question every reply ends with.
            missing = [self.form.get(n) for n in self.form.missing(stored)]
            first = missing[0] if missing else None
            return first if first is not None and first.type == "enum" else None
        folded = fold(last_out.text)
        for spec in self.form.fields:
            if folded.endswith(fold(spec.question)):
                return spec
        return None

    @staticmethod
    def _previous_question(history: History, inbound: StoredMessage) -> StoredMessage | None:
        return next(
            (m for m in reversed(history.messages) if m.direction == "in" and m.id < inbound.id),
            None,
        )

    # -- replies that are not answers ---------------------------------------------------------

    def _failed(
        self,
        producer: Producer,
        inbound: StoredMessage,
        text: str,
        error: str,
        deliver: bool,
    ) -> Outcome:
        self.failures += 1
        self.last_failure = error
        log.warning("message failed", message_id=inbound.id, error=error)
        outcome = self._canned(producer, inbound, text, deliver=deliver, status=Status.FAILED)
        return Outcome(reply=outcome.reply, status=Status.FAILED, error=error)

    def _canned(
        self,
        producer: Producer,
        inbound: StoredMessage,
        text: str,
        *,
        deliver: bool,
        status: Status = Status.ANSWERED,
    ) -> Outcome:
        """A fixed reply, stored and sent like any other (a photo, a sticker: not read yet; an
        apology)."""
        missing = self.form.missing(self.producers.fields(producer.id))
        output = canned_output(inbound.role, text, missing)
        self.recorder.record(
            producer,
            inbound,
            output,
            Review(),
            status=status,
            deliver=deliver,
            latency_ms=None,
            now=self.clock.utcnow(),
        )
        return Outcome(reply=self._reply(output, inbound), status=status)

    def _hold(self, producer: Producer, inbound: StoredMessage, *, deliver: bool) -> Outcome:
        """A person on the team has this conversation: the message is theirs to answer. Only a
        caller that shows our answer itself (the seed's bridge) is told so."""
        if inbound.is_voice and self.voice is not None:
            # The person answering reads the transcript and plays the note in the panel;
            # nothing is said to the producer about how it went.
            heard = self.voice.hear(
                producer, inbound, deadline=self.clock.monotonic() + self.reply_timeout_s
            )
            if heard.transcript is not None:
                transcript = heard.transcript
                self.messages.set_transcript(
                    inbound.id, transcript.text.strip(), transcript.confidence
                )
            else:
                log.info("held voice note not heard", message_id=inbound.id, error=heard.error)
        self.messages.hold(inbound.id)
        log.info("message held for the team", message_id=inbound.id, by=producer.taken_over_by)
        text = "" if deliver else wording.WITH_A_PERSON
        output = canned_output(inbound.role, text)
        return Outcome(reply=self._reply(output, inbound), status=Status.HELD)

    def _replay(self, inbound: StoredMessage, role: str | None) -> Outcome:
        """The same gateway message again: the answer already given, no work done."""
        previous = self.messages.latest_reply(inbound.id)
        if previous is not None and previous.model_output is not None:
            output = previous.model_output
        else:
            # Accepted but not answered yet (a crash in between): the next activation answers
            # it through a gateway of ours, or marks it failed without one; promise nothing.
            output = canned_output(role, wording.TIMEOUT)
        return Outcome(reply=self._reply(output, inbound), status=Status.REPLAYED)

    def _reply(self, output: dict[str, Any], inbound: StoredMessage) -> Reply:
        return Reply(
            phone=chat_id(self.phone), model_output=output, message_id=inbound.gateway_message_id
        )

    def _find_or_store_inbound(self, producer: Producer, incoming: Incoming) -> StoredMessage:
        if incoming.message_id is not None:
            existing = self.messages.by_gateway_id(producer.id, incoming.message_id)
            if existing is not None:
                return existing
        recent = self.messages.history(producer.id, limit=2).messages
        for m in reversed(recent):
            received = m.status == MessageStatus.RECEIVED
            if m.direction == "in" and m.text == incoming.text and received:
                return m
        return self.messages.add_inbound(
            producer.id, incoming.text, gateway_message_id=incoming.message_id, role=incoming.role
        )

    def _recover(self, producer: Producer, *, before: int) -> None:
        """Once per activation: messages accepted earlier and never answered (the process
        stopped in between) are answered first, through the gateway, oldest first.

        With other processes (``shared``) this runs at every turn, under the producer's lock:
        a message another process stored just before this one (a webhook that landed there)
        may still be waiting for its turn, and it is older, so it is answered first here and
        found answered there."""
        if self._recovered and not self.shared:
            return
        self._recovered = True
        cutoff = self.clock.utcnow() - UNANSWERED_MAX_AGE
        self.messages.expire_unanswered(producer.id, before=cutoff)
        if not self.delivery.active:
            # Without a gateway of ours (AGROCHAT_WHATSAPP=none) an answer made now reaches
            # nobody: the bridge that asked got an error or "escríbeme de nuevo", and /agent
            # answers only the message it was given. Answering anyway would only put replies
            # the producer never saw into the history (the next message would be read as the
            # answer to a question never asked). They are marked failed, for the panel to show.
            given_up = self.messages.fail_unanswered(producer.id, before_id=before)
            if given_up:
                log.warning(
                    "earlier messages left unanswered: no gateway to answer them", n=given_up
                )
            return
        for inbound in self.messages.unanswered(producer.id, since=cutoff):
            if inbound.id >= before:
                # Later ones are in this session's mailbox already (a gateway's inbox stores
                # each message before telling us); they come in their turn.
                continue
            self._respond(
                producer,
                inbound,
                deadline=self.clock.monotonic() + self.reply_timeout_s,
                deliver=self.delivery.active,
                started=self.clock.monotonic(),
                request_id=None,
            )
            producer = self.producers.get_by_id(producer.id) or producer
