"""The model's state, readable from any thread without asking the actor.

The InferenceActor's mailbox is blocked while it loads the model (seconds; minutes for a large
GGUF), so /health and the client read this object instead of asking the actor.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

STATES = ("loading", "ready", "failed", "remote")


@dataclass(frozen=True)
class StatusView:
    state: str
    detail: str
    since: float  # time.time()


class ModelStatus:
    def __init__(self, state: str = "loading", detail: str = "") -> None:
        self._lock = threading.Lock()
        self._view = StatusView(state, detail, time.time())
        self._check(state)

    @staticmethod
    def _check(state: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown model state {state!r}; expected one of {STATES}")

    def set(self, state: str, detail: str = "") -> None:
        self._check(state)
        with self._lock:
            self._view = StatusView(state, detail, time.time())

    def view(self) -> StatusView:
        with self._lock:
            return self._view

    @property
    def state(self) -> str:
        return self.view().state

    @property
    def detail(self) -> str:
        return self.view().detail

    @property
    def usable(self) -> bool:
        return self.state in ("ready", "remote")

    def health(self) -> tuple[bool, str]:
        """For ``AppContext.health_checks``: ok while loading too (the process is fine and the
        model will be there shortly); not ok when it failed."""
        view = self.view()
        text = f"{view.state}: {view.detail}" if view.detail else view.state
        return view.state != "failed", text
