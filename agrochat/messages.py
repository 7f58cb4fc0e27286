"""The protocol between actors: every message is a frozen dataclass defined here.

Rules (DESIGN.md): asks flow down (HTTP -> session -> inference), everything flowing back is a
tell. A message that expects a reply carries a ``deadline`` (``time.monotonic()`` seconds)
because a timed-out Pykka ask is not cancelled: the receiver drops work whose deadline passed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


def deadline_in(seconds: float) -> float:
    return time.monotonic() + seconds


def expired(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


# --- supervision -------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildSnapshot:
    """What /debug/actors shows of one supervised actor; plain data, safe across threads."""

    id: str
    actor_class: str
    urn: str | None
    alive: bool
    inbox_size: int
    restarts: int
    last_failure: str | None
    last_failure_at: float | None
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Inspect:
    """Ask any actor for its snapshot: plain, immutable data for /debug/actors and tests, never
    the live object (which another thread would read while the actor changes it)."""


# --- inference ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InferenceRequest:
    """Ask the InferenceActor for one completion.

    ``messages`` are chat messages (``{"role", "content"}``); ``cache_key`` names whose KV
    state may be reused (a producer's phone), ``schema`` the JSON schema that constrains the
    output (None: free text).
    """

    messages: tuple[dict[str, str], ...]
    deadline: float
    max_tokens: int = 300
    temperature: float = 0.0
    schema: dict[str, Any] | None = None
    cache_key: str | None = None
    request_id: str | None = None
    # Set by InferenceClient when it queues the request, so the actor can report queue wait.
    submitted_at: float | None = None


@dataclass(frozen=True)
class InferenceMetrics:
    queue_wait_s: float
    prompt_tokens: int
    prompt_tokens_reused: int
    generated_tokens: int
    time_to_first_token_s: float
    total_s: float

    @property
    def tokens_per_s(self) -> float:
        gen_time = self.total_s - self.time_to_first_token_s
        return self.generated_tokens / gen_time if gen_time > 0 else 0.0


@dataclass(frozen=True)
class InferenceResult:
    content: str
    finish_reason: str
    metrics: InferenceMetrics


# --- conversations -----------------------------------------------------------------------


@dataclass(frozen=True)
class Incoming:
    """A producer's message, from the HTTP API, a gateway or the terminal.

    ``message_id`` is the gateway's id when there is one; it makes delivery idempotent. A
    gateway's message is stored before this is told (``agrochat.actors.whatsapp.Inbox``), with
    the number it came to and its media type; the session answers that stored row.
    """

    phone: str
    text: str
    received_at: float
    deadline: float
    source: str = "api"
    message_id: str | None = None
    role: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Reply:
    """What a session answers for one Incoming: the seed's ``model_output``."""

    phone: str
    model_output: dict[str, Any]
    message_id: str | None = None


@dataclass(frozen=True)
class AdminReply:
    """An admin writes to a producer from the panel: through the producer's session, so it is
    stored and sent in order with the conversation; the assistant then stays quiet."""

    phone: str
    text: str
    author: str  # "admin:maria"


@dataclass(frozen=True)
class TakeOver:
    """An admin takes a producer's conversation (``to_assistant`` False) or hands it back; in
    the producer's session, so it takes effect in order with the messages."""

    phone: str
    author: str
    to_assistant: bool = False


@dataclass(frozen=True)
class PushAlert:
    """Tell a producer's session to deliver an alert, so it never interleaves with a reply."""

    alert_id: int
    phone: str
    text: str


@dataclass(frozen=True)
class UpdateForm:
    """Ask a producer's session to store form values already validated (POST /form/update),
    so they are written in order with the conversation."""

    phone: str
    values: dict[str, str]
    source: str = "api"
    # An admin editing the profile in the panel ("admin:maria"): the audit row is written in
    # the same transaction as the values.
    author: str | None = None


@dataclass(frozen=True)
class SessionDone:
    """A session tells its directory it finished one message (so it may be passivated).

    ``failed``: why the message that just ended was answered with an apology, if it was;
    ``crashed``: the actor is dying.
    """

    phone: str
    urn: str
    failed: str | None = None
    crashed: bool = False


# --- alerts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    """Sent by the scheduler's timer thread every AGROCHAT_ALERT_TICK_S seconds."""

    at: float


# --- whatsapp ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Deliver one outbox row, through ``channel`` (our number; None: the first configured);
    the row is persisted before this is told."""

    outbox_id: int
    phone: str
    text: str
    alert_id: int | None = None
    channel: str | None = None


@dataclass(frozen=True)
class Delivered:
    """Told back to whoever sent a Send that carried an alert id, once the gateway accepted it."""

    outbox_id: int
    gateway_message_id: str | None
    alert_id: int | None = None


@dataclass(frozen=True)
class DrainOutbox:
    """The WhatsAppActor's own timer: send outbox rows left pending (a crash, a backoff)."""

    at: float


@dataclass(frozen=True)
class CatchUp:
    """Told by a WAHA event stream once its connection settled: fetch what was written while it
    was down (WAHA replays nothing to a socket that reconnects)."""

    channel: str


@dataclass(frozen=True)
class DeliveryFailed:
    outbox_id: int
    error: str
    alert_id: int | None = None
    retryable: bool = True


# --- membership (several processes on one database) -----------------------------------------


@dataclass(frozen=True)
class Heartbeat:
    """The membership actor's own timer, every AGROCHAT_HEARTBEAT_S: write this process's row,
    take or renew its leases."""

    at: float


@dataclass(frozen=True)
class GatewayOwned:
    """Told to the WhatsAppActor: this process now holds the lease of ``channel`` (a WAHA
    session): open its event stream, and hand over again what is stored and unanswered (a
    process that died may have left it)."""

    channel: str


@dataclass(frozen=True)
class GatewayLost:
    """Told to the WhatsAppActor: this process no longer holds ``channel``'s lease (another
    process took it, or it could not be renewed in time): close its event stream now."""

    channel: str
