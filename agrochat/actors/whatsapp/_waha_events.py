"""WahaEventStream: WAHA's websocket of events, read on a thread of its own, handed over in order.

Protocol (WAHA source, devlikeapro/waha src/core/api/websocket.gateway.core.ts and
src/core/auth/WebSocketAuth.ts; docs, devlikeapro/waha-docs content/docs/how-to/events):

- ``ws://HOST/ws?x-api-key=KEY&session=NAME&events=message&events=session.status…``; the key is
  read from the query (its name case-insensitively), ``events`` may repeat or be comma-separated;
- a bad key is not refused at the HTTP upgrade: WAHA accepts the socket, then closes it with
  1008 (POLICY_VIOLATION) "Unauthorized" (or "Forbidden" for a key without that session). So an
  open socket proves nothing until it has lived a moment (``settle_s``) or carried an event;
- the server pings every 60 s and terminates a client that did not answer the previous ping
  (WebsocketHeartbeatJob). websocket-client answers pings by itself (``WebSocket.recv_data_frame``
  sends the pong); our own pings (``ping_interval_s``) find a half-open TCP connection sooner;
- WAHA buffers nothing for a client that is away: after every (re)connect the owner is told
  (``catch_up``) so it can fetch what it missed through the chats API (``WahaClient``).

The stream never blocks on its owner's work beyond the callbacks themselves: ``on_event`` and
``catch_up`` run on the stream's threads and should only hand over (tell an actor).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

import websocket

from agrochat.actors.whatsapp._inbound import InboundEvent
from agrochat.actors.whatsapp._waha_payloads import SUBSCRIBED_EVENTS, parse_frame
from agrochat.logs import get_logger

log = get_logger(__name__)

# websocket-client logs every disconnect at ERROR ("… - goodbye"), a normal close included; the
# stream reports each one itself, with the reason and the retry, so the library's lines are noise.
logging.getLogger("websocket").setLevel(logging.CRITICAL)

# RFC 6455 7.4.1; WAHA's WebSocketCloseCode.POLICY_VIOLATION, sent for a bad or missing key.
CLOSE_POLICY_VIOLATION = 1008

StreamState = Literal["stopped", "connecting", "connected", "reconnecting", "bad_api_key"]


@dataclass(frozen=True)
class StreamStatus:
    """What /health and the panel show about the event stream (plain, immutable)."""

    session: str
    state: StreamState
    since: float  # time.time() of the last change of state
    detail: str | None  # why it is not connected, in words an operator can act on
    attempts: int  # connection attempts so far
    connects: int  # connections that settled (key accepted)
    failures: int  # consecutive failed attempts: what the backoff is computed from
    retry_in_s: float | None  # the wait chosen before the next attempt, while waiting
    events: int  # events handed to the owner
    callback_errors: int  # exceptions raised by the owner's callbacks (logged, then ignored)

    @property
    def connected(self) -> bool:
        return self.state == "connected"


Backoff = Callable[[int], float]


def exponential_backoff(
    *,
    initial_s: float = 1.0,
    maximum_s: float = 60.0,
    factor: float = 2.0,
    jitter: float = 0.5,
    rng: random.Random | None = None,
) -> Backoff:
    """Delay before retry ``n`` (1, 2, …): ``initial * factor**(n-1)`` capped at ``maximum``,
    scaled by a random factor in ``[1 - jitter, 1]`` so that many processes cut off by the same
    gateway restart do not all come back in the same instant."""
    chance = rng or random.Random()

    def delay(attempt: int) -> float:
        base = min(maximum_s, initial_s * factor ** max(0, attempt - 1))
        return base * (1.0 - jitter * chance.random())

    return delay


def slow_retry(
    interval_s: float = 60.0, *, jitter: float = 0.1, rng: random.Random | None = None
) -> Backoff:
    """A fixed, slow retry (with a little jitter) for a refused key: retrying fast cannot fix a
    configuration error and only fills WAHA's log; slowly, a key fixed on WAHA's side is
    picked up without a restart."""
    chance = rng or random.Random()

    def delay(attempt: int) -> float:
        return interval_s * (1.0 + jitter * chance.random())

    return delay


def events_url(
    base_url: str, *, api_key: str, session: str, events: Sequence[str] = SUBSCRIBED_EVENTS
) -> str:
    """WAHA's websocket URL for ``base_url`` (its HTTP URL): same host and port, path ``/ws``."""
    parts = urlsplit(base_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    query: list[tuple[str, str]] = []
    if api_key:
        query.append(("x-api-key", api_key))
    query.append(("session", session))
    query.extend(("events", event) for event in events)
    return urlunsplit((scheme, parts.netloc, f"{parts.path}/ws", urlencode(query), ""))


class _Attempt:
    """One connection's story, written by its own callbacks only (stale callbacks of an earlier
    socket cannot touch the next one's)."""

    def __init__(self) -> None:
        self.opened = False
        self.settled = False
        self.closed = False
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.error: BaseException | None = None
        self.timer: threading.Timer | None = None

    @property
    def handshake_status(self) -> int | None:
        """The HTTP status of a refused upgrade (websocket-client also puts a ``status_code`` on
        the exception for a close frame: that one is the close code, not this)."""
        if isinstance(self.error, websocket.WebSocketBadStatusException):
            return self.error.status_code
        return None

    @property
    def auth_refused(self) -> bool:
        return self.close_code == CLOSE_POLICY_VIOLATION or self.handshake_status in (401, 403)

    def describe(self) -> str:
        if self.close_code == CLOSE_POLICY_VIOLATION:
            reason = f" ({self.close_reason})" if self.close_reason else ""
            return f"WAHA closed the websocket with 1008{reason}: check AGROCHAT_WAHA_API_KEY"
        if self.handshake_status is not None:
            return f"WAHA refused the websocket handshake ({self.handshake_status})"
        if self.error is not None and not self.opened:
            return f"cannot reach WAHA: {type(self.error).__name__}"
        if self.close_code is not None:
            reason = f" ({self.close_reason})" if self.close_reason else ""
            return f"WAHA closed the websocket with {self.close_code}{reason}"
        if self.error is not None:
            return f"websocket lost: {type(self.error).__name__}"
        return "websocket closed"


class WahaEventStream:
    """Owns one websocket to WAHA for one session; reconnects until ``stop()``.

    ``on_event`` receives each event agrochat acts on (``InboundMessage``, ``SessionStatus``,
    ``DeliveryStatus``, ``Reaction``) in the order WAHA sent them, own/group/channel messages
    already dropped; a redelivered event is handed over again (dedupe on ``message_id`` is the
    owner's, against the database). ``catch_up`` is called once per connection, when it has
    settled. ``on_state`` receives a ``StreamStatus`` at every change of state or detail (what
    /health shows: "bad_api_key" with the reason, "reconnecting", "connected").
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        session: str = "default",
        on_event: Callable[[InboundEvent], None],
        catch_up: Callable[[], None] | None = None,
        on_state: Callable[[StreamStatus], None] | None = None,
        backoff: Backoff | None = None,
        auth_backoff: Backoff | None = None,
        settle_s: float = 1.0,
        ping_interval_s: float = 30.0,
        ping_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.url = events_url(base_url, api_key=api_key, session=session)
        # For logs: never the key (DESIGN, ground rules: secrets never appear in logs).
        self.safe_url = events_url(base_url, api_key="", session=session)
        self.on_event = on_event
        self.catch_up = catch_up
        self.on_state = on_state
        self.backoff = backoff or exponential_backoff()
        self.auth_backoff = auth_backoff or slow_retry()
        self.settle_s = settle_s
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self.clock = clock
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._app: websocket.WebSocketApp | None = None
        self._attempt: _Attempt | None = None
        self._timers: list[threading.Timer] = []
        self._state: StreamState = "stopped"
        self._changed = False
        self._since = clock()
        self._detail: str | None = None
        self._attempts = 0
        self._connects = 0
        self._failures = 0
        self._auth_failures = 0
        self._retry_in: float | None = None
        self._events = 0
        self._callback_errors = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("the event stream was already started")
            self._thread = threading.Thread(
                target=self._run, name=f"waha-events-{self.session}", daemon=True
            )
            self._set_state("connecting", None)
        self._notify()
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Close the socket and join the threads; False if one did not end within the timeout
        (a handshake stuck on an unresponsive server; the thread is a daemon)."""
        self._stopping.set()
        with self._lock:
            app = self._app
            timers = list(self._timers)
        for timer in timers:
            timer.cancel()
        deadline = time.monotonic() + timeout_s
        if app is not None:
            self._close(app, deadline)
        ended = True
        for thread in [self._thread, *timers]:
            if thread is not None and thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
                ended = ended and not thread.is_alive()
        if not ended:
            log.warning("waha event stream did not stop in time", session=self.session)
        return ended

    def _close(self, app: websocket.WebSocketApp, deadline: float) -> None:
        """Close from another thread without waiting out the reader's select timeout.

        ``WebSocketApp.close()`` closes the file descriptor under the reader thread's selector,
        which then sleeps until its timeout (``ping_timeout``). Instead: send the close frame and
        let the server's answer wake the reader; if it does not answer within a second, shut the
        socket down (which wakes a select, unlike close)."""
        sock = app.sock
        if sock is None:
            return
        try:
            sock.send_close(reason=b"agrochat stopping")
        except Exception:  # the socket is already gone: the reader sees that by itself
            log.debug("sending the websocket close frame failed", exc_info=True)
        if self._thread is not None:
            self._thread.join(max(0.0, min(1.0, deadline - time.monotonic())))
        if self._thread is not None and self._thread.is_alive():
            app.keep_running = False
            sock.abort()

    def status(self) -> StreamStatus:
        with self._lock:
            return StreamStatus(
                session=self.session,
                state=self._state,
                since=self._since,
                detail=self._detail,
                attempts=self._attempts,
                connects=self._connects,
                failures=self._failures + self._auth_failures,
                retry_in_s=self._retry_in,
                events=self._events,
                callback_errors=self._callback_errors,
            )

    # -- the connection loop (stream thread) -----------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                attempt = self._connect_once()
                if self._stopping.is_set():
                    break
                detail = attempt.describe()
                with self._lock:
                    if attempt.auth_refused:
                        self._auth_failures += 1
                        failures, schedule = self._auth_failures, self.auth_backoff
                        self._set_state("bad_api_key", f"bad api key: {detail}")
                    else:
                        self._failures += 1
                        failures, schedule = self._failures, self.backoff
                        self._set_state("reconnecting", detail)
                self._notify()
                delay = schedule(failures)  # outside the lock: an injected schedule may block
                with self._lock:
                    self._retry_in = delay
                log.warning(
                    "waha websocket down",
                    session=self.session,
                    url=self.safe_url,
                    detail=detail,
                    retry_in_s=round(delay, 3),
                )
                self._stopping.wait(delay)
        finally:
            with self._lock:
                self._set_state("stopped", None)
            self._notify()

    def _connect_once(self) -> _Attempt:
        attempt = _Attempt()
        app = websocket.WebSocketApp(
            self.url,
            on_open=lambda ws: self._on_open(attempt, ws),
            on_message=lambda ws, data: self._on_message(attempt, data),
            on_error=lambda ws, exc: self._on_error(attempt, exc),
            on_close=lambda ws, code, reason: self._on_close(attempt, code, reason),
        )
        with self._lock:
            if self._stopping.is_set():
                return attempt
            self._app = app
            self._attempt = attempt
            self._attempts += 1
            if self._state not in ("bad_api_key", "reconnecting"):
                self._set_state("connecting", None)
        self._notify()
        try:
            app.run_forever(
                ping_interval=self.ping_interval_s,
                ping_timeout=self.ping_timeout_s,
                # Our loop reconnects, with backoff: websocket-client's own fixed-interval
                # reconnect would hide 1008 and hammer a gateway that is down.
                reconnect=0,
            )
        except Exception as exc:  # run_forever reports through on_error; this is a bug there
            attempt.error = attempt.error or exc
        finally:
            with self._lock:
                self._app = None
                attempt.closed = True
                if attempt.timer is not None:
                    attempt.timer.cancel()
        return attempt

    # -- websocket-client callbacks (stream thread) ----------------------------------------

    def _on_open(self, attempt: _Attempt, ws: websocket.WebSocketApp) -> None:
        if self._stopping.is_set():
            ws.close()
            return
        attempt.opened = True
        timer = threading.Timer(self.settle_s, self._settle, args=(attempt,))
        timer.daemon = True
        with self._lock:
            attempt.timer = timer
            self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def _on_message(self, attempt: _Attempt, data: Any) -> None:
        # An event proves the key was accepted: no need to wait out the settle time.
        self._settle(attempt)
        event = parse_frame(data)
        if event is None:
            return
        with self._lock:
            self._events += 1
        try:
            self.on_event(event)
        except Exception:
            with self._lock:
                self._callback_errors += 1
            log.exception("waha event handler failed", session=self.session)

    def _on_error(self, attempt: _Attempt, exc: BaseException) -> None:
        attempt.error = exc

    def _on_close(self, attempt: _Attempt, code: int | None, reason: str | None) -> None:
        with self._lock:
            attempt.closed = True
            attempt.close_code = code
            attempt.close_reason = reason
            if attempt.timer is not None:
                attempt.timer.cancel()

    def _settle(self, attempt: _Attempt) -> None:
        """The connection lived (or carried an event): the key is good. Report it and ask the
        owner to catch up on what WAHA did not keep for us while we were away."""
        with self._lock:
            if attempt.settled or attempt.closed or attempt is not self._attempt:
                return
            attempt.settled = True
            self._failures = 0
            self._auth_failures = 0
            self._connects += 1
            self._set_state("connected", None)
        self._notify()
        log.info("waha websocket connected", session=self.session, url=self.safe_url)
        if self.catch_up is None or self._stopping.is_set():
            return
        try:
            self.catch_up()
        except Exception:
            with self._lock:
                self._callback_errors += 1
            log.exception("waha catch-up callback failed", session=self.session)

    def _set_state(
        self, state: StreamState, detail: str | None, retry_in: float | None = None
    ) -> None:
        # Callers hold self._lock, and call _notify() once they released it.
        if (state, detail) != (self._state, self._detail):
            self._since = self.clock()
            self._changed = True
        self._state = state
        self._detail = detail
        self._retry_in = retry_in

    def _notify(self) -> None:
        """Tell ``on_state`` about a change (outside the lock: it may call ``status()``)."""
        with self._lock:
            changed, self._changed = self._changed, False
        if not changed or self.on_state is None:
            return
        try:
            self.on_state(self.status())
        except Exception:
            log.exception("waha stream state callback failed", session=self.session)
