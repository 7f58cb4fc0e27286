"""Several model servers through the real wiring (one InferenceActor per server under a
Supervisor, the client routing through a ServerPool), with fake backends per server URL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from agrochat.actors.inference import (
    FakeBackend,
    ServerFailed,
    canned_reply,
    wire_inference,
)
from agrochat.config import Config
from agrochat.errors import ConfigError, ModelUnavailable
from agrochat.messages import InferenceRequest, deadline_in
from agrochat.supervisor import Supervisor

URLS = "http://agro:s3cret@127.0.0.1:9101, http://127.0.0.1:9102/"
ONE = "http://agro:s3cret@127.0.0.1:9101"
TWO = "http://127.0.0.1:9102"
MESSAGES = ({"role": "system", "content": "Eres un asesor."}, {"role": "user", "content": "hola"})


def request(cache_key: str | None = None, seconds: float = 5.0) -> InferenceRequest:
    return InferenceRequest(messages=MESSAGES, deadline=deadline_in(seconds), cache_key=cache_key)


def answered_by(url: str):
    def respond(messages, schema) -> str:
        return json.dumps({"server": url})

    return respond


def failing(messages, schema) -> str:
    raise ServerFailed("the remote model at http://127.0.0.1:9101 is unreachable (ConnectError)")


class Pool:
    """wire_inference's actors under a real Supervisor; ``backends`` by server URL."""

    def __init__(self, backends: Mapping[str, FakeBackend], *, urls: str = URLS) -> None:
        self.backends = dict(backends)
        self.seen: list[str] = []

        def factory(config: Config) -> FakeBackend:
            self.seen.append(config.inference_url)
            return self.backends[config.inference_url]

        self.config = Config(inference_url=urls)
        self.wiring = wire_inference(self.config, self, backend_factory=factory)
        self.supervisor = Supervisor(self.wiring.specs, intensity=5, period_s=30)
        self.supervisor.start()
        self.client = self.wiring.client

    def ref(self, id: str) -> Any:
        # The client's peers: the actors as the supervisor that runs them has them now.
        return self.supervisor.ref(id)

    def server_of(self, result) -> str:
        return json.loads(result.content)["server"]


@pytest.fixture
def make_pool() -> Iterator[Any]:
    pools: list[Pool] = []

    def make(backends: Mapping[str, FakeBackend], **kw: Any) -> Pool:
        pool = Pool(backends, **kw)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.supervisor.stop()


def test_several_urls_are_parsed_and_a_bad_one_is_named_without_its_password():
    config = Config.from_env(
        {"AGROCHAT_INFERENCE_URL": " http://m1:8000/,http://m2:8000 \n https://m3"}
    )
    assert config.inference_urls == ("http://m1:8000", "http://m2:8000", "https://m3")
    assert Config.from_env({"AGROCHAT_INFERENCE_URL": "http://m1:8000/"}).inference_url == (
        "http://m1:8000"
    )
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"AGROCHAT_INFERENCE_URL": "http://m1:8000, ftp://u:hunter2@m2"})
    assert "ftp://u:***@m2" in str(caught.value)
    # Masked wherever it might appear in a log line.
    assert "s3cret" in Config(inference_url=URLS).secrets()
    assert "hunter2" not in str(caught.value)


def test_one_url_is_one_actor_as_before():
    wiring = wire_inference(Config(inference_url=ONE), peers=None)  # type: ignore[arg-type]
    assert [s.id for s in wiring.specs] == ["inference"]
    assert wiring.client.pool is None
    assert set(wiring.health_checks) == {"model"}


def test_each_server_gets_its_own_actor_and_a_config_naming_it(make_pool):
    pool = make_pool({ONE: FakeBackend(answered_by(ONE)), TWO: FakeBackend(answered_by(TWO))})
    assert [s.id for s in pool.wiring.specs] == ["inference", "inference-2"]
    assert sorted(pool.seen) == sorted([ONE, TWO])


def test_two_servers_work_on_two_requests_at_once(make_pool):
    both = threading.Barrier(2, timeout=5)

    def together(url: str):
        def respond(messages, schema) -> str:
            both.wait()  # breaks (and fails the test) unless the other server is busy too
            return json.dumps({"server": url})

        return respond

    pool = make_pool({ONE: FakeBackend(together(ONE)), TWO: FakeBackend(together(TWO))})
    with ThreadPoolExecutor(2) as threads:
        results = list(threads.map(lambda _: pool.client.generate(request()), range(2)))
    assert sorted(pool.server_of(r) for r in results) == sorted([ONE, TWO])


def test_a_producer_keeps_going_to_the_same_server(make_pool):
    pool = make_pool({ONE: FakeBackend(answered_by(ONE)), TWO: FakeBackend(answered_by(TWO))})
    first = pool.server_of(pool.client.generate(request("51911111111@c.us")))
    other = pool.server_of(pool.client.generate(request("51922222222@c.us")))
    assert other != first
    for _ in range(3):
        assert pool.server_of(pool.client.generate(request("51911111111@c.us"))) == first


def test_a_failed_servers_request_is_answered_by_another_and_its_producer_stays_there(make_pool):
    down = FakeBackend(failing)
    pool = make_pool({ONE: down, TWO: FakeBackend(answered_by(TWO))})
    # Idle pool: the first request goes to the first server, which fails it.
    assert pool.server_of(pool.client.generate(request("51911111111@c.us"))) == TWO
    assert pool.server_of(pool.client.generate(request("51911111111@c.us"))) == TWO
    assert len(down.calls) == 1  # the down server is skipped, not asked again
    first, second = pool.wiring.pool.snapshot()
    assert (first["state"], first["failures"], second["served"]) == ("down", 1, 2)
    assert pool.wiring.health_checks["model_servers"]() == (True, "1 of 2 up")


def test_every_server_down_is_model_unavailable_without_asking_them_again(make_pool):
    one, two = FakeBackend(failing), FakeBackend(failing)
    pool = make_pool({ONE: one, TWO: two})
    with pytest.raises(ModelUnavailable):
        pool.client.generate(request())
    with pytest.raises(ModelUnavailable, match="every model server is down"):
        pool.client.generate(request())
    assert (len(one.calls), len(two.calls)) == (1, 1)
    assert pool.client.in_flight == 0
    assert pool.wiring.health_checks["model_servers"]() == (False, "0 of 2 up")


def test_a_refused_request_is_not_tried_on_another_server(make_pool):
    def refuse(messages, schema) -> str:
        raise ModelUnavailable("the remote model refused the request (HTTP 400)")

    one, two = FakeBackend(refuse), FakeBackend(refuse)
    pool = make_pool({ONE: one, TWO: two})
    with pytest.raises(ModelUnavailable, match="HTTP 400"):
        pool.client.generate(request())
    assert len(one.calls) + len(two.calls) == 1
    assert pool.wiring.health_checks["model_servers"]() == (True, "2 of 2 up")


def test_debug_and_metrics_show_each_server_without_credentials(make_pool):
    pool = make_pool({ONE: FakeBackend(canned_reply), TWO: FakeBackend(failing)})
    pool.client.generate(request())
    pool.client.generate(request())
    states = {c.id: c.state for c in pool.supervisor.snapshot(state=True)}
    assert states["inference"]["server"]["url"] == "http://127.0.0.1:9101"
    assert states["inference"]["server"]["served"] == 2
    assert states["inference-2"]["server"]["state"] == "down"
    assert states["inference-2"]["server"]["down_until"] is not None
    metrics = "".join(render() for render in pool.wiring.metrics)
    assert 'agrochat_inference_server_up{server="http://127.0.0.1:9102"} 0.0' in metrics
    assert 'agrochat_inference_requests_total{outcome="ok"}' in metrics  # the existing series
    assert "s3cret" not in json.dumps(states, default=str) + metrics
