"""Everything agrochat runs, built once: the actors' child specs in dependency order, and the
services shared by actors and HTTP routes.

inference  owns the model; talks to no one
membership this process's heartbeat row and its leases (one process owns each WAHA session's
           event stream); tells whatsapp when it gains or loses one
whatsapp   our numbers: stores what producers write and tells "sessions"; sends the outbox
           through the gateway; tells "alerts" what was delivered
sessions   one actor per producer; asks inference, tells whatsapp
alerts     ticks, claims due alerts, tells "sessions" to deliver them in each producer's order
transcription  (AGROCHAT_ASR=on) owns the speech model; talks to no one

The Cloud API's webhook (HTTP) stores messages through the same Inbox the WhatsApp actor uses
and tells "sessions" too.

Whether a WhatsApp gateway exists is decided here, once: without one there is no WhatsApp actor,
replies are not put in the outbox (the seed's bridge reads them from ``/agent``), and alerts wait
for a bridge to poll them. Peers are looked up at call time (``peers.ref(id)``), so a restarted
actor is found again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agrochat.actors import ActorId, Peers, tell
from agrochat.actors.alerts import AlertSchedulerActor
from agrochat.actors.inference import (
    BackendFactory,
    InferenceClient,
    ModelStatus,
    wire_inference,
)
from agrochat.actors.membership import (
    Facts,
    Membership,
    MembershipActor,
    Ownership,
    give_up_margin_s,
    new_process,
)
from agrochat.actors.membership import render_metrics as membership_metrics
from agrochat.actors.session import (
    Clock,
    Conversation,
    Delivery,
    Form,
    SessionDirectory,
    SessionGateway,
    SessionStats,
    VoiceNotes,
    load_form,
    vocabulary,
)
from agrochat.actors.transcription import (
    Limits,
    RecognizerFactory,
    Transcriber,
    TranscriptionActor,
    TranscriptionClient,
)
from agrochat.actors.whatsapp import (
    WAHA_TEXT_LIMIT,
    Channels,
    GatewayState,
    Inbox,
    WhatsAppActor,
    make_channels,
    split_message,
)
from agrochat.config import Config
from agrochat.knowledge import KnowledgeBase
from agrochat.logs import get_logger
from agrochat.messages import GatewayLost, GatewayOwned, Incoming, Send
from agrochat.persistence import (
    Database,
    KnowledgeStore,
    LeaseStore,
    ProcessInfo,
    ProcessStore,
    ProducerLocks,
)
from agrochat.supervisor import ChildSpec

log = get_logger(__name__)

HealthCheck = Callable[[], tuple[bool, Any]]


@dataclass
class Wiring:
    """What ``build`` made: the supervisor's children and what the HTTP routes are given."""

    specs: list[ChildSpec]
    inference: InferenceClient
    sessions: SessionGateway
    # Our WhatsApp numbers; None without a gateway (AGROCHAT_WHATSAPP=none).
    channels: Channels | None = None
    inbox: Inbox | None = None
    gateway_state: GatewayState | None = None
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    metrics: list[Callable[[], str]] = field(default_factory=list)
    # Speech to text for voice notes; None when ASR is off (voice notes get wording.MEDIA).
    transcription: Transcriber | None = None
    # Each producer's turn across processes (PostgreSQL); only counted on SQLite.
    locks: ProducerLocks | None = None
    # This process among the others on the database: who it is, which WAHA sessions it owns,
    # and the extra facts its heartbeat row carries (name -> callable; add to it before start).
    process: ProcessInfo | None = None
    ownership: Ownership | None = None
    heartbeat_facts: dict[str, Callable[[], Any]] = field(default_factory=dict)

    def close(self) -> None:
        """After the actors stopped: the transports' connections (a restarted WhatsApp actor
        reuses them, so it does not close them itself)."""
        if self.channels is not None:
            self.channels.close()
        if self.locks is not None:
            self.locks.close()


def knowledge_base(database: Database, form: Form) -> KnowledgeBase:
    """The base every session reads; its speller knows the cues' words and the form's options."""
    options = [
        w
        for spec in form.fields
        for phrases in spec.options.values()
        for phrase in phrases
        for w in phrase.split()
    ]
    # Crop names are ordinary words to retrieval: measured on bench/data/dev.jsonl, making them
    # select-only (never scored) cost 8 points of right entries (87% -> 79%).
    return KnowledgeBase(KnowledgeStore(database), extra_words=[*vocabulary(), *options])


@dataclass(frozen=True)
class _Gateway:
    """The WhatsApp side, when agrochat has numbers: what sessions send through and what the
    actor and the webhook store incoming messages with."""

    channels: Channels
    state: GatewayState
    inbox: Inbox
    send: Callable[[Send], None]
    spec: ChildSpec


def _gateway(
    config: Config,
    database: Database,
    peers: Peers,
    channels: Channels | None,
    ownership: Ownership,
) -> _Gateway | None:
    if channels is None:
        return None

    def send(message: Send) -> None:
        tell(peers, ActorId.WHATSAPP, message)

    def deliver(incoming: Incoming) -> None:
        tell(peers, ActorId.SESSIONS, incoming)

    state = GatewayState([(c.name, c.kind) for c in channels])
    inbox = Inbox(database, deliver=deliver, state=state, reply_timeout_s=config.reply_timeout_s)
    spec = ChildSpec(
        id=ActorId.WHATSAPP,
        start=lambda: WhatsAppActor.start(
            config,
            database=database,
            channels=channels,
            peers=peers,
            inbox=inbox,
            state=state,
            owned=ownership.owned,
            # Every process alive sends (the outbox is shared): each keeps its share of the rate.
            senders=lambda: ownership.processes_alive,
        ),
    )
    return _Gateway(channels=channels, state=state, inbox=inbox, send=send, spec=spec)


def _conversations(
    config: Config,
    database: Database,
    inference: InferenceClient,
    gateway: _Gateway | None,
    clock: Clock | None,
    transcription: Transcriber | None = None,
) -> Callable[[str], Conversation]:
    """How the directory makes a producer's Conversation: every part shared, built once."""
    form = load_form("perfil")
    knowledge = knowledge_base(database, form)
    # Both gateways take 4096 characters a message (CLOUD_TEXT_LIMIT is the same).
    delivery = Delivery(
        database,
        gateway.send if gateway is not None else None,
        split=lambda text: split_message(text, WAHA_TEXT_LIMIT),
    )
    clock = clock or Clock(config.timezone)
    # Voice notes are heard only with a transcriber and a gateway to fetch them from.
    voice = (
        VoiceNotes(
            database,
            media=gateway.channels,
            transcriber=transcription,
            max_bytes=config.voice_max_bytes,
        )
        if transcription is not None and gateway is not None
        else None
    )

    def conversation(phone: str) -> Conversation:
        return Conversation(
            phone,
            config=config,
            database=database,
            inference=inference,
            form=form,
            knowledge=knowledge,
            delivery=delivery,
            clock=clock,
            phrase=config.phrase,
            voice=voice,
            shared=database.is_postgres,
        )

    return conversation


@dataclass(frozen=True)
class _Speech:
    """Voice notes to text, when AGROCHAT_ASR is on: the actor's child spec, the client the
    conversations and gateways call, and the model's state for /health."""

    spec: ChildSpec
    client: TranscriptionClient
    status: ModelStatus


def _speech(
    config: Config, peers: Peers, recognizer_factory: RecognizerFactory | None
) -> _Speech | None:
    if not config.asr:
        return None
    status = ModelStatus()
    spec = ChildSpec(
        id=ActorId.TRANSCRIPTION,
        start=lambda: TranscriptionActor.start(
            config, status=status, recognizer_factory=recognizer_factory
        ),
    )
    client = TranscriptionClient(
        peers,
        queue_limit=config.asr_queue,
        limits=Limits(max_seconds=config.voice_max_seconds, max_bytes=config.voice_max_bytes),
        timeout_s=config.asr_timeout_s,
        status=status,
    )
    return _Speech(spec=spec, client=client, status=status)


def _membership(
    config: Config,
    database: Database,
    peers: Peers,
    channels: Channels | None,
    process: ProcessInfo,
    facts: Facts,
) -> tuple[Ownership, ChildSpec]:
    """The heartbeat and the leases: every WAHA session is leased (one process owns its event
    stream); Cloud API numbers are not (their webhook may reach any process)."""

    def announce(message: GatewayOwned | GatewayLost) -> None:
        try:
            tell(peers, ActorId.WHATSAPP, message)
        except Exception as exc:
            # Not running (starting, restarting, stopped): it reads the ownership when it
            # starts, so nothing is lost.
            log.debug("whatsapp actor not told", message=repr(message), error=str(exc))

    leased = [c.name for c in channels or () if c.kind == "waha"]
    ownership = Ownership(
        process.id,
        leased,
        margin_s=give_up_margin_s(config.lease_ttl_s),
        announce=announce,
    )
    spec = ChildSpec(
        id=ActorId.MEMBERSHIP,
        start=lambda: MembershipActor.start(
            config,
            membership=Membership(
                process,
                processes=ProcessStore(database),
                leases=LeaseStore(database),
                ownership=ownership,
                ttl_s=config.lease_ttl_s,
                heartbeat_s=config.heartbeat_s,
                facts=facts,
            ),
        ),
    )
    return ownership, spec


def build(
    config: Config,
    database: Database,
    peers: Peers,
    *,
    bind: str | None = None,
    backend_factory: BackendFactory | None = None,
    clock: Clock | None = None,
    recognizer_factory: RecognizerFactory | None = None,
    transcription: Transcriber | None = None,
) -> Wiring:
    """``bind``: where the HTTP server listens, for this process's heartbeat row (default:
    AGROCHAT_BIND); ``backend_factory``: the model (default: what the configuration names);
    ``clock``: the conversations' time; ``recognizer_factory``: the speech model;
    ``transcription``: what hears voice notes instead of the TranscriptionActor (a test double).
    Tests and benchmarks give doubles here and get everything else exactly as production has
    it."""
    # The model: one actor, or one per model server (AGROCHAT_INFERENCE_URL names several).
    model = wire_inference(config, peers, backend_factory=backend_factory)
    inference = model.client
    channels = make_channels(config)
    process = new_process(bind or config.bind)
    facts: dict[str, Callable[[], Any]] = {}
    ownership, membership_spec = _membership(config, database, peers, channels, process, facts)
    gateway = _gateway(config, database, peers, channels, ownership)
    speech = _speech(config, peers, recognizer_factory) if transcription is None else None
    if speech is not None:
        transcription = speech.client
    conversation = _conversations(config, database, inference, gateway, clock, transcription)
    session_stats = SessionStats()
    # On PostgreSQL other processes may answer the same producers: their turns are locked there.
    locks = ProducerLocks(
        database.url if database.is_postgres else None, pool_size=config.lock_connections
    )
    # The heartbeat row says how many producers this process is answering right now.
    facts["producers"] = lambda: len(locks.held())

    specs = list(model.specs)
    if speech is not None:
        # After the model, before the sessions that will call it.
        specs.append(speech.spec)
    # Before the WhatsApp actor: its first heartbeat decides which WAHA sessions it opens.
    specs.append(membership_spec)
    if gateway is not None:
        specs.append(gateway.spec)
    specs += [
        ChildSpec(
            id=ActorId.SESSIONS,
            start=lambda: SessionDirectory.start(
                config,
                peers=peers,
                conversation_factory=conversation,
                stats=session_stats,
                locks=locks,
            ),
        ),
        ChildSpec(
            id=ActorId.ALERTS,
            start=lambda: AlertSchedulerActor.start(
                config, database=database, peers=peers, deliver=gateway is not None
            ),
        ),
    ]

    health_checks: dict[str, HealthCheck] = dict(model.health_checks)
    metrics = [
        *model.metrics,
        session_stats.render,
        locks.render_metrics,
        lambda: membership_metrics(ownership),
    ]
    # Which producers this process is answering now (the others' are on other processes).
    health_checks["producers"] = lambda: (True, f"{len(locks.held())} held")
    if speech is not None:
        # Shown, never failing readiness: a node that cannot hear voice notes still answers
        # every written message, and a voice note then gets a polite "try again".
        asr_status = speech.status
        health_checks["asr"] = lambda: (True, asr_status.health()[1])
        metrics.append(speech.client.stats.render)
    if gateway is not None:
        health_checks["gateway"] = gateway.state.health
    return Wiring(
        specs=specs,
        inference=inference,
        sessions=SessionGateway(peers, reply_timeout_s=config.reply_timeout_s),
        channels=gateway.channels if gateway is not None else None,
        inbox=gateway.inbox if gateway is not None else None,
        gateway_state=gateway.state if gateway is not None else None,
        health_checks=health_checks,
        transcription=transcription,
        metrics=metrics,
        locks=locks,
        process=process,
        ownership=ownership,
        heartbeat_facts=facts,
    )
