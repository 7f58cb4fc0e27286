"""The HTTP face of agrochat: the seed's API, /health, /metrics, /debug.

Names are resolved lazily (PEP 562): ``agrochat serve`` imports the server and the start-up front
first, so /health answers before the route modules and what they import are loaded.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agrochat.http._app import make_app
    from agrochat.http._boot import SwappableApp
    from agrochat.http._context import AppContext
    from agrochat.http._server import HttpServer

_EXPORTS = {
    "AppContext": "agrochat.http._context",
    "HttpServer": "agrochat.http._server",
    "SwappableApp": "agrochat.http._boot",
    "make_app": "agrochat.http._app",
}

__all__ = ["AppContext", "HttpServer", "SwappableApp", "make_app"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
