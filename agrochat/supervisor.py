"""Supervision for Pykka actors: child specs, one_for_one restarts, restart intensity with
escalation, exponential backoff with jitter, start in dependency order and stop in reverse.

Pykka has none of this, and a stopped Pykka actor cannot be restarted: a "restart" here calls the
child's factory again and swaps the ref that everyone looks up through :meth:`Supervisor.ref` /
:meth:`Supervisor.proxy` at call time.

Only OTP's one_for_one strategy and permanent children. OTP's one_for_all and rest_for_one exist
for children that hold a dead sibling's pid; agrochat's actors look their peers up at each call,
so a restarted peer is found again and nothing needs restarting with it. Transient and temporary
children are for work that may finish; agrochat's children are services that must always run
(the actors that do come and go, one per producer, are started by the session directory).

How deaths are noticed. Every child is a :class:`Supervised` actor, which reports to its
supervisor, once and from its own thread, how its life ended (Pykka 4.5, ``pykka/_actor.py``):

- an exception in ``on_start``: Pykka stops the actor without calling ``on_failure``, so the
  mixin's wrapper around ``on_start`` reports the exception before it propagates;
- an exception in a ``tell``: reported as ``on_failure`` begins, before the actor's own cleanup;
- a normal stop (``self.stop()``, the supervisor's stop, or Pykka stopping every actor after a
  ``BaseException`` somewhere): reported once ``on_stop`` has run, as no failure, or as the
  exception ``on_stop`` raised.

An exception in an ``ask`` goes back to the caller and the actor lives on. A watcher thread checks
every child's ``ref.is_alive()`` at least every ``poll_s``, and each report wakes it. A child is
dead once its ref is not alive *and* it has reported: Pykka sets the stopped flag before it calls
``on_failure`` or ``on_stop``, so the flag alone may be seen before the reason is known.

Semantics follow Erlang/OTP's ``supervisor``:

- A child that stops, with an exception or without, is restarted (it is permanent).
- More than ``intensity`` restarts within ``period_s`` (counted over all children) and the
  supervisor gives up: it stops every child in reverse order, logs one error line, sets
  :attr:`Supervisor.escalated` and calls ``on_escalate(reason)``. It never loops.
- A factory that raises during a restart counts as one more failed restart (with backoff), so a
  child that can never start again ends in escalation. A factory that raises during
  :meth:`Supervisor.start` stops the children already started, in reverse, and raises
  :class:`SupervisorEscalation` (OTP's ``start_link`` fails the same way); ``on_escalate`` is not
  called then, the caller has the exception.
- Unlike OTP, restarts are delayed by :class:`Backoff` so a child that keeps dying does not spin.
- An operator's :meth:`Supervisor.restart_child` restarts that child now and counts in the
  snapshot's ``restarts`` but not toward the intensity limit: a deliberate act should not make
  the supervisor give up.

Known gap: a ``BaseException`` in any actor makes Pykka stop *every* actor through ``on_stop``;
the supervisor sees its children exit normally and restarts them.
"""

from __future__ import annotations

import enum
import functools
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Self

import pykka

from agrochat.errors import NotFound, NotReady
from agrochat.logs import get_logger
from agrochat.messages import ChildSnapshot, Inspect

__all__ = [
    "Backoff",
    "ChildSpec",
    "Supervised",
    "Supervisor",
    "SupervisorEscalation",
]

log = get_logger(__name__)

# Where an actor being constructed reports how it ends: set by the supervisor around a child's
# factory, read by Supervised.__new__ (Pykka constructs an actor in the thread calling start()).
_REPORT_TO: ContextVar[Callable[[str, str | None], None] | None] = ContextVar(
    "agrochat_supervisor_report_to", default=None
)


@dataclass(frozen=True)
class Backoff:
    """Delay before the next start of a child that keeps dying.

    ``delay(n) = min(max_s, base_s * 2**n) * uniform(1 - jitter, 1 + jitter)`` where ``n`` is
    how many times that child was restarted within the supervisor's ``period_s``. The jitter
    keeps children that died together from hammering a shared resource in lockstep.
    """

    base_s: float = 0.1
    max_s: float = 5.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.max_s < self.base_s:
            raise ValueError(f"need 0 <= base_s <= max_s, got {self.base_s} and {self.max_s}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")

    def delay(self, n: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before restart number ``n`` (0-based); ``rng()`` is in [0, 1)."""
        # 2.0**n overflows a float past n ~ 1023; long before that the cap applies anyway.
        raw = self.max_s if n >= 64 else min(self.max_s, self.base_s * 2.0**n)
        return raw * (1.0 - self.jitter + 2.0 * self.jitter * rng())


@dataclass(frozen=True)
class ChildSpec:
    """How to start one child.

    ``start`` must return a *new* :class:`Supervised` actor's ref every time it is called
    (usually ``lambda: SomeActor.start(...)``); it runs on the thread that starts or restarts the
    child.
    """

    id: str
    start: Callable[[], pykka.ActorRef[Any]]
    stop_timeout_s: float = 10.0


class SupervisorEscalation(Exception):
    """The supervisor gave up (restart intensity exceeded, or a child failed to start)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Status(enum.Enum):
    RUNNING = "running"  # has a ref; may have died since the watcher last looked
    RESTART_PENDING = "restart_pending"  # waiting for restart_at
    STOPPED = "stopped"  # by the supervisor, or not started yet


@dataclass(eq=False)
class _Child:
    spec: ChildSpec
    status: _Status = _Status.STOPPED
    ref: pykka.ActorRef[Any] | None = None
    actor_class: str = ""
    restarts: int = 0
    restart_at: float | None = None
    # Clock times of this child's restarts within period_s: the backoff exponent.
    recent: deque[float] = field(default_factory=deque)
    # How each of this child's actors ended, by URN (None: stopped normally). An actor may
    # report before its factory has returned, or after it was replaced (its stop timed out).
    ends: dict[str, str | None] = field(default_factory=dict)
    last_failure: str | None = None
    last_failure_at: float | None = None


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown failure"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Supervised:
    """Mixin for every actor a :class:`Supervisor` starts: the actor reports how it ended.

    Mix it in as ``class InferenceActor(Supervised, pykka.ThreadingActor)``. Subclasses override
    ``on_start``, ``on_failure`` and ``on_stop`` as usual, no ``super()`` call needed: each
    class's hooks are wrapped when the class is defined, so an override that does cleanup cannot
    forget to report. An actor started outside a supervisor reports nowhere.
    """

    actor_urn: str  # from pykka.Actor
    _report_to: Callable[[str, str | None], None] | None

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        actor = super().__new__(cls)
        # Here rather than in __init__: a subclass may call pykka's __init__ directly.
        actor._report_to = _REPORT_TO.get()
        return actor

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("on_start", "on_failure", "on_stop"):
            # The class that mixes Supervised in wraps every hook (Pykka's empty ones too);
            # its subclasses wrap the hooks they override.
            if name in vars(cls) or Supervised in cls.__bases__:
                setattr(cls, name, _reporting(name, getattr(cls, name)))

    def _report_end(self, failure: str | None) -> None:
        # Once: the first report is how the actor ended (on_failure's cleanup may call on_stop).
        report, self._report_to = self._report_to, None
        if report is not None:
            report(self.actor_urn, failure)


def _reporting(name: str, hook: Callable[..., None]) -> Callable[..., None]:
    """Pykka's lifecycle hook ``name``, reporting how the actor ended."""

    @functools.wraps(hook)
    def wrapper(self: Supervised, *args: Any) -> None:
        if getattr(type(self), name) is not wrapper:
            return hook(self, *args)  # reached by an override's super(): the outer one reports
        if name == "on_failure":  # an exception in a tell: args are (type, value, traceback)
            self._report_end(_describe(args[1]))
        try:
            hook(self, *args)
        except Exception as exc:
            self._report_end(_describe(exc))
            raise
        if name == "on_stop":
            self._report_end(None)

    return wrapper


def _plain(value: Any) -> dict[str, Any]:
    """The actor's snapshot as plain JSON data: never a live object shared across threads."""
    if value is None:
        return {}  # an actor that keeps no snapshot of its own
    try:
        data = json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError) as exc:
        return {"error": f"snapshot() returned data that is not JSON: {_describe(exc)}"}
    return data if isinstance(data, dict) else {"value": data}


def _inbox_size(ref: pykka.ActorRef[Any] | None) -> int:
    return ref.actor_inbox.qsize() if ref is not None else 0


class Supervisor:
    """Starts children in spec order, watches them, restarts them, stops them in reverse.

    ``snapshot``, ``ref``, ``proxy`` and ``restart_child`` may be called from any thread (HTTP
    handlers) while the watcher runs. Two locks: ``_lock`` guards the fields those readers see
    and is never held while waiting on an actor; ``_ops`` serializes everything that starts or
    stops actors (the watcher's passes, operator restarts, stop) and is held while doing so.
    """

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        intensity: int = 5,
        period_s: float = 30.0,
        backoff: Backoff = Backoff(),  # frozen, so one shared default is safe
        on_escalate: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        wall_clock: Callable[[], float] = time.time,
        poll_s: float = 0.05,
        state_timeout_s: float = 0.2,
    ) -> None:
        ids = [spec.id for spec in specs]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate child ids: {', '.join(duplicates)}")
        if intensity < 0 or period_s <= 0:
            raise ValueError("need intensity >= 0 and period_s > 0")
        self.intensity = intensity
        self.period_s = period_s
        self.backoff = backoff
        self._on_escalate = on_escalate
        self._clock = clock
        self._rng = rng
        self._wall_clock = wall_clock
        self._poll_s = poll_s
        self._state_timeout_s = state_timeout_s

        self._children = [_Child(spec) for spec in specs]
        self._by_id = {child.spec.id: child for child in self._children}
        self._lock = threading.Lock()
        self._ops = threading.Lock()
        self._started = False  # under _ops
        self._quit = threading.Event()  # stop() was called
        self._wake = threading.Event()
        self._escalated: str | None = None
        self._escalated_event = threading.Event()
        self._notify_pending: str | None = None
        self._restart_times: deque[float] = deque()  # all children's, within period_s
        self._state_asks: dict[str, pykka.Future[Any]] = {}
        self._watcher: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start every child in spec order, then the watcher.

        Pykka's ``start()`` returns once the actor's thread runs; ``on_start`` runs there, so a
        child may still die in ``on_start`` afterwards: the watcher sees that and restarts it.
        Raises :class:`SupervisorEscalation` if a factory raises (children already started are
        stopped in reverse order first).
        """
        with self._ops:
            if self._started or self._quit.is_set():
                raise RuntimeError("this supervisor was already started; make a new one")
            self._started = True
            for child in self._children:
                if not self._start_child(child):
                    reason = (
                        f"supervisor giving up: child {child.spec.id!r} failed to start: "
                        f"{child.last_failure}"
                    )
                    self._give_up(child, reason)
                    self._notify_pending = None  # the caller gets the exception instead
                    raise SupervisorEscalation(reason)
            self._watcher = threading.Thread(
                target=self._watch, name="supervisor-watcher", daemon=True
            )
            self._watcher.start()
        log.info("supervisor started", children=[c.spec.id for c in self._children])

    def stop(self) -> None:
        """Stop the watcher, then every child in reverse start order. Idempotent.

        Each child gets ``ref.stop(block=True, timeout=spec.stop_timeout_s)``, which returns
        once its ``on_stop`` has run: a child that does not stop in time is one whose thread is
        still alive, and it is logged (as Mopidy does on shutdown: it is a bug worth seeing).
        """
        with self._lock:
            if self._quit.is_set():
                return
            self._quit.set()
        self._wake.set()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join()
        with self._ops:
            self._stop_all()
        log.info("supervisor stopped")

    @property
    def escalated(self) -> str | None:
        """Why the supervisor gave up, once it has; None while it is fine."""
        with self._lock:
            return self._escalated

    def wait_escalated(self, timeout: float | None = None) -> str | None:
        """Block until the supervisor gives up (its reason) or ``timeout`` passes (None)."""
        self._escalated_event.wait(timeout)
        return self.escalated

    # --- lookups (any thread) ----------------------------------------------------------------

    def ref(self, id: str) -> pykka.ActorRef[Any]:
        """The current actor for ``id``; NotReady while it is down or restarting."""
        child = self._child(id)
        with self._lock:
            ref, status, escalated = child.ref, child.status, self._escalated
        if status is _Status.RUNNING and ref is not None and ref.is_alive():
            return ref
        if escalated is not None:
            raise NotReady(f"actor {id!r} is down: {escalated}")
        if status in (_Status.RUNNING, _Status.RESTART_PENDING):
            raise NotReady(f"actor {id!r} is restarting")
        raise NotReady(f"actor {id!r} is not running")

    def snapshot(self, *, state: bool = True) -> list[ChildSnapshot]:
        """Every child, as plain data. Never blocks for long.

        With ``state``, each live actor that defines ``snapshot()`` is asked for it, all at once,
        with one shared ``state_timeout_s`` deadline; a busy actor shows ``{"busy": True}`` and
        is not asked again until it has answered (asks would pile up in a stuck inbox).
        """
        with self._lock:
            rows = [
                (c.spec.id, c.ref, c.actor_class, c.restarts, c.last_failure, c.last_failure_at)
                for c in self._children
            ]
        # Inbox sizes before our own state asks join the queues.
        inboxes = {cid: _inbox_size(ref) for cid, ref, *_ in rows}
        asks: dict[str, pykka.Future[Any]] = {}
        if state:
            self._forget_stale_asks({ref.actor_urn for _, ref, *_ in rows if ref is not None})
            for cid, ref, *_ in rows:
                if (
                    ref is not None
                    and ref.is_alive()
                    and callable(getattr(ref.actor_class, "snapshot", None))
                ):
                    asks[cid] = self._ask_state(ref)
        deadline = time.monotonic() + self._state_timeout_s
        result = []
        for cid, ref, actor_class, restarts, last_failure, last_failure_at in rows:
            future = asks.get(cid)
            result.append(
                ChildSnapshot(
                    id=cid,
                    actor_class=actor_class,
                    urn=ref.actor_urn if ref is not None else None,
                    alive=ref is not None and ref.is_alive(),
                    inbox_size=inboxes[cid],
                    restarts=restarts,
                    last_failure=last_failure,
                    last_failure_at=last_failure_at,
                    state=(
                        self._collect_state(ref, future, deadline)
                        if future is not None and ref is not None
                        else {}
                    ),
                )
            )
        return result

    # --- operator ----------------------------------------------------------------------------

    def restart_child(self, id: str) -> None:
        """Stop (if running) and start the child ``id`` now.

        Counts in the snapshot's ``restarts``, not toward the intensity limit. Raises NotFound
        for an unknown id, NotReady when the supervisor is not running or the factory raised
        (a retry is then scheduled as for any failed start).
        """
        child = self._child(id)
        with self._ops:
            if not self._running():
                raise NotReady(f"cannot restart {id!r}: the supervisor is not running")
            log.info("operator restart", child=id)
            if child.status is _Status.RUNNING:
                self._stop_child(child)
            started = self._start_child(child, count_restart=True)
            if not started:
                self._restart_needed(child, self._clock(), child.last_failure or "failed to start")
            failure = child.last_failure
        self._notify_escalation()
        if not started:
            raise NotReady(f"actor {id!r} failed to start: {failure}")

    # --- the watcher -------------------------------------------------------------------------

    def check(self) -> None:
        """One watcher pass: notice dead children, act on them, start restarts that are due.

        The watcher thread calls this; tests with a fake clock call it too, to know a pass has
        completed at a given time (passes are serialized).
        """
        with self._ops:
            if not self._running():
                return
            now = self._clock()
            for child in self._children:
                if child.status is not _Status.RUNNING:
                    continue
                ended, failure = self._pop_end(child)
                if ended:
                    self._handle_death(child, now, failure)
                    if self._escalated is not None:
                        break
            if self._escalated is None:
                self._start_due(now)
        self._notify_escalation()

    def _running(self) -> bool:
        return self._started and not self._quit.is_set() and self._escalated is None

    def _watch(self) -> None:
        while not self._quit.is_set() and self._escalated is None:
            self._wake.wait(self._next_wait())
            # Clear before the pass: a failure reported during it wakes the next one.
            self._wake.clear()
            try:
                self.check()
            except Exception:
                log.exception("supervisor watcher pass failed")

    def _next_wait(self) -> float:
        with self._lock:
            due = [c.restart_at for c in self._children if c.status is _Status.RESTART_PENDING]
        times = [d for d in due if d is not None]
        if not times:
            return self._poll_s
        return max(0.0, min(self._poll_s, min(times) - self._clock()))

    def _actor_ended(self, child: _Child, urn: str, failure: str | None) -> None:
        """A Supervised actor's report of how it ended, on that actor's thread."""
        with self._lock:
            child.ends[urn] = failure
        self._wake.set()

    def _pop_end(self, child: _Child) -> tuple[bool, str | None]:
        """Whether the child's actor has ended (dead and reported), and its failure if any."""
        with self._lock:
            ref = child.ref
            if ref is None or ref.is_alive() or ref.actor_urn not in child.ends:
                return False, None
            return True, child.ends.pop(ref.actor_urn)

    # --- decisions (all under _ops) ----------------------------------------------------------

    def _handle_death(self, child: _Child, now: float, failure: str | None) -> None:
        cid = child.spec.id
        if failure is not None:
            self._record_failure(child, failure)
            log.warning("child failed", child=cid, failure=failure)
        else:
            log.info("child exited", child=cid)
        self._restart_needed(child, now, failure or "exited normally")

    def _restart_needed(self, child: _Child, now: float, why: str) -> None:
        self._prune(self._restart_times, now)
        self._restart_times.append(now)
        if len(self._restart_times) > self.intensity:
            reason = (
                f"supervisor giving up: child {child.spec.id!r} failed after "
                f"{len(self._restart_times) - 1} restarts in {self.period_s:g} s "
                f"(limit {self.intensity}): {why}"
            )
            self._give_up(child, reason)
            return
        self._prune(child.recent, now)
        delay = self.backoff.delay(len(child.recent), self._rng)
        child.recent.append(now)
        with self._lock:
            child.status = _Status.RESTART_PENDING
            child.restart_at = now + delay
        log.info("restart scheduled", child=child.spec.id, reason=why, in_s=round(delay, 3))

    def _start_due(self, now: float) -> None:
        for child in self._children:
            if self._escalated is not None:
                return
            if child.status is not _Status.RESTART_PENDING or (child.restart_at or 0.0) > now:
                continue
            if not self._start_child(child, count_restart=True):
                self._restart_needed(child, now, child.last_failure or "failed to start")

    def _start_child(self, child: _Child, *, count_restart: bool = False) -> bool:
        token = _REPORT_TO.set(functools.partial(self._actor_ended, child))
        try:
            ref = child.spec.start()
            if not isinstance(ref, pykka.ActorRef) or not issubclass(ref.actor_class, Supervised):
                raise TypeError(f"factory returned {ref!r}, not a Supervised actor's ref")
        except Exception as exc:
            text = _describe(exc)
            self._record_failure(child, text)
            log.error("child failed to start", child=child.spec.id, failure=text, exc_info=True)
            return False
        finally:
            _REPORT_TO.reset(token)
        with self._lock:
            # Reports from the child's earlier actors are stale; this one may have died already.
            child.ends = {urn: f for urn, f in child.ends.items() if urn == ref.actor_urn}
            if count_restart:
                child.restarts += 1
            child.ref = ref
            child.actor_class = ref.actor_class.__name__
            child.status = _Status.RUNNING
            child.restart_at = None
        return True

    def _stop_child(self, child: _Child) -> None:
        """Stop one child ourselves (not a failure). Blocks up to its stop timeout."""
        with self._lock:
            ref = child.ref
            child.status = _Status.STOPPED
        if ref is not None and ref.is_alive():
            try:
                ref.stop(block=True, timeout=child.spec.stop_timeout_s)
            except pykka.Timeout:
                log.warning(
                    "actor did not stop in time; its thread is still alive",
                    child=child.spec.id,
                    timeout_s=child.spec.stop_timeout_s,
                )
        # on_stop may have raised, or the actor died on its own just before: keep the reason.
        _, failure = self._pop_end(child)
        if failure is not None:
            self._record_failure(child, failure)

    def _stop_all(self) -> None:
        for child in reversed(self._children):
            if child.status is _Status.RUNNING:
                self._stop_child(child)
            with self._lock:
                child.status = _Status.STOPPED
                child.restart_at = None

    def _give_up(self, child: _Child, reason: str) -> None:
        # One clear line first, so it shows even if stopping the children takes a while.
        log.error(reason, child=child.spec.id)
        self._stop_all()
        with self._lock:
            self._escalated = reason
        self._notify_pending = reason
        self._escalated_event.set()
        self._wake.set()

    def _notify_escalation(self) -> None:
        """Call on_escalate outside _ops, so it may call stop() or look at the snapshot."""
        with self._lock:
            reason, self._notify_pending = self._notify_pending, None
        if reason is None or self._on_escalate is None:
            return
        try:
            self._on_escalate(reason)
        except Exception:
            log.exception("on_escalate failed")

    def _record_failure(self, child: _Child, failure: str) -> None:
        with self._lock:
            child.last_failure, child.last_failure_at = failure, self._wall_clock()

    def _prune(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.period_s:
            times.popleft()

    def _child(self, id: str) -> _Child:
        try:
            return self._by_id[id]
        except KeyError:
            raise NotFound(f"no actor named {id!r}") from None

    # --- actor state for snapshots -----------------------------------------------------------

    def _ask_state(self, ref: pykka.ActorRef[Any]) -> pykka.Future[Any]:
        with self._lock:
            pending = self._state_asks.get(ref.actor_urn)
            if pending is not None and not _is_done(pending):
                return pending
            # Putting into Pykka's unbounded inbox never blocks.
            future = ref.ask(Inspect(), block=False)
            self._state_asks[ref.actor_urn] = future
            return future

    def _collect_state(
        self, ref: pykka.ActorRef[Any], future: pykka.Future[Any], deadline: float
    ) -> dict[str, Any]:
        try:
            value = future.get(timeout=max(0.0, deadline - time.monotonic()))
        except pykka.Timeout:
            return {"busy": True}
        except pykka.ActorDeadError:
            result: dict[str, Any] = {}
        except Exception as exc:
            result = {"error": _describe(exc)}
        else:
            result = _plain(value)
        with self._lock:
            if self._state_asks.get(ref.actor_urn) is future:
                del self._state_asks[ref.actor_urn]
        return result

    def _forget_stale_asks(self, current_urns: set[str]) -> None:
        with self._lock:
            for urn in [u for u in self._state_asks if u not in current_urns]:
                del self._state_asks[urn]


def _is_done(future: pykka.Future[Any]) -> bool:
    try:
        future.get(timeout=0)
    except pykka.Timeout:
        return False
    except Exception:
        return True
    return True
