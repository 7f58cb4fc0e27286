"""What the InferenceActor does with one request, as a plain class tests drive without threads."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from agrochat.actors.inference._backend import Backend
from agrochat.actors.inference._metrics import InferenceStats
from agrochat.errors import AgrochatError, DeadlineExceeded, ModelUnavailable
from agrochat.logs import get_logger
from agrochat.messages import InferenceMetrics, InferenceRequest, InferenceResult, expired
from agrochat.model_output import repair_json

log = get_logger(__name__)

UNAVAILABLE_MESSAGE = "the model is not available"


class ModelRunner:
    """Serves requests in order on one backend.

    ``backend`` None means the model failed to load: every request gets ModelUnavailable (with
    the reason), so callers can tell producers "servicio no disponible" instead of waiting.
    """

    def __init__(
        self, backend: Backend | None, *, stats: InferenceStats, failure: str = ""
    ) -> None:
        self.backend = backend
        self.failure = failure
        self.stats = stats
        self.counts = {"ok": 0, "expired_before_start": 0, "deadline": 0, "error": 0, "repaired": 0}
        self.last_metrics: InferenceMetrics | None = None
        self.last_error: str | None = None

    def generate(self, request: InferenceRequest) -> InferenceResult:
        started = time.monotonic()
        if self.backend is None:
            self.stats.requests.labels("unavailable").inc()
            raise ModelUnavailable(f"{UNAVAILABLE_MESSAGE}: {self.failure}")
        if expired(request.deadline):
            # A timed-out ask is not cancelled in Pykka: the caller has gone; don't spend the
            # model on an answer nobody will read.
            self.counts["expired_before_start"] += 1
            self.stats.requests.labels("deadline").inc()
            raise DeadlineExceeded("the request waited past its deadline and was dropped")
        queue_wait = started - request.submitted_at if request.submitted_at is not None else 0.0
        try:
            completion = self.backend.complete(
                request.messages,
                schema=request.schema,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                cache_key=request.cache_key,
                deadline=request.deadline,
            )
        except DeadlineExceeded:
            self.counts["deadline"] += 1
            self.stats.requests.labels("deadline").inc()
            raise
        except AgrochatError as exc:
            self._failed(exc.message)
            raise
        except Exception as exc:
            # The ask hands the exception to the caller and the actor lives on; make it one the
            # HTTP layer renders as 503 rather than an anonymous 500.
            log.exception("inference failed", request_id=request.request_id)
            self._failed(f"{type(exc).__name__}: {exc}")
            raise ModelUnavailable(
                f"the model failed on this request ({type(exc).__name__})"
            ) from exc
        content = completion.content
        if request.schema is not None and completion.finish_reason == "length":
            # Cut by max_tokens: never hand back unterminated JSON.
            content = repair_json(content) or "{}"
            self.counts["repaired"] += 1
            self.stats.repaired.inc()
        metrics = InferenceMetrics(
            queue_wait_s=max(0.0, queue_wait),
            prompt_tokens=completion.prompt_tokens,
            prompt_tokens_reused=completion.prompt_tokens_reused,
            generated_tokens=completion.generated_tokens,
            time_to_first_token_s=completion.time_to_first_token_s,
            total_s=time.monotonic() - started,
        )
        self.counts["ok"] += 1
        self.last_metrics = metrics
        self.stats.requests.labels("ok").inc()
        self.stats.observe(metrics)
        log.info(
            "inference done",
            request_id=request.request_id,
            finish_reason=completion.finish_reason,
            prompt_tokens=metrics.prompt_tokens,
            reused=metrics.prompt_tokens_reused,
            generated=metrics.generated_tokens,
            ttft_s=round(metrics.time_to_first_token_s, 3),
            total_s=round(metrics.total_s, 3),
            queue_wait_s=round(metrics.queue_wait_s, 3),
        )
        return InferenceResult(
            content=content, finish_reason=completion.finish_reason, metrics=metrics
        )

    @property
    def can_prefill(self) -> bool:
        return self.backend is not None and hasattr(self.backend, "prefill")

    def prefill(self, request: InferenceRequest, reply: str) -> None:
        """Get the producer's next turn ready: evaluate their conversation including ``reply``
        (as the session will send it back) into their saved KV state. Best effort."""
        if request.cache_key is None or not self.can_prefill:
            return
        messages = (*request.messages, {"role": "assistant", "content": reply})
        try:
            self.backend.prefill(messages, request.cache_key)  # type: ignore[union-attr]
        except Exception:
            log.warning("prefilling the next turn failed", exc_info=True)

    def _failed(self, reason: str) -> None:
        self.counts["error"] += 1
        self.last_error = reason
        self.stats.requests.labels("error").inc()

    def snapshot(self) -> dict[str, Any]:
        return {
            "backend": self.backend.describe() if self.backend is not None else None,
            "failure": self.failure or None,
            "counts": dict(self.counts),
            "last_error": self.last_error,
            "last_metrics": (
                {
                    **dataclasses.asdict(self.last_metrics),
                    "tokens_per_s": round(self.last_metrics.tokens_per_s, 2),
                }
                if self.last_metrics is not None
                else None
            ),
        }

    def close(self) -> None:
        if self.backend is not None:
            try:
                self.backend.close()
            except Exception:
                log.exception("closing the model backend failed")
            self.backend = None
