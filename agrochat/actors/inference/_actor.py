"""InferenceActor: owns the one model; requests are served one at a time, in arrival order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pykka

from agrochat.actors.inference._assemble import assemble_default_model
from agrochat.actors.inference._backend import Backend
from agrochat.actors.inference._metrics import STATS, InferenceStats
from agrochat.actors.inference._remote import OpenAIBackend, SeedBackend
from agrochat.actors.inference._runner import ModelRunner
from agrochat.actors.inference._status import ModelState, ModelStatus
from agrochat.config import Config
from agrochat.errors import AgrochatError
from agrochat.logs import get_logger
from agrochat.messages import InferenceRequest, InferenceResult, Inspect
from agrochat.supervisor import Supervised

log = get_logger(__name__)

BackendFactory = Callable[[Config], Backend]


def make_backend(config: Config, *, retries: int | None = None) -> Backend:
    """The backend the configuration names: a remote server by URL, else the embedded GGUF
    (``AGROCHAT_MODEL_PATH``, else the packaged default, assembled on first use).

    ``retries``: how often a remote backend retries a failed server itself (default 2; a pool
    of servers passes 0 and tries another server instead)."""
    if config.inference_url:
        urls = config.inference_urls
        if len(urls) > 1:
            raise ValueError("one backend per model server: give each its own inference_url")
        cls = SeedBackend if config.inference_api == "seed" else OpenAIBackend
        options: dict[str, Any] = {} if retries is None else {"retries": retries}
        return cls(
            urls[0],
            api_key=config.inference_api_key,
            timeout_s=config.inference_timeout_s,
            **options,
        )
    from agrochat.actors.inference._llama import LlamaBackend

    path = (
        Path(config.model_path) if config.model_path else assemble_default_model(config.data_path)
    )
    return LlamaBackend.load(
        path,
        n_ctx=config.model_ctx,
        n_threads=config.model_threads,
        chat_format=config.model_chat_format,
        kv_cache_bytes=config.model_kv_cache_mb << 20,
    )


@dataclass(frozen=True)
class _Prefill:
    """The actor's note to itself: prepare the KV state of this producer's next turn."""

    request: InferenceRequest
    reply: str


class InferenceActor(Supervised, pykka.ThreadingActor):
    """A thin shell around ModelRunner: loads the backend in ``on_start`` (off the HTTP path;
    the mailbox simply waits meanwhile) and hands each ``generate`` to the runner.

    A model that fails to load does not kill the actor (the supervisor would only restart it
    into the same failure): the status says "failed" with the reason, and every request is
    answered with ModelUnavailable.
    """

    def __init__(
        self,
        config: Config,
        *,
        status: ModelStatus,
        backend_factory: BackendFactory | None = None,
        stats: InferenceStats | None = None,
        server: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        """``server``: this actor's row of the server pool (in flight, up or down), shown in
        its snapshot; None when it is the only model."""
        super().__init__()
        self._server = server
        self._config = config
        self._status = status
        self._factory = backend_factory or make_backend
        self._stats = stats or STATS
        self._runner = ModelRunner(None, stats=self._stats, failure="the model is still loading")

    def on_start(self) -> None:
        self._status.set(ModelState.LOADING, self._target())
        try:
            backend = self._factory(self._config)
        except Exception as exc:
            reason = (
                exc.message if isinstance(exc, AgrochatError) else f"{type(exc).__name__}: {exc}"
            )
            log.error(
                "the model failed to load; answering requests with model_unavailable", error=reason
            )
            self._status.set(ModelState.FAILED, reason)
            self._runner = ModelRunner(None, stats=self._stats, failure=reason)
            return
        self._runner = ModelRunner(backend, stats=self._stats)
        described = backend.describe()
        if backend.kind == "remote":
            self._status.set(ModelState.REMOTE, str(described.get("url", "")))
        else:
            self._status.set(ModelState.READY, str(described.get("model", backend.kind)))

    def on_stop(self) -> None:
        self._runner.close()

    def on_failure(self, *_: Any) -> None:
        self._runner.close()

    def _target(self) -> str:
        if self._config.inference_url:
            return "connecting to the remote model"
        return self._config.model_path or "the packaged default model"

    # --- messages --------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Inspect):
            return self.snapshot()
        if isinstance(message, InferenceRequest):
            return self._generate(message)
        if isinstance(message, _Prefill):
            # Only when nobody is waiting: it is an investment in a producer's next turn and
            # must not delay anyone's current one.
            if self.actor_inbox.empty():
                self._runner.prefill(message.request, message.reply)
            return None
        log.warning("inference actor ignored a message", message=type(message).__name__)
        return None

    def _generate(self, request: InferenceRequest) -> InferenceResult:
        result = self._runner.generate(request)
        if request.cache_key is not None and self._runner.can_prefill:
            # Handled after this reply is on its way, behind anything already queued.
            self.actor_ref.tell(_Prefill(request, result.content))
        return result

    def snapshot(self) -> dict[str, Any]:
        view = self._status.view()
        return {
            "state": view.state.value,
            "detail": view.detail,
            "inbox": self.actor_inbox.qsize(),
            **self._runner.snapshot(),
            **({"server": self._server()} if self._server is not None else {}),
        }
