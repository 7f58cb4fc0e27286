"""An aiohttp application served on 127.0.0.1 (a random port) from a thread of its own.

aiohttp serves HTTP with request bodies and websockets on one port, as WAHA does; the websockets
package's server cannot (its HTTP side refuses request bodies, websockets.http11.Request.parse),
and the fakes need POST bodies next to /ws.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


class ServerThread:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app, handle_signals=False)
        # Bound here so the port is known before the loop runs and no other test can take it.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.started = False

    def start(self) -> None:
        self._thread.start()
        self.call(self._start())
        self.started = True

    async def _start(self) -> None:
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 10.0) -> T:
        """Run ``coro`` on the server's loop (where the sockets live) and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def stop(self) -> None:
        """Close every connection and the listening socket; calling it again does nothing."""
        if self.loop.is_closed():
            return
        if self.started:
            self.call(self._runner.cleanup())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self.loop.close()
        self._sock.close()
