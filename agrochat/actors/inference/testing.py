"""Test doubles for the model: a backend that answers instantly, for logic tests and benchmarks
of the parts around inference (sessions, HTTP), where loading a real model would only add time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

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
