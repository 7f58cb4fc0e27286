"""GET /health (no credentials: load balancers and the bridge call it) and GET /metrics."""

from __future__ import annotations

import re
from typing import Any

import bottle
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from agrochat.http._api import json_response
from agrochat.http._context import AppContext
from agrochat.logs import get_logger

log = get_logger(__name__)


# What a component's state may look like on /health: words, names and separators ("failed",
# "waha default: scan_qr_code"). No slash, quote or parenthesis, so neither a file path nor an
# exception's text gets out even if a check returns one by mistake.
_STATE_WORDS = re.compile(r"[A-Za-z0-9_ .:;-]{1,200}")


def health_report(ctx: AppContext) -> tuple[bool, dict[str, Any]]:
    """Every component's state; healthy only when each is.

    /health answers anyone, so this holds fixed state words only ("ok", "loading", "failed",
    "escalated", ...). The details (why the model failed to load, why the supervisor gave up)
    are for operators: ``GET /debug/actors`` shows them, behind the operator token.
    """
    components: dict[str, Any] = {}
    reasons: list[str] = []

    if ctx.database is None:
        components["database"] = "starting"
        reasons.append("database: starting")
    else:
        try:
            ctx.database.ping()
            components["database"] = "ok"
        except Exception as exc:
            log.warning("health: the database did not answer", error=repr(exc))
            components["database"] = "unreachable"
            reasons.append("database: unreachable")

    for name, check in ctx.health_checks.items():
        try:
            ok, state = check()
        except Exception as exc:
            log.warning("health: a check failed", check=name, error=repr(exc))
            ok, state = False, "check_failed"
        state = _public_state(ok, state)
        components[name] = state
        if not ok:
            reasons.append(f"{name}: {state}")

    supervisor = ctx.supervisor
    if supervisor is None:
        components["actors"] = "starting"
        reasons.append("actors: starting")
    else:
        if supervisor.escalated:
            reasons.append("supervisor: escalated")
        actors = {c.id: ("alive" if c.alive else "down") for c in supervisor.snapshot(state=False)}
        components["actors"] = actors
        reasons.extend(f"actor {name}: down" for name, state in actors.items() if state != "alive")

    if ctx.ownership is not None:
        # A standby is healthy: another process owns that session's events, this one takes
        # over when it dies (and a balancer may send it HTTP traffic meanwhile).
        components["process"] = ctx.ownership.public_id
        if ctx.ownership.channels:
            components["gateway_leases"] = ctx.ownership.roles()

    healthy = not reasons
    body: dict[str, Any] = {"status": "ok" if healthy else "unavailable", **components}
    if reasons:
        body["reasons"] = reasons
    return healthy, body


def _public_state(ok: bool, state: Any) -> str:
    if isinstance(state, str) and _STATE_WORDS.fullmatch(state):
        return state
    return "ok" if ok else "failed"


class SupervisorCollector(Collector):
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def collect(self) -> Any:
        up = GaugeMetricFamily("agrochat_actor_up", "1 when the actor is alive", labels=["actor"])
        restarts = GaugeMetricFamily(
            "agrochat_actor_restarts", "restarts since start", labels=["actor"]
        )
        inbox = GaugeMetricFamily(
            "agrochat_actor_inbox", "messages waiting in the inbox", labels=["actor"]
        )
        children = self.ctx.supervisor.snapshot(state=False) if self.ctx.supervisor else []
        for child in children:
            up.add_metric([child.id], 1.0 if child.alive else 0.0)
            restarts.add_metric([child.id], float(child.restarts))
            inbox.add_metric([child.id], float(child.inbox_size))
        yield up
        yield restarts
        yield inbox


def install(app: bottle.Bottle, ctx: AppContext) -> None:
    registry = CollectorRegistry()
    registry.register(SupervisorCollector(ctx))

    @app.get("/health", auth="none")
    def health() -> bottle.HTTPResponse:
        healthy, body = health_report(ctx)
        return json_response(body, 200 if healthy else 503)

    @app.get("/metrics", auth="api")
    def metrics() -> bottle.HTTPResponse:
        text = generate_latest(registry).decode()
        for extra in ctx.metrics:
            text += extra()
        bound = app.config.get("agrochat.route_bound")
        if bound is not None:
            text += bound.render_metrics()
        return bottle.HTTPResponse(
            body=text, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
        )
