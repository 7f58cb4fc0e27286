"""The system page: a real supervisor (a real inference actor on a fake model, and an actor that
fails once), the WhatsApp numbers' state, the database and the version, for logged-in admins."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest

import agrochat
from agrochat.actors.inference import InferenceActor, InferenceClient, ModelStatus
from agrochat.actors.inference.testing import FakeBackend
from agrochat.actors.membership import Ownership
from agrochat.actors.whatsapp import GatewayState
from agrochat.config import Config
from agrochat.http._admin_system import human_size, owns_text
from agrochat.messages import Inspect
from agrochat.persistence import Database, ProcessInfo, ProcessStore, utcnow
from agrochat.supervisor import ChildSpec, Supervised, Supervisor
from tests.admin.conftest import Browser, Panel
from tests.conftest import FakePeers

MODEL_FILE = "/srv/modelos/qwen2.5-3b-instruct-q4_k_m.gguf"


class Flaky(Supervised, pykka.ThreadingActor):
    """Fails on "crash" (a tell: Pykka calls on_failure and the supervisor restarts it)."""

    started = 0
    restarted = threading.Event()

    def on_start(self) -> None:
        Flaky.started += 1
        if Flaky.started > 1:
            Flaky.restarted.set()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Inspect):
            return {}
        if message == "crash":
            raise ValueError("la helada rompió el sensor")
        return None


class ModelFile(FakeBackend):
    """The fake model, described as the llama.cpp backend describes a real one: by its file."""

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model": MODEL_FILE}


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 5.0) -> None:
    """Poll a condition (not a fixed sleep): returns as soon as it holds."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        tick.wait(0.005)


@pytest.fixture
def running(panel: Panel) -> Iterator[Supervisor]:
    Flaky.started = 0
    Flaky.restarted = threading.Event()
    status = ModelStatus()
    config = Config()
    supervisor = Supervisor(
        [
            ChildSpec(
                id="inference",
                start=lambda: InferenceActor.start(
                    config, status=status, backend_factory=lambda _config: ModelFile()
                ),
            ),
            ChildSpec(id="sensor", start=lambda: Flaky.start()),
        ]
    )
    supervisor.start()
    peers = FakePeers()
    panel.context.supervisor = supervisor
    panel.context.inference = InferenceClient(peers, queue_limit=8, status=status)  # type: ignore[arg-type]
    try:
        yield supervisor
    finally:
        supervisor.stop()


def test_system_page_shows_actors_model_gateway_database_and_version(
    panel: Panel, browser: Browser, running: Supervisor
) -> None:
    wait_until(
        lambda: any(a.id == "inference" and a.state.get("state") for a in running.snapshot()),
        "the model to report its state",
    )
    running.ref("sensor").tell("crash")
    assert Flaky.restarted.wait(5)
    wait_until(
        lambda: any(a.id == "sensor" and a.restarts == 1 for a in running.snapshot()),
        "the restart to be counted",
    )
    gateway = GatewayState([("default", "waha"), ("ventas", "cloud")])
    gateway.session_changed("default", "SCAN_QR_CODE")
    panel.context.gateway_state = gateway

    page = browser.get("/admin/system")
    assert page.status_code == 200
    html = page.text
    rows = {
        actor: cells
        for actor, cells in re.findall(
            r'<td[^>]*><strong class="mono">(\w+)</strong>.*?</td>(.*?)</tr>', html, re.S
        )
    }
    assert set(rows) == {"inference", "sensor"}
    cells = [
        re.sub(r"<[^>]+>", " ", c).split()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", rows["sensor"], re.S)
    ]
    assert cells[0] == ["vivo"]
    assert cells[1] == ["0"]  # nothing waiting in its mailbox
    assert cells[2] == ["1"]  # one restart
    assert "ValueError: la helada rompió el sensor" in html
    # The model: its state, its file, its queue.
    assert "Listo" in html
    assert MODEL_FILE in html
    assert "0 de 8 como máximo" in html
    # Each number; the one waiting for a phone links to the page with its QR.
    assert "waha default" in html and "cloud ventas" in html
    assert "Esperando que se vincule un teléfono" in html
    assert '<a href="/admin/whatsapp">Vincular el teléfono (código QR)</a>' in html
    # The database and agrochat itself.
    assert ">SQLite<" in html
    assert re.search(r"<dt>Tamaño</dt><dd>\d+\.\d (KB|MB)</dd>", html)
    assert f"<dt>Versión del esquema</dt><dd>{panel.db.migrate()}</dd>" in html
    assert f"agrochat {agrochat.__version__}" in html
    # The panel's navigation leads here.
    assert '<a href="/admin/system" class="active">Sistema</a>' in html


def test_system_page_lists_the_processes_alive_and_what_each_owns(
    panel: Panel, browser: Browser
) -> None:
    store = ProcessStore(panel.db)
    now = utcnow()

    def process(id: str, host: str, pid: int, bind: str) -> ProcessInfo:
        return ProcessInfo(id=id, host=host, pid=pid, bind=bind, version="0.1.0", started_at=now)

    this = process("campo-1:101:a1b2c3", "campo-1", 101, "10.0.0.5:5000")
    other = process("campo-2:202:d4e5f6", "campo-2", 202, "10.0.0.6:5000")
    gone = process("campo-3:303:aaaaaa", "campo-3", 303, "10.0.0.7:5000")
    store.heartbeat(this, {"gateway": [], "producers": 2}, now=now)
    store.heartbeat(other, {"gateway": ["default"]}, now=now)
    store.heartbeat(gone, {"gateway": ["ventas"]}, now=now - dt.timedelta(minutes=5))
    panel.context.ownership = Ownership(this.id, ("default",), margin_s=2.5)

    html = browser.get("/admin/system").text
    row = r'<td data-label="Proceso"><span class="mono">([^<]+)</span>(.*?)</tr>'
    rows = dict(re.findall(row, html, re.S))
    assert set(rows) == {this.id, other.id}  # the one that stopped beating is not listed
    assert "este" in rows[this.id] and "este" not in rows[other.id]
    assert "10.0.0.6:5000" in rows[other.id] and ">202<" in rows[other.id]
    assert "WAHA default" in rows[other.id]
    assert "producers: 2" in rows[this.id]
    assert "hace 0 s" in rows[other.id]


def test_what_a_process_owns_reads_as_words() -> None:
    assert owns_text({}) == "—"
    assert owns_text({"gateway": []}) == "—"
    assert owns_text({"gateway": ["default", "ventas"], "producers": 3}) == (
        "WAHA default, ventas · producers: 3"
    )


def test_system_page_while_agrochat_is_starting(panel: Panel, browser: Browser) -> None:
    panel.context.supervisor = None
    page = browser.get("/admin/system")
    assert page.status_code == 200
    assert "agrochat está iniciando" in page.text
    assert f"<dt>Versión del esquema</dt><dd>{panel.db.migrate()}</dd>" in page.text


def test_system_page_needs_a_login(panel: Panel) -> None:
    with panel.client() as client:
        response = client.get("/admin/system")
    assert response.status_code == 303
    assert "/admin/login?next=%2Fadmin%2Fsystem" in response.headers["location"]


def test_database_size_is_the_sqlite_file_or_pg_database_size(database: Database) -> None:
    size = database.size_bytes()
    assert size is not None and size > 10_000  # the schema and the seeded knowledge
    assert human_size(size).endswith(("KB", "MB"))


def test_sizes_read_as_bytes_kilobytes_and_megabytes() -> None:
    assert human_size(None) == "—"
    assert human_size(512) == "512 B"
    assert human_size(2048) == "2.0 KB"
    assert human_size(5 * 1024 * 1024 + 1) == "5.0 MB"
    assert human_size(3 * 1024**4) == "3072.0 GB"
