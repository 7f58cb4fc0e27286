"""AlertSchedulerActor: a thin Pykka shell around AlertDispatcher.

A timer thread tells it ``Tick`` every ``AGROCHAT_ALERT_TICK_S``. Claimed alerts go to the
producer's session as ``PushAlert`` (so an alert never interleaves with a reply being written);
the session puts them in the outbox and the WhatsApp actor tells ``Delivered`` /
``DeliveryFailed`` back here. Everything this actor sends is a tell: it never waits on a peer.
"""

from __future__ import annotations

import time
from typing import Any

import pykka

from agrochat.actors._common import ActorId, Peers, Ticker, tell
from agrochat.actors.alerts._dispatcher import AlertDispatcher, TickReport
from agrochat.actors.alerts._rules import RuleBook
from agrochat.config import Config
from agrochat.logs import get_logger
from agrochat.messages import Delivered, DeliveryFailed, Inspect, PushAlert, Tick
from agrochat.persistence import AlertStore, Database
from agrochat.supervisor import Supervised

log = get_logger(__name__)


class AlertSchedulerActor(Supervised, pykka.ThreadingActor):
    def __init__(
        self,
        config: Config,
        *,
        database: Database,
        peers: Peers,
        deliver: bool = True,
        rules: RuleBook | None = None,
        dispatcher: AlertDispatcher | None = None,
        tick_on_start: bool = True,
    ) -> None:
        super().__init__()
        self.config = config
        self.peers = peers
        self.tick_on_start = tick_on_start
        self.dispatcher = dispatcher or AlertDispatcher(
            AlertStore(database),
            deliver=deliver,
            rules=rules if rules is not None else RuleBook.load(),
            template=config.alert_template,
            max_attempts=config.alert_max_attempts,
            lease_s=config.alert_lease_s,
        )
        self._ticker: Ticker | None = None
        self.ticks = 0
        self.errors = 0
        self.pushed = 0
        self.last_report: TickReport | None = None
        self.last_error: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def on_start(self) -> None:
        self._ticker = Ticker(
            self.actor_ref,
            self.config.alert_tick_s,
            message=lambda at: Tick(at=at),
            name="alert-ticker",
        )
        self._ticker.start()
        if self.tick_on_start:
            # Through the inbox, not here: an exception in on_start would kill the actor
            # without on_failure, and a database hiccup at start is no reason to die.
            self.actor_ref.tell(Tick(at=time.time()))

    def on_stop(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()

    def on_failure(self, *args: object) -> None:
        self.on_stop()

    # -- messages ------------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Inspect):
            return self.snapshot()
        if isinstance(message, Tick):
            self._tick()
        elif isinstance(message, Delivered):
            self._delivered(message)
        elif isinstance(message, DeliveryFailed):
            self._delivery_failed(message)
        else:
            log.warning("alert scheduler ignored a message", message=type(message).__name__)

    def _tick(self) -> TickReport | None:
        if self._ticker is not None:
            self._ticker.handled()
        self.ticks += 1
        try:
            report = self.dispatcher.tick()
        except Exception as exc:
            # The database is down or busy: the next tick tries again. Dying would only make
            # the supervisor restart us into the same error and count it towards escalation.
            self.errors += 1
            self.last_error = repr(exc)
            log.exception("alert tick failed")
            return None
        self.last_report = report
        for push in report.pushes:
            self._push(push.alert_id, push.phone, push.text)
        return report

    def _push(self, alert_id: int, phone: str, text: str) -> None:
        try:
            tell(self.peers, ActorId.SESSIONS, PushAlert(alert_id=alert_id, phone=phone, text=text))
            self.pushed += 1
        except Exception as exc:
            # Sessions are down or restarting: a failed attempt, retried after backoff.
            log.warning("could not hand an alert to sessions", alert_id=alert_id, error=str(exc))
            self._safely(
                self.dispatcher.delivery_failed,
                alert_id,
                f"sessions unavailable: {exc}",
                retryable=True,
            )

    def _delivered(self, message: Delivered) -> None:
        if message.alert_id is not None:
            self._safely(self.dispatcher.delivered, message.alert_id)

    def _delivery_failed(self, message: DeliveryFailed) -> None:
        if message.alert_id is not None:
            self._safely(
                self.dispatcher.delivery_failed,
                message.alert_id,
                message.error,
                retryable=message.retryable,
            )

    def _safely(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        # A lost report is recovered by the lease (the outbox row says what happened), so a
        # database error here is logged, not fatal.
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            self.errors += 1
            self.last_error = repr(exc)
            log.exception("alert scheduler could not record a delivery report")

    def snapshot(self) -> dict[str, Any]:
        report = self.last_report
        return {
            "delivering": self.dispatcher.deliver,
            "template": self.dispatcher.template or None,
            "claimed_by": self.dispatcher.claimed_by,
            "ticks": self.ticks,
            "pushed": self.pushed,
            "errors": self.errors,
            "last_error": self.last_error,
            "last_tick": None
            if report is None
            else {
                "at": report.at.isoformat(),
                "expired": report.expired,
                "created": report.created,
                "waiting": report.waiting,
                "settled": report.settled,
                "in_flight": report.in_flight,
                "pushed": len(report.pushes),
            },
        }
