"""The assembled process in-process: start order, escalation to a non-zero exit."""

from __future__ import annotations

import dataclasses
import socket
from typing import Any

import pykka

from agrochat import wiring
from agrochat.__main__ import main
from agrochat.supervisor import ChildSpec, Supervised


class NeverStarts(Supervised, pykka.ThreadingActor):
    def on_start(self) -> None:
        raise OSError("gateway unreachable")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_restart_loop_that_never_succeeds_exits_non_zero_with_a_clear_line(
    monkeypatch, tmp_path, capsys
) -> None:
    monkeypatch.setenv("AGROCHAT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AGROCHAT_BIND", f"127.0.0.1:{_free_port()}")
    monkeypatch.setenv("AGROCHAT_RESTART_INTENSITY", "2")
    monkeypatch.setenv("AGROCHAT_LOG_FORMAT", "console")
    build = wiring.build

    def flaky(*args: Any, **kwargs: Any) -> wiring.Wiring:
        return dataclasses.replace(
            build(*args, **kwargs), specs=[ChildSpec(id="flaky", start=NeverStarts.start)]
        )

    monkeypatch.setattr(wiring, "build", flaky)
    assert main(["serve"]) == 1
    out = capsys.readouterr().out
    assert "supervisor giving up" in out
    assert "gateway unreachable" in out
    assert "exiting: supervisor gave up" in out
