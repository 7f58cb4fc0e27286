"""The HTTP face of agrochat: the seed's API, /health, /metrics, /debug."""

from agrochat.http._app import make_app
from agrochat.http._context import AppContext
from agrochat.http._server import HttpServer

__all__ = ["AppContext", "HttpServer", "make_app"]
