"""The supervisor's promises, one small test each, named after Erlang's supervisor_SUITE.

Children are real Pykka actors with the Supervised mixin. A child "crashes" on a told message (an
exception in a tell kills a Pykka actor; in an ask it would only go back to the caller) and "exits
normally" by stopping itself. Time-dependent behaviour (backoff) runs on a fake clock and
``Supervisor.check()``, so nothing depends on how fast this machine is; elsewhere tests wait for a
condition, with a timeout.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from agrochat.errors import NotFound, NotReady
from agrochat.messages import Inspect
from agrochat.supervisor import (
    Backoff,
    ChildSpec,
    Supervised,
    Supervisor,
    SupervisorEscalation,
)

FAST = Backoff(base_s=0.001, max_s=0.01, jitter=0.0)


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 3.0) -> None:
    """Poll a condition (not a fixed sleep): returns as soon as it holds."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        tick.wait(0.005)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Worker(Supervised, pykka.ThreadingActor):
    def __init__(
        self,
        *,
        name: str,
        journal: list[tuple[str, str]],
        on_start_error: Callable[[], Exception] | None = None,
        stop_gate: threading.Event | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.journal = journal
        self.on_start_error = on_start_error
        self.stop_gate = stop_gate
        self.handled = 0
        self.failed: threading.Event | None = None

    def on_start(self) -> None:
        self.journal.append(("on_start", self.name))
        if self.on_start_error is not None:
            raise self.on_start_error()

    def on_stop(self) -> None:
        self.journal.append(("on_stop", self.name))
        if self.stop_gate is not None:
            self.stop_gate.wait(5)

    def on_failure(self, *exc_info: Any) -> None:
        self.journal.append(("on_failure", self.name))
        if self.failed is not None:
            self.failed.set()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Inspect):
            return self.snapshot()
        if isinstance(message, tuple) and message[0] == "crash":
            self.failed = message[1]
            raise ValueError("boom")
        if message == "quit":
            self.stop()
            return None
        if isinstance(message, tuple) and message[0] == "block":
            entered, release = message[1], message[2]
            entered.set()
            release.wait(5)
        self.handled += 1
        return None

    def snapshot(self) -> dict[str, Any]:
        return {"name": self.name, "handled": self.handled}


class Mute(Worker):
    """A child that does not answer Inspect with a snapshot of its own."""

    def on_receive(self, message: Any) -> Any:
        return None if isinstance(message, Inspect) else super().on_receive(message)


class Cleaner(Worker):
    """Cleans up in on_failure as agrochat's actors do: by calling its own on_stop."""

    def on_failure(self, *exc_info: Any) -> None:
        self.journal.append(("cleanup", self.name))
        self.on_stop()
        super().on_failure(*exc_info)


class BadStop(Worker):
    def on_stop(self) -> None:
        super().on_stop()
        raise OSError("socket already closed")


class Plain(pykka.ThreadingActor):
    """An actor without the mixin: it could not say how it ended."""


def worker_spec(
    id: str,
    journal: list[tuple[str, str]],
    *,
    actor: type[Worker] = Worker,
    stop_timeout_s: float = 5.0,
    **kwargs: Any,
) -> ChildSpec:
    def start() -> pykka.ActorRef[Any]:
        journal.append(("factory", id))
        return actor.start(name=id, journal=journal, **kwargs)

    return ChildSpec(id=id, start=start, stop_timeout_s=stop_timeout_s)


@pytest.fixture
def journal() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def supervise() -> Iterator[Callable[..., Supervisor]]:
    """Builds and starts supervisors (fast backoff unless given), stops them after the test."""
    made: list[Supervisor] = []

    def make(specs: list[ChildSpec], *, start: bool = True, **kwargs: Any) -> Supervisor:
        kwargs.setdefault("backoff", FAST)
        kwargs.setdefault("state_timeout_s", 1.0)
        sup = Supervisor(specs, **kwargs)
        made.append(sup)
        if start:
            sup.start()
        return sup

    yield make
    for sup in made:
        sup.stop()


def urns(sup: Supervisor) -> dict[str, str | None]:
    return {c.id: c.urn for c in sup.snapshot(state=False)}


def child(sup: Supervisor, id: str) -> Any:
    return next(c for c in sup.snapshot() if c.id == id)


def crash(sup: Supervisor, id: str) -> str:
    """Kill child ``id`` with an exception in a tell; returns the dead actor's URN once its
    on_failure has run (the mixin reports before it, so a check() now sees the death)."""
    ref = sup.ref(id)
    failed = threading.Event()
    ref.tell(("crash", failed))
    assert failed.wait(3), f"{id} did not die"
    return ref.actor_urn


def scheduled(logs: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """(child, delay) of each restart the supervisor scheduled, from its log lines."""
    return [(e["child"], e["in_s"]) for e in logs if e["event"] == "restart scheduled"]


def wait_restarted(sup: Supervisor, id: str, old_urn: str) -> str:
    def restarted() -> bool:
        c = next(c for c in sup.snapshot(state=False) if c.id == id)
        return c.alive and c.urn != old_urn

    wait_until(restarted, f"{id} to be restarted")
    return sup.ref(id).actor_urn


def factories(journal: list[tuple[str, str]]) -> list[str]:
    return [name for kind, name in journal if kind == "factory"]


def stops(journal: list[tuple[str, str]]) -> list[str]:
    return [name for kind, name in journal if kind == "on_stop"]


# --- one_for_one -----------------------------------------------------------------------------


def test_one_for_one_restarts_only_the_failed_child(supervise, journal):
    sup = supervise([worker_spec(i, journal) for i in "abc"])
    before = urns(sup)

    dead = crash(sup, "b")
    wait_restarted(sup, "b", dead)

    after = urns(sup)
    assert after["a"] == before["a"] and after["c"] == before["c"]
    assert after["b"] != before["b"]
    assert {c.id: c.restarts for c in sup.snapshot(state=False)} == {"a": 0, "b": 1, "c": 0}
    assert factories(journal) == ["a", "b", "c", "b"]


def test_child_restarted_after_normal_exit(supervise, journal):
    sup = supervise([worker_spec("p", journal)])
    ref = sup.ref("p")

    ref.tell("quit")
    assert ref.actor_stopped.wait(3)
    wait_restarted(sup, "p", ref.actor_urn)

    assert child(sup, "p").restarts == 1


# --- intensity and escalation ------------------------------------------------------------------


def test_restart_intensity_exceeded_escalates(supervise, journal):
    reasons: list[str] = []
    sup = supervise(
        [worker_spec("a", journal), worker_spec("b", journal)],
        intensity=2,
        period_s=60,
        on_escalate=reasons.append,
    )
    for _ in range(2):
        wait_restarted(sup, "a", crash(sup, "a"))
    assert sup.escalated is None

    with capture_logs() as logs:
        crash(sup, "a")
        reason = sup.wait_escalated(timeout=3)

    assert reason == (
        "supervisor giving up: child 'a' failed after 2 restarts in 60 s (limit 2): "
        "ValueError: boom"
    )
    assert sup.escalated == reason
    wait_until(lambda: reasons, "on_escalate to be called")
    assert reasons == [reason]
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [reason]
    # Everything is down, the sibling stopped by the supervisor, and nothing starts again.
    assert not any(c.alive for c in sup.snapshot(state=False))
    assert stops(journal)[-1] == "b"
    sup.check()
    assert factories(journal) == ["a", "b", "a", "a"]
    with pytest.raises(NotReady, match="giving up"):
        sup.ref("b")


def test_child_that_never_starts_escalates(supervise, journal):
    def no_model() -> pykka.ActorRef[Any]:
        journal.append(("factory", "model"))
        raise RuntimeError("model file missing")

    reasons: list[str] = []
    sup = supervise(
        [
            worker_spec("a", journal),
            ChildSpec(id="model", start=no_model),
            worker_spec("c", journal),
        ],
        start=False,
        on_escalate=reasons.append,
    )

    with pytest.raises(SupervisorEscalation) as raised:
        sup.start()

    assert raised.value.reason == (
        "supervisor giving up: child 'model' failed to start: RuntimeError: model file missing"
    )
    assert sup.escalated == raised.value.reason
    # What had started is stopped again; what comes after the broken child never starts.
    assert factories(journal) == ["a", "model"]
    assert stops(journal) == ["a"]
    assert child(sup, "model").last_failure == "RuntimeError: model file missing"
    # start() raised: the caller knows, so on_escalate is not called as well.
    assert reasons == []


def test_child_whose_factory_fails_on_restart_escalates(supervise, journal):
    attempts = itertools.count()

    def flaky() -> pykka.ActorRef[Any]:
        if next(attempts) > 0:
            raise OSError("port in use")
        return Worker.start(name="w", journal=journal)

    sup = supervise([ChildSpec(id="w", start=flaky)], intensity=3, period_s=60)

    with capture_logs() as logs:
        crash(sup, "w")
        reason = sup.wait_escalated(timeout=3)

    assert reason is not None and reason.endswith("(limit 3): OSError: port in use")
    assert next(attempts) == 4  # the first start, then three failed restarts
    assert [e["event"] for e in logs].count("child failed to start") == 3


def test_restart_loop_that_never_succeeds_gives_up(supervise, journal):
    with capture_logs() as logs:
        sup = supervise(
            [worker_spec("w", journal, on_start_error=lambda: RuntimeError("cannot bind"))],
            intensity=3,
            period_s=60,
            backoff=Backoff(base_s=0.002, max_s=1.0, jitter=0.0),
        )
        reason = sup.wait_escalated(timeout=3)

    assert reason == (
        "supervisor giving up: child 'w' failed after 3 restarts in 60 s (limit 3): "
        "RuntimeError: cannot bind"
    )
    assert factories(journal) == ["w"] * 4
    assert scheduled(logs) == [("w", 0.002), ("w", 0.004), ("w", 0.008)]
    sup.check()
    assert factories(journal) == ["w"] * 4


def test_escalation_callback_may_stop_the_supervisor(supervise, journal):
    stopped = threading.Event()
    holder: list[Supervisor] = []

    def stop_everything(reason: str) -> None:
        holder[0].stop()
        stopped.set()

    sup = supervise([worker_spec("a", journal)], intensity=0, on_escalate=stop_everything)
    holder.append(sup)
    crash(sup, "a")

    assert stopped.wait(3), "on_escalate -> stop() deadlocked"
    assert sup.escalated is not None


# --- how a death is reported (the Supervised mixin) --------------------------------------------


def test_failure_in_a_tell_is_reported_with_its_reason(supervise, journal):
    sup = supervise([worker_spec("a", journal)])

    wait_restarted(sup, "a", crash(sup, "a"))

    assert child(sup, "a").last_failure == "ValueError: boom"
    assert ("on_failure", "a") in journal  # the actor's own on_failure still ran


def test_failure_in_on_start_is_reported_with_its_reason(supervise, journal):
    attempts = itertools.count()

    def start() -> pykka.ActorRef[Any]:
        first = next(attempts) == 0
        error = (lambda: RuntimeError("cannot open model")) if first else None
        return Worker.start(name="m", journal=journal, on_start_error=error)

    sup = supervise([ChildSpec(id="m", start=start)])

    wait_until(lambda: child(sup, "m").restarts == 1 and child(sup, "m").alive, "a restart")
    snap = child(sup, "m")
    assert snap.last_failure == "RuntimeError: cannot open model"
    # The premise: Pykka never calls on_failure for a death in on_start.
    assert ("on_failure", "m") not in journal
    assert sup.ref("m").actor_urn == snap.urn


def test_actor_that_overrides_on_failure_still_reports(supervise, journal):
    sup = supervise([worker_spec("c", journal, actor=Cleaner)])

    wait_restarted(sup, "c", crash(sup, "c"))

    # Its cleanup ran, and the on_stop it calls did not turn the failure into a normal stop.
    assert child(sup, "c").last_failure == "ValueError: boom"
    assert [e for e in journal if e[0] in ("cleanup", "on_stop")] == [
        ("cleanup", "c"),
        ("on_stop", "c"),
    ]


def test_normal_stop_records_no_failure(supervise, journal):
    sup = supervise([worker_spec("q", journal)])
    ref = sup.ref("q")

    with capture_logs() as logs:
        ref.tell("quit")
        wait_restarted(sup, "q", ref.actor_urn)

    assert child(sup, "q").last_failure is None
    assert [e["event"] for e in logs if e["event"].startswith("child ")] == ["child exited"]


def test_failure_in_on_stop_is_reported_with_its_reason(supervise, journal):
    sup = supervise([worker_spec("b", journal, actor=BadStop)])
    ref = sup.ref("b")

    ref.tell("quit")
    wait_restarted(sup, "b", ref.actor_urn)

    assert child(sup, "b").last_failure == "OSError: socket already closed"


def test_child_is_not_restarted_before_its_on_stop_returns(supervise, journal):
    gate = threading.Event()
    sup = supervise([worker_spec("s", journal, stop_gate=gate)])
    ref = sup.ref("s")

    ref.tell("quit")
    # Pykka marks the actor stopped before on_stop runs: dead, but it has not said how yet.
    wait_until(lambda: ("on_stop", "s") in journal, "on_stop to begin")
    assert not ref.is_alive()
    sup.check()
    assert factories(journal) == ["s"]

    gate.set()
    wait_restarted(sup, "s", ref.actor_urn)
    assert child(sup, "s").last_failure is None


def test_child_that_is_not_supervised_is_refused(supervise):
    sup = supervise([ChildSpec(id="plain", start=Plain.start)], start=False)

    with pytest.raises(SupervisorEscalation, match="not a Supervised actor's ref"):
        sup.start()


# --- order -----------------------------------------------------------------------------------


def test_children_stop_in_reverse_start_order(supervise, journal):
    sup = supervise([worker_spec(i, journal) for i in "abcd"])
    assert factories(journal) == ["a", "b", "c", "d"]

    sup.stop()
    sup.stop()  # idempotent

    assert stops(journal) == ["d", "c", "b", "a"]
    assert not any(c.alive for c in sup.snapshot(state=False))
    with pytest.raises(NotReady):
        sup.restart_child("a")


def test_stop_warns_about_actor_that_does_not_stop(supervise, journal):
    gate = threading.Event()
    sup = supervise([worker_spec("slow", journal, stop_gate=gate, stop_timeout_s=0.05)])
    try:
        with capture_logs() as logs:
            sup.stop()
    finally:
        gate.set()

    warnings = [(e["event"], e["child"]) for e in logs if e["log_level"] == "warning"]
    assert warnings == [("actor did not stop in time; its thread is still alive", "slow")]


# --- backoff ---------------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter():
    backoff = Backoff(base_s=0.1, max_s=1.0, jitter=0.2)

    assert [backoff.delay(n, rng=lambda: 0.5) for n in range(6)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    )
    assert backoff.delay(2, rng=lambda: 0.0) == pytest.approx(0.4 * 0.8)
    assert backoff.delay(2, rng=lambda: 0.999999) == pytest.approx(0.4 * 1.2)
    assert backoff.delay(10_000, rng=lambda: 0.5) == pytest.approx(1.0)  # no overflow
    with pytest.raises(ValueError):
        Backoff(jitter=1.5)


def test_restart_waits_for_backoff_delay(supervise, journal):
    clock = FakeClock()
    rng = iter([0.0, 0.5, 1.0 - 1e-9])
    sup = supervise(
        [worker_spec("w", journal)],
        clock=clock,
        rng=lambda: next(rng),
        backoff=Backoff(base_s=1.0, max_s=60.0, jitter=0.2),
        intensity=10,
        period_s=300,
    )
    expected = [1.0 * 0.8, 2.0 * 1.0, 4.0 * 1.2]

    for delay in expected:
        with capture_logs() as logs:
            dead = crash(sup, "w")
            sup.check()
        assert scheduled(logs) == [("w", pytest.approx(delay))]

        clock.advance(delay * 0.99)
        sup.check()
        with pytest.raises(NotReady, match="restarting"):
            sup.ref("w")

        clock.advance(delay * 0.02)
        sup.check()
        assert sup.ref("w").actor_urn != dead


def test_pending_restart_does_not_stop_watching_the_others(supervise, journal):
    clock = FakeClock()
    sup = supervise(
        [worker_spec("a", journal), worker_spec("b", journal)],
        clock=clock,
        backoff=Backoff(base_s=10.0, max_s=10.0, jitter=0.0),
    )
    with capture_logs() as logs:
        crash(sup, "a")
        sup.check()  # "a" now waits 10 s on the fake clock

        crash(sup, "b")
        wait_until(
            lambda: [child for child, _ in scheduled(logs)] == ["a", "b"],
            "the watcher to notice b while a is pending",
        )

    clock.advance(10)
    sup.check()
    assert all(c.alive for c in sup.snapshot(state=False))


# --- operator and snapshot ---------------------------------------------------------------------


def test_operator_restart_counts_in_snapshot(supervise, journal):
    sup = supervise([worker_spec("a", journal), worker_spec("b", journal)], intensity=0)
    old = sup.ref("a").actor_urn

    sup.restart_child("a")
    sup.restart_child("a")

    snap = child(sup, "a")
    assert (snap.alive, snap.restarts, snap.last_failure) == (True, 2, None)
    assert snap.urn != old
    assert stops(journal) == ["a", "a"]
    assert child(sup, "b").restarts == 0
    # A deliberate restart does not count toward the intensity limit (0 here).
    assert sup.escalated is None
    with pytest.raises(NotFound):
        sup.restart_child("nope")


def test_operator_restart_of_a_child_that_cannot_start_reports_it(supervise, journal):
    attempts = itertools.count()

    def once() -> pykka.ActorRef[Any]:
        if next(attempts) > 0:
            raise RuntimeError("disk full")
        return Worker.start(name="w", journal=journal)

    sup = supervise([ChildSpec(id="w", start=once)], intensity=5)

    with pytest.raises(NotReady, match="failed to start: RuntimeError: disk full"):
        sup.restart_child("w")
    assert child(sup, "w").last_failure == "RuntimeError: disk full"


def test_snapshot_reports_actor_state_and_last_failure(supervise, journal):
    wall = FakeClock(now=1_700_000_000.0)
    sup = supervise(
        [worker_spec("a", journal), worker_spec("m", journal, actor=Mute)], wall_clock=wall
    )
    sup.ref("a").ask("hello")
    assert child(sup, "a").state == {"name": "a", "handled": 1}

    wall.advance(5)
    new = wait_restarted(sup, "a", crash(sup, "a"))

    snap = child(sup, "a")
    assert snap.id == "a"
    assert snap.actor_class == "Worker"
    assert snap.urn == new
    assert snap.alive is True
    assert snap.inbox_size == 0
    assert snap.restarts == 1
    assert snap.last_failure == "ValueError: boom"
    assert snap.last_failure_at == 1_700_000_005.0
    assert snap.state == {"name": "a", "handled": 0}
    mute = child(sup, "m")
    assert (mute.actor_class, mute.state, mute.last_failure) == ("Mute", {}, None)
    assert all(c.state == {} for c in sup.snapshot(state=False))


def test_snapshot_does_not_block_on_busy_actor(supervise, journal):
    sup = supervise([worker_spec("a", journal)], state_timeout_s=0.05)
    entered, release = threading.Event(), threading.Event()
    sup.ref("a").tell(("block", entered, release))
    assert entered.wait(3)
    try:
        started = time.monotonic()
        first = child(sup, "a")
        second = child(sup, "a")
        third = child(sup, "a")
        elapsed = time.monotonic() - started
    finally:
        release.set()

    assert first.state == second.state == third.state == {"busy": True}
    assert elapsed < 1.0
    # Only the first snapshot queued an ask; later ones wait for its answer instead of piling up.
    assert (first.inbox_size, second.inbox_size, third.inbox_size) == (0, 1, 1)
    wait_until(lambda: child(sup, "a").state == {"name": "a", "handled": 1}, "the real state")


def test_proxy_after_restart_reaches_new_actor(supervise, journal):
    clock = FakeClock()
    sup = supervise(
        [worker_spec("a", journal)],
        clock=clock,
        backoff=Backoff(base_s=1.0, max_s=1.0, jitter=0.0),
    )
    first = sup.ref("a").actor_urn

    crash(sup, "a")
    sup.check()
    with pytest.raises(NotReady, match="restarting"):
        sup.ref("a")

    clock.advance(1.0)
    sup.check()
    second = sup.ref("a").actor_urn
    assert second != first
    with pytest.raises(NotFound):
        sup.ref("nope")
