"""The model's state, readable from any thread without asking the actor.

The InferenceActor's mailbox is blocked while it loads the model (seconds; minutes for a large
GGUF), so /health and the client read this object instead of asking the actor.
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass


class ModelState(enum.StrEnum):
    """Where the model is; the values are the words /health and the admin panel show."""

    LOADING = "loading"
    READY = "ready"  # loaded in this process
    FAILED = "failed"  # did not load; the detail says why
    REMOTE = "remote"  # served by a remote server (AGROCHAT_INFERENCE_URL)


@dataclass(frozen=True)
class StatusView:
    state: ModelState
    detail: str
    since: float  # time.time()


class ModelStatus:
    def __init__(self, state: ModelState = ModelState.LOADING, detail: str = "") -> None:
        self._lock = threading.Lock()
        self._view = StatusView(ModelState(state), detail, time.time())

    def set(self, state: ModelState, detail: str = "") -> None:
        view = StatusView(ModelState(state), detail, time.time())
        with self._lock:
            self._view = view

    def view(self) -> StatusView:
        with self._lock:
            return self._view

    @property
    def state(self) -> ModelState:
        return self.view().state

    @property
    def detail(self) -> str:
        return self.view().detail

    def health(self) -> tuple[bool, str]:
        """For ``AppContext.health_checks``: not ok while loading either (a balancer should not
        send producers to a node without a model). The state word only: /health answers anyone,
        and the detail (a file path, an exception's text) is for operators, under /debug."""
        view = self.view()
        return view.state in (ModelState.READY, ModelState.REMOTE), view.state.value
