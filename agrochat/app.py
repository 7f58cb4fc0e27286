"""The running agrochat process: HTTP server, database and the supervised actor tree.

Start-up order is chosen so that ``/health`` answers within a second of start: the HTTP server
comes first, serving a small front that reports what is still starting; then the heavy imports,
the database and the actors (in dependency order; slow ones, the model, load in their own
threads); then the full app is swapped in. Stop is the reverse, in one place.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, TextIO

import pykka

from agrochat import logs
from agrochat.config import Config
from agrochat.credentials import ensure_credentials
from agrochat.errors import NotReady
from agrochat.http._boot import SwappableApp
from agrochat.http._server import HttpServer
from agrochat.logs import get_logger
from agrochat.private_files import private_dir
from agrochat.supervisor import Supervisor

if TYPE_CHECKING:
    from agrochat.actors.transcription import Transcriber
    from agrochat.http import AppContext
    from agrochat.persistence import Database, ServingLock
    from agrochat.wiring import Wiring

log = get_logger(__name__)


class Agrochat:
    def __init__(
        self,
        config: Config,
        *,
        announce: TextIO | None = None,
        transcription: Transcriber | None = None,
    ) -> None:
        """``transcription``: what hears voice notes (tests give a double)."""
        # Before anything writes into it: the database and secrets it holds are private.
        private_dir(config.data_path)
        self.config = ensure_credentials(config, announce=announce)
        logs.masker.add(self.config.secrets())
        self.stopped = threading.Event()
        self.exit_reason: str | None = None
        self.database: Database | None = None
        self.supervisor: Supervisor | None = None
        self.context: AppContext | None = None
        self.wiring: Wiring | None = None
        self.transcription = transcription
        self._serving: ServingLock | None = None
        self._front = SwappableApp()
        self.http = HttpServer(
            self._front,
            host=self.config.host,
            port=self.config.port,
            threads=self.config.http_threads,
            trusted_proxy=self.config.trusted_proxy,
            trusted_proxy_headers=self.config.trusted_proxy_headers,
            trusted_proxy_count=self.config.trusted_proxy_count,
        )

    def start(self) -> None:
        self.http.start()
        try:
            # Imported only now: the routes, dataset, SQLAlchemy and alembic take most of a
            # second, and /health must answer before that.
            from agrochat import wiring
            from agrochat.http import AppContext, make_app
            from agrochat.persistence import ServingLock, open_database

            self._serving = ServingLock.claim(self.config.effective_database_url)
            self.database = open_database(self.config.effective_database_url)
            built = self.wiring = wiring.build(
                self.config,
                self.database,
                peers=self,
                transcription=self.transcription,
                bind=f"{self.http.host}:{self.http.port}",
            )
            self.supervisor = Supervisor(
                built.specs,
                intensity=self.config.restart_intensity,
                period_s=self.config.restart_period_s,
                on_escalate=self._on_escalate,
            )
            self.context = AppContext(
                config=self.config,
                supervisor=self.supervisor,
                database=self.database,
                health_checks=built.health_checks,
                metrics=built.metrics,
                sessions=built.sessions,
                inference=built.inference,
                channels=built.channels,
                inbox=built.inbox,
                gateway_state=built.gateway_state,
                delivers=built.channels is not None,
                ownership=built.ownership,
            )
            self.supervisor.start()
            self._front.target = make_app(self.context)
        except BaseException:
            self.stop()
            raise
        log.info("agrochat started", url=self.http.url)

    # Peers: actors look each other up through these at call time, so a restarted actor is
    # found again. They exist before the supervisor does (the wiring hands them out first).

    def ref(self, actor_id: str) -> pykka.ActorRef[Any]:
        if self.supervisor is None:
            raise NotReady("agrochat is starting")
        return self.supervisor.ref(actor_id)

    def _on_escalate(self, reason: str) -> None:
        self.exit_reason = reason
        self.stopped.set()

    def stop(self) -> None:
        """Stop accepting requests, let in-flight work finish, stop actors in reverse order."""
        self.http.stop()
        if self.supervisor is not None:
            self.supervisor.stop()
        if self.wiring is not None:
            self.wiring.close()
        if self.database is not None:
            self.database.close()
        if self._serving is not None:
            self._serving.release()
            self._serving = None
        self.stopped.set()
        log.info("agrochat stopped")
