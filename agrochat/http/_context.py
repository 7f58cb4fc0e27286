"""What the routes are given: the running parts of agrochat, never the actors' live objects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agrochat.config import Config
from agrochat.errors import NotReady

if TYPE_CHECKING:
    from agrochat.actors.inference import InferenceClient
    from agrochat.actors.membership import Ownership
    from agrochat.actors.session import SessionGateway
    from agrochat.actors.whatsapp import Channels, GatewayState, Inbox
    from agrochat.persistence import Database
    from agrochat.supervisor import Supervisor


@dataclass
class AppContext:
    config: Config
    # None while agrochat starts: the HTTP server is up before the actors are.
    supervisor: Supervisor | None = None
    # None until the database is open; routes that need it answer 503 meanwhile.
    database: Database | None = None
    # Extra /health components: name -> callable returning (ok, state), the state in fixed words
    # ("ready", "failed"): anyone may read /health; details belong under /debug.
    health_checks: dict[str, Callable[[], tuple[bool, Any]]] = field(default_factory=dict)
    # Extra /metrics text (Prometheus exposition format) from the parts that keep metrics.
    metrics: list[Callable[[], str]] = field(default_factory=list)
    # How routes reach producers' sessions (/agent, /form/update, the panel's profile edits).
    sessions: SessionGateway | None = None
    # How /chat reaches the model; None: /chat answers 503 (not configured yet).
    inference: InferenceClient | None = None
    # Our WhatsApp numbers (None: no gateway of our own; bridges poll for alerts), where the
    # Cloud API's webhook stores what comes in, and how each number is doing.
    channels: Channels | None = None
    inbox: Inbox | None = None
    gateway_state: GatewayState | None = None
    # Whether agrochat delivers through a gateway of its own (else bridges poll for alerts).
    delivers: bool = False
    # This process's id and which WAHA sessions it owns (several processes, one database).
    ownership: Ownership | None = None

    def require_supervisor(self) -> Supervisor:
        if self.supervisor is None:
            raise NotReady("agrochat is starting; try again in a moment")
        return self.supervisor

    def require_sessions(self) -> SessionGateway:
        if self.sessions is None:
            raise NotReady("conversations are starting; try again in a moment")
        return self.sessions

    def require_database(self) -> Database:
        if self.database is None:
            raise NotReady("the database is not open yet; try again in a moment")
        return self.database

    def require_inbox(self) -> Inbox:
        if self.inbox is None:
            raise NotReady("WhatsApp is starting; try again in a moment")
        return self.inbox
