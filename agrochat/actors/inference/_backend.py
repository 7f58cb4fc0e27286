"""The one interface every model backend offers (embedded llama.cpp, remote servers, test fakes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from agrochat.errors import ModelUnavailable

ChatMessages = Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class Completion:
    """What a backend returns for one request.

    ``finish_reason``: "stop" (the model ended), "length" (``max_tokens`` cut it: JSON may be
    unterminated). Token counts are 0 where a backend cannot know them (the seed's API).
    """

    content: str
    finish_reason: str
    prompt_tokens: int = 0
    prompt_tokens_reused: int = 0
    generated_tokens: int = 0
    time_to_first_token_s: float = 0.0


class ServerFailed(ModelUnavailable):
    """The model server itself failed (unreachable, 429/502/503/504, timed out before the request's
    deadline), as opposed to refusing this one request: a pool of servers marks it down and
    tries another. Still a ModelUnavailable (503) to anyone who does not route."""


@runtime_checkable
class Backend(Protocol):
    """A model that completes chat messages, optionally constrained to a JSON schema.

    Called from one thread only (the InferenceActor's). ``deadline`` is ``time.monotonic()``
    seconds: a backend stops as soon as it can once it passes and raises DeadlineExceeded.
    ``cache_key`` names whose earlier turns may be reused (a producer); backends without a
    cache ignore it.
    """

    kind: str  # "embedded" | "remote" | "fake"

    def complete(
        self,
        messages: ChatMessages,
        *,
        schema: Mapping[str, Any] | None,
        max_tokens: int,
        temperature: float,
        cache_key: str | None,
        deadline: float | None = None,
    ) -> Completion: ...

    def describe(self) -> dict[str, Any]:
        """Plain data for /debug/actors and /health (no secrets)."""
        ...

    def close(self) -> None: ...
