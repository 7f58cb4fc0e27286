"""The WSGI app served in-process by waitress: a production, multi-threaded server."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import waitress
from waitress import wasyncore

from agrochat.logs import get_logger

log = get_logger(__name__)

# waitress answers an over-long body itself, in plain text. Its limit sits far above ours so that
# every realistic oversize request reaches json_body and gets agrochat's JSON 413; this one only
# protects memory and disk from absurd uploads.
WAITRESS_BODY_LIMIT = 16 * 1024 * 1024
# waitress stops accepting connections at 100 open ones by default, and a new one (a balancer's
# /health check, an admin's browser) then waits in the listen backlog however idle the threads
# are: measured with bench/hardening.py, 200 producers' clients kept /health out for 10 s. Open
# connections cost a socket and a few kB, not a thread. Kept under the usual 1024 open files.
CONNECTION_LIMIT = 500


class HttpServer:
    """waitress on its own thread, with a stop that lets in-flight requests finish."""

    def __init__(
        self,
        app: Any,
        *,
        host: str,
        port: int,
        threads: int = 8,
        trusted_proxy: str = "",
        trusted_proxy_headers: str = "",
        trusted_proxy_count: int = 1,
    ) -> None:
        proxy: dict[str, Any] = {}
        if trusted_proxy:
            # waitress then puts the forwarded client address in REMOTE_ADDR and the forwarded
            # scheme in wsgi.url_scheme, for requests from that address only.
            proxy = {
                "trusted_proxy": trusted_proxy,
                "trusted_proxy_headers": set(trusted_proxy_headers.split()),
                "trusted_proxy_count": trusted_proxy_count,
            }
        self._server = waitress.create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            max_request_body_size=WAITRESS_BODY_LIMIT,
            connection_limit=CONNECTION_LIMIT,
            # select() cannot watch a descriptor numbered 1024 or more; poll() can.
            asyncore_use_poll=True,
            ident="agrochat",
            # Forwarded headers from anyone else are removed before the app sees them (Bottle
            # would believe X-Forwarded-Proto and X-Forwarded-For from anybody).
            clear_untrusted_proxy_headers=True,
            **proxy,
        )
        self._thread = threading.Thread(target=self._run, name="http-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # type: ignore[union-attr]

    @property
    def host(self) -> str:
        return str(self._server.effective_host)  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        # close_all() from stop() can race the poll loop on a closed descriptor.
        with contextlib.suppress(OSError):
            self._server.run()

    def start(self) -> None:
        self._thread.start()
        log.info("http server listening", url=self.url)

    def stop(self, timeout_s: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        # Finish requests already being handled, then close every socket so the loop ends.
        self._server.task_dispatcher.shutdown(cancel_pending=False, timeout=timeout_s)
        wasyncore.close_all(self._server._map)  # type: ignore[union-attr]
        self._thread.join(timeout_s)
        log.info("http server stopped")
