"""InferenceActor + InferenceClient with a FakeBackend: queue bound, deadlines, failures."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from agrochat.actors.inference import (
    FakeBackend,
    InferenceActor,
    InferenceClient,
    ModelRunner,
    ModelState,
    ModelStatus,
)
from agrochat.config import Config
from agrochat.errors import DeadlineExceeded, ModelUnavailable, Overloaded
from agrochat.messages import InferenceRequest, Inspect, deadline_in
from tests.conftest import FakePeers
from tests.inference.conftest import wait_for

CONFIG = Config()
MESSAGES = ({"role": "system", "content": "Eres un asesor."}, {"role": "user", "content": "hola"})


def request(seconds: float = 5.0, **kw) -> InferenceRequest:
    return InferenceRequest(messages=MESSAGES, deadline=deadline_in(seconds), **kw)


class Gate:
    """A backend reply that waits until the test opens the gate."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.entered = threading.Event()

    def __call__(self, messages, schema) -> str:
        self.entered.set()
        assert self.open.wait(10), "the test never opened the gate"
        return json.dumps({"ok": messages[-1]["content"]})


def start(backend=None, *, stats, factory=None, limit=8):
    status = ModelStatus()
    ref = InferenceActor.start(
        CONFIG,
        status=status,
        backend_factory=factory or (lambda config: backend),
        stats=stats,
    )
    client = InferenceClient(
        FakePeers(inference=ref), queue_limit=limit, status=status, stats=stats
    )
    return ref, client, status


def test_answers_through_the_client_with_metrics(stats):
    backend = FakeBackend()
    ref, client, status = start(backend, stats=stats)
    result = client.generate(request(cache_key="51987654321@c.us"))
    assert json.loads(result.content)["respuesta_chat"] == "Respuesta de prueba a: hola"
    assert result.metrics.generated_tokens > 0
    assert status.state is ModelState.READY
    assert backend.calls[0]["cache_key"] == "51987654321@c.us"
    snapshot = ref.ask(Inspect(), timeout=5)
    assert snapshot["state"] == "ready"
    assert snapshot["counts"]["ok"] == 1
    assert snapshot["last_metrics"]["generated_tokens"] == result.metrics.generated_tokens
    text = stats.render()
    assert 'agrochat_inference_requests_total{outcome="ok"} 1.0' in text
    assert "agrochat_inference_queue_wait_seconds_count 1.0" in text


def test_an_asked_request_gets_its_result(stats):
    ref, _, _ = start(FakeBackend(), stats=stats)
    result = ref.ask(request(), timeout=5)
    assert result.finish_reason == "stop"


def test_full_queue_answers_overloaded_at_once(stats):
    gate = Gate()
    _, client, _ = start(FakeBackend(gate), stats=stats, limit=2)
    with ThreadPoolExecutor(2) as pool:
        running = [pool.submit(client.generate, request(10)) for _ in range(2)]
        assert gate.entered.wait(5)
        wait_for(lambda: client.in_flight == 2)
        started = time.monotonic()
        with pytest.raises(Overloaded):
            client.generate(request(10))
        assert time.monotonic() - started < 0.5
        gate.open.set()
        assert all(f.result(timeout=10).content for f in running)
    assert client.in_flight == 0
    assert 'outcome="overloaded"} 1.0' in stats.render()


def test_expired_request_is_dropped_before_generation(stats):
    gate = Gate()
    backend = FakeBackend(gate)
    ref, client, _ = start(backend, stats=stats)
    client.GRACE_S = 0.05
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(client.generate, request(10))
        assert gate.entered.wait(5)
        # Queued behind the busy one; its caller gives up when the deadline passes.
        with pytest.raises(DeadlineExceeded):
            client.generate(request(0.2))
        gate.open.set()
        busy.result(timeout=10)
    snapshot = ref.ask(Inspect(), timeout=5)  # handled after the expired request
    assert snapshot["counts"]["expired_before_start"] == 1
    assert len(backend.calls) == 1
    assert client.in_flight == 0


def test_runner_drops_a_request_whose_deadline_passed(stats):
    backend = FakeBackend()
    runner = ModelRunner(backend, stats=stats)
    with pytest.raises(DeadlineExceeded):
        runner.generate(InferenceRequest(messages=MESSAGES, deadline=time.monotonic() - 1))
    assert backend.calls == []


def test_model_load_failure_answers_unavailable_and_actor_stays_alive(stats):
    def broken(config):
        raise ModelUnavailable("model file /x.gguf does not exist")

    ref, client, status = start(stats=stats, factory=broken)
    wait_for(lambda: status.state is ModelState.FAILED)
    assert ref.is_alive()
    assert status.health() == (False, "failed")
    assert status.detail == "model file /x.gguf does not exist"
    with pytest.raises(ModelUnavailable, match="does not exist"):
        client.generate(request())
    # Also when asked directly (a caller without the status).
    with pytest.raises(ModelUnavailable, match="does not exist"):
        ref.ask(request(), timeout=5)
    assert ref.is_alive()


def test_model_health_is_ok_only_once_the_model_can_answer():
    status = ModelStatus()
    assert status.health() == (False, "loading")
    status.set(ModelState.READY, "qwen.gguf")
    assert status.health() == (True, "ready")
    status.set(ModelState.REMOTE, "http://10.0.0.5:8080")
    assert status.health() == (True, "remote")
    status.set(ModelState.FAILED, "no such file")
    assert status.health() == (False, "failed")  # the reason is for /debug, not /health


def test_unexpected_load_error_is_reported_the_same_way(stats):
    def crash(config):
        raise OSError("disk on fire")

    ref, client, status = start(stats=stats, factory=crash)
    wait_for(lambda: status.state is ModelState.FAILED)
    assert "OSError: disk on fire" in status.detail
    with pytest.raises(ModelUnavailable):
        client.generate(request())
    assert ref.is_alive()


def test_backend_crash_on_one_request_does_not_kill_the_actor(stats):
    calls = []

    def flaky(messages, schema):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("llama_decode returned -1")
        return "{}"

    ref, client, _ = start(FakeBackend(flaky), stats=stats)
    with pytest.raises(ModelUnavailable, match="RuntimeError"):
        client.generate(request())
    assert client.generate(request()).content == "{}"
    assert ref.is_alive()


def test_output_cut_by_max_tokens_comes_back_as_complete_json(stats):
    cut = '{"role": "consulta", "respuesta_chat": "Riega temprano por la maña'
    backend = FakeBackend(lambda m, s: cut, finish_reason="length")
    _, client, _ = start(backend, stats=stats)
    result = client.generate(request(schema={"type": "object"}))
    assert result.finish_reason == "length"
    assert json.loads(result.content)["respuesta_chat"] == "Riega temprano por la maña…"
    assert "agrochat_inference_repaired_total 1.0" in stats.render()


def test_client_finds_the_restarted_actor(stats):
    ref, client, _ = start(FakeBackend(), stats=stats)
    peers = client._peers
    ref.stop()
    with pytest.raises(ModelUnavailable):
        client.generate(request())
    peers.refs["inference"] = InferenceActor.start(
        CONFIG, status=ModelStatus(), backend_factory=lambda c: FakeBackend(), stats=stats
    )
    assert client.generate(request()).content


def test_stopping_the_actor_closes_the_backend(stats):
    backend = FakeBackend()
    ref, client, _ = start(backend, stats=stats)
    client.generate(request())
    ref.stop()
    assert backend.closed


def test_twenty_producers_at_once_are_answered_or_told_overloaded(stats):
    gate = Gate()
    _, client, _ = start(FakeBackend(gate), stats=stats, limit=8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def producer(i: int) -> None:
        try:
            client.generate(request(20, cache_key=f"519870000{i:02d}@c.us"))
            outcome = "answered"
        except Overloaded:
            outcome = "overloaded"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=producer, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    wait_for(lambda: client.in_flight + outcomes.count("overloaded") == 20)
    gate.open.set()
    for t in threads:
        t.join(10)
    assert len(outcomes) == 20
    assert outcomes.count("answered") == 8
    assert outcomes.count("overloaded") == 12


class PrefillingBackend(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.prefilled: list[tuple] = []
        self.prefill_done = threading.Event()

    def prefill(self, messages, cache_key):
        self.prefilled.append((tuple(messages), cache_key))
        self.prefill_done.set()
        return 0


def test_idle_model_prepares_the_producers_next_turn(stats):
    backend = PrefillingBackend()
    _, client, _ = start(backend, stats=stats)
    result = client.generate(request(cache_key="51987654321@c.us"))
    assert backend.prefill_done.wait(5)
    messages, key = backend.prefilled[0]
    assert key == "51987654321@c.us"
    assert messages == (*MESSAGES, {"role": "assistant", "content": result.content})


def test_requests_without_a_producer_are_not_prefilled(stats):
    backend = PrefillingBackend()
    ref, client, _ = start(backend, stats=stats)
    client.generate(request())
    ref.ask(Inspect(), timeout=5)  # anything told before this has been handled
    assert backend.prefilled == []
