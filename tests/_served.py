"""``agrochat serve`` as a real process on a free loopback port, its log in a file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, tmp_path: Path, *, log_name: str = "serve.log", **env: str) -> None:
        """``env``: AGROCHAT_* settings; a second process on the same ``tmp_path`` shares the
        data directory (its database) and writes its own ``log_name``."""
        self.port = _free_port()
        self.log_path = tmp_path / log_name
        self.data_dir = tmp_path / "data"
        environ = {
            **os.environ,
            "AGROCHAT_DATA_DIR": str(self.data_dir),
            "AGROCHAT_BIND": f"127.0.0.1:{self.port}",
            "AGROCHAT_LOG_FORMAT": "json",
            # The speech model is tested where voice notes are; elsewhere it is only a cost.
            "AGROCHAT_ASR": "off",
            **env,
        }
        self.log = self.log_path.open("w")
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agrochat", "serve"],
            env=environ,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def first_health(self, timeout_s: float = 10.0) -> tuple[float, httpx.Response]:
        """Seconds from process start to the first answer of /health, and that answer."""
        deadline = self.started_at + timeout_s
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1)
                return time.monotonic() - self.started_at, response
            except httpx.TransportError:
                # Nothing to wait on across a process boundary but the port itself.
                time.sleep(0.01)
        raise AssertionError(f"no /health within {timeout_s} s:\n{self.log_path.read_text()}")

    def lines(self) -> list[dict]:
        out = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.log.close()
        return code

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or closed (a crash, an OOM kill)."""
        self.process.kill()
        self.process.wait(timeout=30)
        self.log.close()
