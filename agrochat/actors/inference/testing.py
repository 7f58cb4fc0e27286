"""Test doubles for the model: a backend that answers instantly, for logic tests and benchmarks
of the parts around inference (sessions, HTTP), where loading a real model would only add time.
And LlamaServer: a real llama-cpp-python ``llama_cpp.server`` process on loopback, for the
tests and the benchmark of a pool of model servers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from agrochat.actors.inference._backend import ChatMessages, Completion
from agrochat.model_output import build_output

Respond = Callable[[ChatMessages, Mapping[str, Any] | None], str]


def canned_reply(messages: ChatMessages, schema: Mapping[str, Any] | None) -> str:
    """A deterministic, schema-valid model_output that quotes the last user message."""
    last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    output = build_output(role="consulta", text=f"Respuesta de prueba a: {last[:200]}")
    del output["estado"]["conocimiento"]  # not part of what the seed's model returns
    output["estado"]["respondida"] = True
    return json.dumps(output, ensure_ascii=False)


class FakeBackend:
    """A Backend whose reply is ``respond(messages, schema)`` (default: ``canned_reply``).

    ``respond`` may block (on a threading.Event) to hold the model busy in queue tests, or
    raise to simulate a failing model. Every call is recorded in ``calls``.
    """

    kind = "fake"

    def __init__(self, respond: Respond | None = None, *, finish_reason: str = "stop") -> None:
        self.respond = respond or canned_reply
        self.finish_reason = finish_reason
        self.calls: list[dict[str, Any]] = []
        self.closed = False
        self._lock = threading.Lock()

    def complete(
        self,
        messages: ChatMessages,
        *,
        schema: Mapping[str, Any] | None,
        max_tokens: int,
        temperature: float,
        cache_key: str | None,
        deadline: float | None = None,
    ) -> Completion:
        with self._lock:
            self.calls.append(
                {
                    "messages": [dict(m) for m in messages],
                    "schema": schema,
                    "max_tokens": max_tokens,
                    "temperature": temperature,
                    "cache_key": cache_key,
                    "deadline": deadline,
                }
            )
        content = self.respond(messages, schema)
        prompt = sum(len(m.get("content", "").split()) for m in messages)
        return Completion(
            content=content,
            finish_reason=self.finish_reason,
            prompt_tokens=prompt,
            prompt_tokens_reused=0,
            generated_tokens=len(content.split()),
            time_to_first_token_s=0.0,
        )

    def describe(self) -> dict[str, Any]:
        return {"backend": self.kind, "calls": len(self.calls)}

    def close(self) -> None:
        self.closed = True


class NoOpinionBackend:
    """The benchmarks' model: answers what a model with no opinion gives (``{}``: the rules
    decide, the wording stays) after ``delay_s``, one call at a time as the InferenceActor
    makes them, and keeps nothing (recording every call, as FakeBackend does, would grow a
    long benchmark's memory and blur what it measures)."""

    kind = "fake"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def complete(
        self,
        messages: ChatMessages,
        *,
        schema: Mapping[str, Any] | None,
        max_tokens: int,
        temperature: float,
        cache_key: str | None,
        deadline: float | None = None,
    ) -> Completion:
        if self.delay_s:
            time.sleep(self.delay_s)  # the model's work, simulated
        return Completion(
            content="{}",
            finish_reason="stop",
            prompt_tokens=sum(len(m["content"]) for m in messages) // 4,
            generated_tokens=1,
        )

    def describe(self) -> dict[str, Any]:
        return {"backend": self.kind}

    def close(self) -> None:
        pass


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's pick; another process could take it
    before we bind, which on a test machine does not happen in practice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """``python -m llama_cpp.server`` on 127.0.0.1: llama-cpp-python's OpenAI-compatible server,
    which works on one request at a time. ``start`` returns once ``GET /v1/models`` answers.

    ``n_threads`` is used for generation and prompt evaluation both, so N servers of one thread
    use N cores. The same ``port`` can be started again after ``kill`` (a restarted server).
    """

    def __init__(
        self,
        model: Path,
        *,
        port: int | None = None,
        n_threads: int = 1,
        n_ctx: int = 2048,
        log: Path | None = None,
        python: str = sys.executable,
    ) -> None:
        self.model = Path(model)
        self.port = port or free_port()
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self.log = log
        self.python = python
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not running"
        return self.process.pid

    def start(self, timeout_s: float = 60.0) -> LlamaServer:
        command = [
            self.python,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            "--n_ctx",
            str(self.n_ctx),
            "--verbose",
            "false",
        ]
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        finally:
            if self.log:
                out.close()  # type: ignore[union-attr]
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pause = threading.Event()
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"llama_cpp.server on port {self.port} exited with {self.process.returncode}"
                    + (f"; see {self.log}" if self.log else "")
                )
            try:
                if httpx.get(f"{self.url}/v1/models", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            pause.wait(0.2)  # polling another process's readiness, not a race in ours
        self.stop()
        raise RuntimeError(f"llama_cpp.server on port {self.port} not ready in {timeout_s} s")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return ticks / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        """SIGKILL: the server dies as a crashed machine's would, mid-request."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
