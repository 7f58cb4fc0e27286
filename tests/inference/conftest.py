from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from agrochat.actors.inference import InferenceStats


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until a condition another thread makes true holds (fails the test on timeout)."""
    done = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        done.wait(0.005)


@pytest.fixture
def stats() -> InferenceStats:
    return InferenceStats()
