"""The Bottle app factory: routes from each module, credentials, request ids, JSON errors.

Every route declares who may call it with ``auth=`` in its route config (``"api"``,
``"operator"``, ``"none"``; absent means ``"api"``), so a route that forgets to say is closed,
not open. Errors are rendered in one place (``_render_error``); no request can produce a 500 page
or a stack trace.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import bottle
import structlog

from agrochat.errors import AgrochatError, MethodNotAllowed, NotFound
from agrochat.http import _admin, _agent, _alerts, _chat, _debug, _forms, _health, _webhooks
from agrochat.http._api import check_bearer, json_response
from agrochat.http._bound import RouteBound, RouteBoundPlugin
from agrochat.http._context import AppContext
from agrochat.logs import get_logger

log = get_logger(__name__)

ROUTE_MODULES = (_health, _debug, _chat, _agent, _forms, _alerts, _webhooks, _admin)
REQUEST_ID_HEADER = "X-Request-Id"


def _render_error(error: AgrochatError) -> bottle.HTTPResponse:
    response = json_response(error.to_json(), status=error.status)
    if error.status == 401:
        response.set_header("WWW-Authenticate", "Bearer")
    retry_after = getattr(error, "retry_after_s", None)
    if retry_after:
        response.set_header("Retry-After", str(retry_after))
    return response


class JsonErrorsPlugin:
    """Turns AgrochatErrors into JSON responses and any other exception into a bare JSON 500."""

    name = "agrochat_json_errors"
    api = 2

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except bottle.HTTPResponse:
                raise
            except AgrochatError as exc:
                return _render_error(exc)
            except Exception:
                log.exception("unhandled error in route", route=route.rule)
                return json_response(
                    {"error": {"code": "internal_error", "message": "internal error"}}, 500
                )

        return wrapper


class AuthPlugin:
    name = "agrochat_auth"
    api = 2

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        auth = route.config.get("auth", "api")
        if auth == "none":
            return callback
        if auth == "api":
            key, what = self.ctx.config.api_key, "AGROCHAT_API_KEY"
        elif auth == "operator":
            key, what = self.ctx.config.operator_token, "AGROCHAT_OPERATOR_TOKEN"
        else:
            # Routes with their own scheme (the admin panel's login) check it themselves.
            return callback

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check_bearer(bottle.request, key, what=what)
            return callback(*args, **kwargs)

        return wrapper


class RequestIdPlugin:
    """Binds a request id (the caller's X-Request-Id, or a new one) to every log line."""

    name = "agrochat_request_id"
    api = 2

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = bottle.request.get_header(REQUEST_ID_HEADER, "")
            request_id = given[:64] if given.isprintable() and given else uuid.uuid4().hex
            bottle.request.environ["agrochat.request_id"] = request_id
            bottle.response.set_header(REQUEST_ID_HEADER, request_id)
            started = time.perf_counter()
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                try:
                    result = callback(*args, **kwargs)
                except bottle.HTTPResponse as response:
                    response.set_header(REQUEST_ID_HEADER, request_id)
                    raise
                else:
                    # A returned HTTPResponse replaces bottle.response and its headers.
                    if isinstance(result, bottle.HTTPResponse):
                        result.set_header(REQUEST_ID_HEADER, request_id)
                    return result
                finally:
                    log.debug(
                        "request",
                        method=bottle.request.method,
                        path=bottle.request.path,
                        ms=round((time.perf_counter() - started) * 1000, 1),
                    )

        return wrapper


def _routing_error(error: bottle.HTTPError) -> str:
    """Bottle's own errors (no route, wrong method, a crash before a plugin ran) as JSON."""
    if error.status_code == 404:
        exc: AgrochatError = NotFound(f"no route for {bottle.request.path}")
    elif error.status_code == 405:
        allowed = error.headers.get("Allow", "") if error.headers else ""
        exc = MethodNotAllowed(f"{bottle.request.method} is not allowed here; use {allowed}")
    else:
        exc = AgrochatError("internal error")
        exc.status = error.status_code
        exc.code = "http_error" if error.status_code < 500 else "internal_error"
    bottle.response.content_type = "application/json; charset=utf-8"
    body = _render_error(exc)
    return str(body.body)


def make_app(ctx: AppContext) -> bottle.Bottle:
    app = bottle.Bottle(catchall=True)
    app.config["json.enable"] = False
    # Bottle applies the last installed plugin innermost: request ids wrap error rendering,
    # which wraps the credential check, which wraps the bound on routes that wait on the model
    # (so a request without credentials never takes a slot).
    bound = RouteBound(ctx.config.model_route_slots)
    app.config["agrochat.route_bound"] = bound
    app.install(RequestIdPlugin())
    app.install(JsonErrorsPlugin())
    app.install(AuthPlugin(ctx))
    app.install(RouteBoundPlugin(bound))
    for code in (400, 404, 405, 413, 500):
        app.error(code)(_routing_error)
    # Bottle's own handler renders HTML for any code without one; keep every answer JSON.
    app.default_error_handler = _routing_error  # type: ignore[method-assign]
    for module in ROUTE_MODULES:
        module.install(app, ctx)
    return app
