"""The periodic self-tell every actor shell uses."""

from __future__ import annotations

import threading
from typing import Any

from agrochat.actors._common import Ticker
from agrochat.messages import Tick


class _CountingRef:
    def __init__(self, wanted: int) -> None:
        self.ticks: list[Tick] = []
        self.wanted = wanted
        self.enough = threading.Event()

    def tell(self, message: Any) -> None:
        self.ticks.append(message)
        if len(self.ticks) >= self.wanted:
            self.enough.set()


def test_ticker_tells_tick_every_interval() -> None:
    ref = _CountingRef(wanted=3)
    ticker = Ticker(ref, 0.01, message=lambda at: Tick(at=at), name="t")  # type: ignore[arg-type]
    ticker.start()
    try:
        # Each tick is only told once the previous one was taken (as the actor does).
        for _ in range(3):
            while not ticker.outstanding.wait(5):
                pass
            ticker.handled()
        assert ref.enough.wait(5)
    finally:
        ticker.stop()
    assert all(isinstance(t, Tick) for t in ref.ticks)


def test_ticker_never_queues_a_second_tick_while_one_waits() -> None:
    ref = _CountingRef(wanted=1)
    ticker = Ticker(ref, 0.001, message=lambda at: Tick(at=at), name="t")  # type: ignore[arg-type]
    ticker.start()
    try:
        assert ref.enough.wait(5)
        # Nobody takes the tick: however long we look, there is exactly one.
        stopped = threading.Event()
        stopped.wait(0.05)
        assert len(ref.ticks) == 1
    finally:
        ticker.stop()
