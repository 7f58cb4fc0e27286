"""The WSGI front that answers while agrochat starts.

Importing the full app (SQLAlchemy, alembic, the actors) and opening the database take longer than
the one second in which /health must answer, so the server starts with this front: /health says
what is still starting, every other route a JSON 503, until the real app is swapped in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

STARTING_HEALTH = {
    "status": "unavailable",
    "database": "starting",
    "model": "loading",
    "actors": "starting",
    "reasons": ["agrochat is starting"],
}
NOT_READY = {"error": {"code": "not_ready", "message": "agrochat is starting; try again shortly"}}


def _starting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = STARTING_HEALTH if environ.get("PATH_INFO") == "/health" else NOT_READY
    data = json.dumps(body).encode()
    start_response(
        "503 Service Unavailable",
        [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(data))),
            ("Retry-After", "1"),
        ],
    )
    return [data]


class SwappableApp:
    """A WSGI app whose target can be replaced while the server runs (one attribute write)."""

    def __init__(self, target: WsgiApp = _starting) -> None:
        self.target = target

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        return self.target(environ, start_response)
