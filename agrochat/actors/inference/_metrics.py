"""Inference metrics, in a registry of their own that /metrics renders (Prometheus text)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from agrochat.messages import InferenceMetrics

_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)


class InferenceStats:
    """Counters the client (queue, outcomes) and the actor (per-request figures) update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "agrochat_inference_requests",
            "inference requests by outcome (ok, overloaded, deadline, unavailable, error)",
            ["outcome"],
            registry=r,
        )
        self.in_flight = Gauge(
            "agrochat_inference_queue_depth",
            "requests waiting for or running on the model",
            registry=r,
        )
        self.queue_wait = Histogram(
            "agrochat_inference_queue_wait_seconds",
            "time a request waited before the model started on it",
            buckets=_SECONDS,
            registry=r,
        )
        self.ttft = Histogram(
            "agrochat_inference_time_to_first_token_seconds",
            "time from the model starting on a request to its first token",
            buckets=_SECONDS,
            registry=r,
        )
        self.duration = Histogram(
            "agrochat_inference_duration_seconds",
            "time the model spent on a request",
            buckets=_SECONDS,
            registry=r,
        )
        self.prompt_tokens = Counter(
            "agrochat_inference_prompt_tokens",
            "prompt tokens, by whether they were evaluated or reused from the KV cache",
            ["kind"],
            registry=r,
        )
        self.generated_tokens = Counter(
            "agrochat_inference_generated_tokens", "tokens generated", registry=r
        )
        self.tokens_per_s = Gauge(
            "agrochat_inference_tokens_per_second",
            "generation speed of the last request",
            registry=r,
        )
        self.repaired = Counter(
            "agrochat_inference_repaired",
            "outputs cut by max_tokens and repaired into complete JSON",
            registry=r,
        )

    def observe(self, metrics: InferenceMetrics) -> None:
        self.queue_wait.observe(metrics.queue_wait_s)
        self.ttft.observe(metrics.time_to_first_token_s)
        self.duration.observe(metrics.total_s)
        reused = metrics.prompt_tokens_reused
        self.prompt_tokens.labels("reused").inc(reused)
        self.prompt_tokens.labels("evaluated").inc(max(0, metrics.prompt_tokens - reused))
        self.generated_tokens.inc(metrics.generated_tokens)
        if metrics.generated_tokens:
            self.tokens_per_s.set(metrics.tokens_per_s)

    def render(self) -> str:
        return generate_latest(self.registry).decode()


STATS = InferenceStats()


def render_metrics() -> str:
    """The inference metrics in Prometheus text format (add to ``AppContext.metrics``)."""
    return STATS.render()


class ServerMetrics:
    """Per-server series of a pool of model servers, labelled by the server's public URL, read
    from the pool at each scrape (so they cannot drift from what the pool routes by)."""

    def __init__(self, snapshot: Callable[[], list[dict[str, Any]]]) -> None:
        self._snapshot = snapshot
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "agrochat_inference_server_requests",
            "requests a model server finished, by outcome (ok, failed, other: the request's "
            "deadline or a refused request)",
            labels=["server", "outcome"],
        )
        in_flight = GaugeMetricFamily(
            "agrochat_inference_server_in_flight",
            "requests waiting for or running on a model server",
            labels=["server"],
        )
        up = GaugeMetricFamily(
            "agrochat_inference_server_up",
            "1 while a model server is taking requests, 0 while it is down (backing off)",
            labels=["server"],
        )
        for row in self._snapshot():
            url = row["url"]
            requests.add_metric([url, "ok"], row["served"])
            requests.add_metric([url, "failed"], row["failures"])
            requests.add_metric([url, "other"], row["other"])
            in_flight.add_metric([url], row["in_flight"])
            up.add_metric([url], 1.0 if row["healthy"] else 0.0)
        yield requests
        yield in_flight
        yield up

    def render(self) -> str:
        return generate_latest(self.registry).decode()
