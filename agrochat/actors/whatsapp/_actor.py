"""WhatsAppActor: agrochat's numbers, both ways; a thin Pykka shell around the Inbox (what comes
in) and the OutboxSender (what goes out).

In: each WAHA number has its event stream (``WahaEventStream``, a websocket on a thread of its
own, owned and stopped by this actor) in the one process that holds the number's lease (several
processes may share a database: the others stand by, see agrochat.actors.membership; they are
told ``GatewayOwned`` / ``GatewayLost`` as the lease moves, and on ``GatewayOwned`` hand over
again what a process that died left stored and unanswered); the stream tells this actor every
event, in the order WAHA sent it, and ``CatchUp`` once a connection settled, when WAHA is asked
for what was written while the socket was down. The Cloud API's webhook arrives over HTTP (on
any process) and goes through the same Inbox there (Meta wants a 200 fast, after the message is
stored). Every producer message is stored, handed to its session, marked read and answered with
"escribiendo…" until the reply.

Out: takes ``Send`` (an outbox row already persisted by whoever tells it), sends it through the
row's channel and tells the alert scheduler ``Delivered`` / ``DeliveryFailed`` for rows that
carry an alert. On start, and then every ``drain_interval_s``, it drains the outbox (rows left
pending by a crash, waiting out a retry backoff or the send rate) and hands over again messages
that were stored but never answered. One actor sends, so sends are in the order of the
``Send``s.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

import pykka

from agrochat.actors._common import ActorId, Peers, Ticker, tell
from agrochat.actors.whatsapp._channels import Channel, Channels
from agrochat.actors.whatsapp._inbound import (
    DeliveryStatus,
    InboundMessage,
    Reaction,
    SessionStatus,
)
from agrochat.actors.whatsapp._inbox import ANSWERABLE_FOR, Accepted, Inbox
from agrochat.actors.whatsapp._outgoing import SendRateLimiter
from agrochat.actors.whatsapp._sender import DRAIN_BATCH, OutboxSender, Outcome
from agrochat.actors.whatsapp._state import GatewayState
from agrochat.actors.whatsapp._transports import TransportError, WahaClient
from agrochat.actors.whatsapp._waha_events import WahaEventStream
from agrochat.config import Config
from agrochat.logs import get_logger
from agrochat.messages import CatchUp, DrainOutbox, GatewayLost, GatewayOwned, Inspect, Send
from agrochat.persistence import AlertStore, Database, MessageStore, OutboxStore, utcnow
from agrochat.supervisor import Supervised

log = get_logger(__name__)

# A catch-up starts a little before the newest message we stored: the phone's clock (WAHA's
# timestamps) and ours differ, and a message seen twice is dropped anyway.
CATCH_UP_SLACK = dt.timedelta(minutes=5)

StreamFactory = Callable[..., WahaEventStream]


class WhatsAppActor(Supervised, pykka.ThreadingActor):
    def __init__(
        self,
        config: Config,
        *,
        database: Database,
        channels: Channels,
        peers: Peers,
        inbox: Inbox,
        state: GatewayState | None = None,
        drain_interval_s: float | None = None,
        sender: OutboxSender | None = None,
        stream_factory: StreamFactory = WahaEventStream,
        owned: Callable[[], Collection[str]] | None = None,
        senders: Callable[[], int | None] | None = None,
    ) -> None:
        """``owned``: the WAHA sessions this process holds now (read at start; then the
        membership tells ``GatewayOwned`` / ``GatewayLost``); None: all of them. ``senders``:
        how many processes send through these numbers now (read at every drain; None: one),
        so that together they keep the send rate."""
        super().__init__()
        self.config = config
        self.peers = peers
        self.channels = channels
        self.inbox = inbox
        self.state = state
        self.messages = MessageStore(database)
        self.drain_interval_s = drain_interval_s or config.alert_tick_s
        self.sender = sender or OutboxSender(
            OutboxStore(database),
            channels,
            alerts=AlertStore(database),
            template=config.alert_template,
            lease_s=config.send_lease_s,
            limiter=lambda: SendRateLimiter(
                per_recipient_per_min=config.send_per_minute or None,
                global_per_min=config.send_global_per_minute or None,
            ),
        )
        self.stream_factory = stream_factory
        self.owned = owned
        self.senders = senders
        # By channel: only the WAHA sessions this process holds have one.
        self.streams: dict[str, WahaEventStream] = {}
        self._timer: Ticker | None = None
        self._soon: threading.Timer | None = None
        self._started_at = utcnow()
        # Messages handed over again by the sweep in this run: each at most once.
        self._swept: set[str] = set()
        self._swept_at_start = False
        self.errors = 0
        self.last_error: str | None = None
        self.caught_up = 0

    def on_start(self) -> None:
        self._timer = Ticker(
            self.actor_ref,
            self.drain_interval_s,
            message=lambda at: DrainOutbox(at=at),
            name="outbox-drain",
        )
        self._timer.start()
        owned = set(self.owned()) if self.owned is not None else None
        for channel in self._waha_channels():
            if owned is None or channel.name in owned:
                self.streams[channel.name] = self._stream(channel)
            else:
                self._standby(channel.name, True)
        # Drain through the inbox, not here: an exception in on_start kills the actor without
        # on_failure, and a database that is slow to answer at start is no reason to die.
        self.actor_ref.tell(DrainOutbox(at=time.time()))
        for name, stream in self.streams.items():
            self._standby(name, False)
            stream.start()

    def _waha_channels(self) -> list[Channel]:
        return [c for c in self.channels if isinstance(c.transport, WahaClient)]

    def _standby(self, channel: str, standby: bool) -> None:
        if self.state is not None:
            self.state.standby_changed(channel, standby)

    def _reconcile(self, told: GatewayOwned | GatewayLost | None = None) -> None:
        """Open the streams of the WAHA sessions this process owns now and close the others.
        What ``owned()`` says wins over what a message says: a tell may have been lost while
        this actor restarted, or overtaken by a later change; every drain checks again."""
        if self.owned is None:
            if isinstance(told, GatewayOwned):
                self._gained(told.channel)
            elif isinstance(told, GatewayLost):
                self._lost(told.channel)
            return
        owned = set(self.owned())
        for channel in self._waha_channels():
            if channel.name in owned and channel.name not in self.streams:
                self._gained(channel.name)
            elif channel.name not in owned and channel.name in self.streams:
                self._lost(channel.name)

    def _gained(self, name: str) -> None:
        """This process now holds ``name``'s lease: hand over what waits (a process that died
        may have stored messages it never answered; sessions answer a row once), then connect
        (the connection's catch-up fetches what was written while no one listened)."""
        if name in self.streams or not self.channels.known(name):
            return
        channel = self.channels.get(name)
        if not isinstance(channel.transport, WahaClient):
            return
        log.info("gateway owned: opening its event stream", channel=name)
        stream = self.streams[name] = self._stream(channel)
        self._standby(name, False)
        try:
            self._sweep(fresh=True)
        except Exception as exc:
            self._error(exc)
        stream.start()

    def _lost(self, name: str) -> None:
        stream = self.streams.pop(name, None)
        self._standby(name, True)
        if stream is None:
            return
        log.warning("gateway lost: closing its event stream", channel=name)
        stream.stop()

    def _stream(self, channel: Channel) -> WahaEventStream:
        ref = self.actor_ref
        owned = self.owned

        def on_event(event: object) -> None:
            if owned is not None and channel.name not in owned():
                # Given up a moment ago (this actor may be busy before it closes the socket):
                # the new owner's catch-up fetches what this one drops.
                return
            ref.tell(event)

        def catch_up() -> None:
            ref.tell(CatchUp(channel=channel.name))

        return self.stream_factory(
            self.config.waha_url,
            api_key=self.config.waha_api_key,
            session=channel.name,
            on_event=on_event,
            catch_up=catch_up,
            on_state=self.state.stream_changed if self.state is not None else None,
        )

    def on_stop(self) -> None:
        for stream in self.streams.values():
            stream.stop()
        if self._timer is not None:
            self._timer.stop()
        if self._soon is not None:
            self._soon.cancel()
        # The transports outlive this actor: a restarted one sends through them again (the
        # wiring closes them when agrochat stops).

    def on_failure(self, *args: object) -> None:
        self.on_stop()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Inspect):
            return self.snapshot()
        if isinstance(message, Send):
            self._send(message)
        elif isinstance(message, DrainOutbox):
            self._drain()
        elif isinstance(message, CatchUp):
            if message.channel in self.streams:  # not from a stream closed since
                self._catch_up(message.channel)
        elif isinstance(message, GatewayOwned | GatewayLost):
            self._reconcile(message)
        elif isinstance(message, InboundMessage | SessionStatus | DeliveryStatus | Reaction):
            self._inbound(message)
        else:
            log.warning("whatsapp actor ignored a message", message=type(message).__name__)

    # -- in ----------------------------------------------------------------------------------

    def _inbound(self, event: Any) -> None:
        try:
            accepted = self.inbox.accept(event)
        except Exception as exc:
            # The database failed us: the catch-up after the next reconnect, or WAHA's
            # redelivery, brings the message again.
            self._error(exc)
            return
        if accepted is not None:
            self._seen_and_typing(accepted)

    def _seen_and_typing(self, accepted: Accepted) -> None:
        """Blue ticks and "escribiendo…" (WAHA's advice against looking like a bulk sender);
        not for a conversation a person on the team has: they will answer in their time."""
        if accepted.taken_over:
            return
        transport = self.channels.get(accepted.message.session).transport
        if not isinstance(transport, WahaClient):
            return
        try:
            transport.send_seen(accepted.message.phone, message_id=accepted.message.message_id)
            transport.start_typing(accepted.message.phone)
        except TransportError as exc:
            log.info("read receipt or typing not shown", error=str(exc))

    def _catch_up(self, channel_name: str) -> None:
        """Ask WAHA for what producers wrote while the socket was down and feed what is new
        through the inbox, oldest first. Starts at the newest message we stored from this
        number (never more than 24 h back; never before this run for a number that has no
        messages yet, so a first start does not answer the old chats of the phone)."""
        channel = self.channels.get(channel_name)
        transport = channel.transport
        if not isinstance(transport, WahaClient):
            return
        now = utcnow()
        try:
            if self.state is not None:
                self.state.session_changed(channel.name, transport.session_status())
            latest = self.messages.latest_inbound_at(channel.name)
            start = max(
                now - ANSWERABLE_FOR,
                (latest or self._started_at).replace(tzinfo=None) - CATCH_UP_SLACK,
            )
            found = transport.recent_messages(start.replace(tzinfo=dt.UTC).timestamp())
        except TransportError as exc:
            log.warning("catch-up failed; the next reconnect tries again", error=str(exc))
            return
        except Exception as exc:
            self._error(exc)
            return
        new = 0
        for message in found:
            before = self.inbox.accepted
            self._inbound(message)
            new += self.inbox.accepted - before
        self.caught_up += new
        log.info("caught up", channel=channel.name, fetched=len(found), new=new)

    def _sweep(self, *, fresh: bool = False) -> None:
        """Hand over again gateway messages stored and never answered: at start (agrochat
        stopped in between) or when a WAHA session's lease is taken (``fresh``: its last
        owner may have died), and then those a session should long have answered (the
        hand-over was lost while the sessions restarted). Each at most once per run. Only
        those of the numbers this process answers: a WAHA session another process owns is
        that process's to sweep."""
        mine = self._answered_channels()
        if not mine:
            return
        fresh = fresh or not self._swept_at_start
        older = 0.0 if fresh else 2 * self.config.reply_timeout_s
        every = len(mine) == len(self.channels)
        waiting = self.inbox.waiting(
            older_than_s=older,
            channels=None if every else mine,
            default_channel=self.channels.default.name,
        )
        for incoming in waiting:
            if incoming.message_id in self._swept:
                continue
            self._swept.add(incoming.message_id or "")
            try:
                self.inbox.deliver(incoming)
            except Exception as exc:
                log.warning("could not hand a waiting message over", error=str(exc))
        self._swept_at_start = True

    def _answered_channels(self) -> set[str]:
        """The numbers this process takes producers' messages from: the WAHA sessions it holds,
        and every number without a lease (the Cloud API's webhook reaches every process)."""
        return {
            c.name
            for c in self.channels
            if c.name in self.streams or not isinstance(c.transport, WahaClient)
        }

    # -- out ---------------------------------------------------------------------------------

    def _send(self, message: Send) -> None:
        """Send one persisted outbox row."""
        try:
            outcome = self.sender.send(message.outbox_id)
        except Exception as exc:
            # The database failed us; the row stays in the outbox for the next drain.
            self._error(exc)
            return
        if outcome is not None:
            self._report(outcome)
        self._drain_soon()

    def _drain(self, limit: int = DRAIN_BATCH) -> int:
        if self._timer is not None:
            self._timer.handled()
        self._reconcile()
        if self.senders is not None:
            self.sender.share(self.senders() or 1)
        try:
            self._sweep()
            outcomes = self.sender.drain(limit)
        except Exception as exc:
            self._error(exc)
            return 0
        for outcome in outcomes:
            self._report(outcome)
        self._drain_soon()
        return len(outcomes)

    def _drain_soon(self) -> None:
        """A row waits for the send rate: drain when it may go, not at the next tick."""
        wait = self.sender.retry_in_s
        if wait is None or wait >= self.drain_interval_s:
            return
        if self._soon is not None and self._soon.is_alive():
            return
        ref = self.actor_ref

        def drain() -> None:
            with contextlib.suppress(pykka.ActorDeadError):  # stopped meanwhile
                ref.tell(DrainOutbox(at=time.time()))

        self._soon = threading.Timer(wait, drain)
        self._soon.daemon = True
        self._soon.start()

    def _report(self, outcome: Outcome) -> None:
        if outcome.alert_id is None:
            return
        try:
            tell(self.peers, ActorId.ALERTS, outcome)
        except Exception as exc:
            # The scheduler is restarting: it settles the alert from the outbox row when the
            # alert's lease runs out, so nothing is lost by not telling it now.
            log.warning("could not report a delivery to the scheduler", error=str(exc))

    def _error(self, exc: Exception) -> None:
        self.errors += 1
        self.last_error = repr(exc)
        log.exception("whatsapp actor error")

    def snapshot(self) -> dict[str, Any]:
        return {
            "channels": [f"{c.kind}:{c.name}" for c in self.channels],
            "streams": {
                s.session: {
                    "state": status.state,
                    "attempts": status.attempts,
                    "retry_in_s": status.retry_in_s,
                }
                for s in self.streams.values()
                for status in [s.status()]
            },
            "standby": [c.name for c in self._waha_channels() if c.name not in self.streams],
            "received": self.inbox.accepted,
            "duplicates": self.inbox.duplicates,
            "caught_up": self.caught_up,
            "sent": self.sender.sent,
            "failed": self.sender.failed,
            "deferred": self.sender.deferred,
            "last_send_error": self.sender.last_error,
            "errors": self.errors,
            "last_error": self.last_error,
        }
