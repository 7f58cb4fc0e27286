from __future__ import annotations

import io
import json
import logging
import threading

import pykka
import structlog

from agrochat import logs


class _Crashes(pykka.ThreadingActor):
    def __init__(self, failed: threading.Event) -> None:
        super().__init__()
        self.failed = failed

    def on_receive(self, message):
        raise RuntimeError("boom")

    def on_failure(self, *exc_info) -> None:
        # Pykka logs the failure before calling on_failure.
        self.failed.set()


def _configure(stream: io.StringIO, secrets=()) -> None:
    logs.masker.secrets.clear()
    logs.configure(fmt="json", level="INFO", secrets=secrets, stream=stream)


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_lines_are_json_with_bound_request_and_producer_ids() -> None:
    stream = io.StringIO()
    _configure(stream)
    with structlog.contextvars.bound_contextvars(request_id="r-1", producer="51987654321"):
        logs.get_logger("t").info("answered", ms=12)
    (line,) = _lines(stream)
    assert line["event"] == "answered"
    assert line["request_id"] == "r-1"
    assert line["producer"] == "51987654321"
    assert line["level"] == "info"


def test_secrets_are_masked_wherever_they_appear() -> None:
    stream = io.StringIO()
    secret = "s3cr3t-api-key-value"
    _configure(stream, secrets=[secret])
    logs.get_logger("t").info(f"header Bearer {secret}", headers={"auth": secret})
    logging.getLogger("other.library").warning("leaked %s", secret)
    text = stream.getvalue()
    assert secret not in text
    assert text.count(logs.MASK) == 3


def test_pykka_failures_are_routed_through_structlog() -> None:
    stream = io.StringIO()
    _configure(stream)
    failed = threading.Event()
    ref = _Crashes.start(failed)
    ref.tell("anything")
    assert failed.wait(5)
    records = [line for line in _lines(stream) if line.get("logger") == "pykka"]
    assert records, stream.getvalue()
    assert "Unhandled exception" in records[0]["event"]
    assert "RuntimeError: boom" in records[0]["exception"]
