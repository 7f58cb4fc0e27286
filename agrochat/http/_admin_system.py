"""The panel's system page, ``/admin/system``: what agrochat is doing, for the people who run it.

The actor tree as the supervisor sees it (restarts, last failure, mailbox depth), the model, each
WhatsApp number, the agrochat processes alive on the database (from their heartbeat rows: which
one owns each WAHA session), the database and agrochat's version, on one page an admin can read
without a terminal. ``/debug/actors`` stays what it is: the same tree as JSON, for machines and
operators. Everything here is read from snapshots (plain data); no actor's live object is
touched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import agrochat
from agrochat.actors.membership import ALIVE_BEATS
from agrochat.actors.whatsapp import SCAN_QR_CODE
from agrochat.http._admin import Panel
from agrochat.http._admin_whatsapp import PROBLEM_LABELS, STANDBY_LABEL
from agrochat.logs import get_logger
from agrochat.messages import ChildSnapshot
from agrochat.persistence import ProcessStore, utcnow

log = get_logger(__name__)

Route = Callable[..., Callable[[Callable[..., Any]], Any]]
INFERENCE = "inference"
MODEL_STATES = {
    "loading": "Cargando",
    "ready": "Listo",
    "failed": "No cargó",
    "remote": "En un servidor remoto",
}


@dataclass(frozen=True)
class Model:
    state: str | None  # ModelState's value
    detail: str | None
    source: str | None  # the GGUF file, or the remote server's URL
    backend: str | None
    tokens_per_s: float | None  # of the last request
    queued: int | None  # requests waiting for or running on the model
    queue_limit: int | None
    counts: Mapping[str, int]


@dataclass(frozen=True)
class ProcessLine:
    """One agrochat process alive on the database, as the panel lists it."""

    id: str
    host: str
    pid: int
    bind: str
    version: str
    started: str
    heartbeat_ago_s: float
    owns: str
    this: bool  # the process serving this page


@dataclass(frozen=True)
class DatabaseInfo:
    kind: str
    size_bytes: int | None
    schema_version: int | None


def install(route: Route, panel: Panel) -> None:
    @route("/admin/system")
    def system() -> str:
        ctx = panel.ctx
        supervisor = ctx.supervisor
        actors: list[ChildSnapshot] | None = None
        if supervisor is not None:
            actors = list(supervisor.snapshot())
        state = panel.ctx.gateway_state
        return panel.render(
            "system",
            title="Sistema",
            nav="system",
            version=agrochat.__version__,
            actors=actors,
            escalated=supervisor.escalated if supervisor is not None else None,
            failed_at=lambda at: _failed_at(panel, at),
            model=_model(panel, actors or []),
            model_states=MODEL_STATES,
            mode=ctx.config.whatsapp,
            numbers=state.channels() if state is not None else [],
            labels=PROBLEM_LABELS,
            standby_label=STANDBY_LABEL,
            scan=SCAN_QR_CODE,
            database=_database(panel),
            processes=_processes(panel),
            size=human_size,
        )


def _failed_at(panel: Panel, at: float | None) -> str:
    if at is None:
        return "—"
    return panel.local(dt.datetime.fromtimestamp(at, dt.UTC).replace(tzinfo=None))


def _model(panel: Panel, actors: list[ChildSnapshot]) -> Model:
    state: Mapping[str, Any] = next((a.state for a in actors if a.id == INFERENCE), {})
    backend = state.get("backend") or {}
    metrics = state.get("last_metrics") or {}
    client = panel.ctx.inference
    return Model(
        state=state.get("state"),
        detail=state.get("detail") or state.get("failure"),
        source=backend.get("model") or backend.get("url"),
        backend=backend.get("backend"),
        tokens_per_s=metrics.get("tokens_per_s"),
        queued=client.in_flight if client is not None else None,
        queue_limit=client.queue_limit if client is not None else None,
        counts=dict(state.get("counts") or {}),
    )


def _processes(panel: Panel) -> list[ProcessLine] | None:
    """The processes with a recent heartbeat; None when the database is not open or failed."""
    db = panel.ctx.database
    if db is None:
        return None
    config = panel.ctx.config
    now = utcnow()
    try:
        rows = ProcessStore(db).alive(ALIVE_BEATS * config.heartbeat_s, now=now)
    except Exception:
        log.exception("could not read the processes")
        return None
    ownership = panel.ctx.ownership
    this = ownership.process_id if ownership is not None else None
    return [
        ProcessLine(
            id=row.id,
            host=row.host,
            pid=row.pid,
            bind=row.bind,
            version=row.version,
            started=panel.local(row.started_at),
            heartbeat_ago_s=max(0.0, (now - row.heartbeat_at).total_seconds()),
            owns=owns_text(row.owns),
            this=row.id == this,
        )
        for row in rows
    ]


def owns_text(owns: Mapping[str, Any]) -> str:
    """What a heartbeat row says a process holds, for people: "WAHA default, ventas ·
    producers: 3"; "—" for nothing."""
    parts = []
    gateway = owns.get("gateway")
    if gateway:
        parts.append("WAHA " + ", ".join(str(c) for c in gateway))
    parts += [f"{name}: {value}" for name, value in owns.items() if name != "gateway"]
    return " · ".join(parts) or "—"


def _database(panel: Panel) -> DatabaseInfo | None:
    db = panel.ctx.database
    if db is None:
        return None
    try:
        size = db.size_bytes()
    except Exception:
        # A size is nice to have: a permission problem must not take the page down.
        log.exception("could not read the database size")
        size = None
    return DatabaseInfo(kind=db.dialect, size_bytes=size, schema_version=db.current_version())


def human_size(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
