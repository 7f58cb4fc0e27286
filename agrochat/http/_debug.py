"""Operator endpoints: the live actor tree, and restarting one actor."""

from __future__ import annotations

import dataclasses
import time

import bottle

from agrochat.actors.membership import lease_name
from agrochat.http._api import json_response
from agrochat.http._context import AppContext


def install(app: bottle.Bottle, ctx: AppContext) -> None:
    @app.get("/debug/actors", auth="operator")
    def actors() -> bottle.HTTPResponse:
        supervisor = ctx.require_supervisor()
        children = [dataclasses.asdict(c) for c in supervisor.snapshot()]
        ownership = ctx.ownership
        process = None
        if ownership is not None:
            process = {
                "id": ownership.process_id,
                "leases": [
                    {"name": lease_name(channel), "expires_at": at.isoformat()}
                    for channel, at in ownership.expiries().items()
                ],
                "standby": [c for c, role in ownership.roles().items() if role == "standby"],
                "processes_alive": ownership.processes_alive,
            }
        return json_response(
            {
                "process": process,
                "actors": children,
                "escalated": supervisor.escalated,
                "at": time.time(),
            }
        )

    @app.post("/debug/actors/<actor_id>/restart", auth="operator")
    def restart(actor_id: str) -> bottle.HTTPResponse:
        # NotFound for an unknown id comes from the supervisor and is rendered as JSON 404.
        ctx.require_supervisor().restart_child(actor_id)
        return json_response({"restarted": actor_id}, 202)
