"""Remote backends: an OpenAI-compatible server (llama.cpp's llama-server, vLLM, Ollama) or a
seed-style Model API (``POST /chat``, which agrochat itself also serves), over httpx.

Transient failures (connection errors, 429, 502-504) are retried with backoff while the request's
deadline allows; anything else is reported at once. A remote model's own errors never crash the
actor: they come back as ModelUnavailable (503) to the caller, as ServerFailed when the server
itself failed (unreachable, 429 or 502-504 after the retries, timed out) so that a pool of
servers can try another. A 500 is this request's: llama_cpp.server answers one to a body it
cannot parse.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from agrochat.actors.inference._backend import ChatMessages, Completion, ServerFailed
from agrochat.errors import DeadlineExceeded, ModelUnavailable
from agrochat.logs import get_logger

log = get_logger(__name__)

_RETRY_STATUS = frozenset({429, 502, 503, 504})


def _public_url(url: str) -> str:
    """The URL without credentials, for logs and /debug."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


class _Refused(ModelUnavailable):
    """The server answered this request with an error that retrying will not change."""

    def __init__(self, message: str, *, status: int, text: str) -> None:
        super().__init__(message)
        self.status = status
        self.text = text


class _HttpBackend:
    kind = "remote"
    api = ""

    def __init__(
        self,
        url: str,
        *,
        api_key: str = "",
        timeout_s: float = 120.0,
        retries: int = 2,
        backoff_s: float = 0.25,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            transport=transport,
        )

    def describe(self) -> dict[str, Any]:
        return {"backend": self.kind, "api": self.api, "url": _public_url(self.url)}

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, body: dict[str, Any], deadline: float | None) -> dict[str, Any]:
        attempt = 0
        while True:
            timeout = self.timeout_s
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    raise DeadlineExceeded("deadline passed waiting for the remote model")
            try:
                response = self._client.post(path, json=body, timeout=timeout)
            except httpx.TimeoutException:
                if deadline is not None and time.monotonic() >= deadline:
                    raise DeadlineExceeded("deadline passed waiting for the remote model") from None
                error = "timed out"
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    try:
                        data = response.json()
                    except ValueError:
                        raise ModelUnavailable("the remote model answered with no JSON") from None
                    if not isinstance(data, dict):
                        raise ModelUnavailable("the remote model's answer is not a JSON object")
                    return data
                error = f"HTTP {response.status_code}"
                if response.status_code not in _RETRY_STATUS:
                    # Not ServerFailed, 500 included: llama_cpp.server answers 500 to a request
                    # it cannot parse, and one bad request must not take every server down.
                    raise _Refused(
                        f"the remote model at {_public_url(self.url)}{path} refused the request "
                        f"({error}: {response.text[:200]})",
                        status=response.status_code,
                        text=response.text,
                    )
            if attempt >= self.retries:
                raise ServerFailed(
                    f"the remote model at {_public_url(self.url)}{path} is unreachable ({error})"
                )
            pause = self.backoff_s * (2**attempt)
            if deadline is not None and time.monotonic() + pause >= deadline:
                raise DeadlineExceeded("deadline passed retrying the remote model")
            log.warning("remote model failed; retrying", error=error, attempt=attempt + 1)
            time.sleep(pause)
            attempt += 1


class OpenAIBackend(_HttpBackend):
    """``POST {url}/v1/chat/completions``; the schema goes as an OpenAI ``json_schema``
    response format, which llama-server, vLLM and Ollama all enforce with a grammar.

    llama-cpp-python's ``llama_cpp.server`` (0.3) takes only ``{"type": "json_object",
    "schema": ...}`` and answers the OpenAI form with HTTP 500 (a pydantic literal_error on
    ``response_format.type``). Such a refusal naming ``response_format`` switches this backend
    to that form, and the request is sent again at once.
    """

    api = "openai"

    def __init__(self, url: str, *, model: str = "default", **options: Any) -> None:
        super().__init__(url, **options)
        self.model = model
        self.schema_form = "json_schema"  # or "json_object", once the server refused the first

    def _response_format(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        if self.schema_form == "json_object":
            return {"type": "json_object", "schema": dict(schema)}
        return {
            "type": "json_schema",
            "json_schema": {"name": "model_output", "schema": dict(schema), "strict": True},
        }

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "schema_form": self.schema_form}

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
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if schema is not None:
            body["response_format"] = self._response_format(schema)
        if cache_key is not None:
            # llama-server keeps a slot's KV for the prefix it last saw (llama_cpp.server
            # ignores the field and always reuses the prefix of the prompt it last evaluated).
            body["cache_prompt"] = True
        started = time.perf_counter()
        try:
            data = self._post("/v1/chat/completions", body, deadline)
        except _Refused as exc:
            if schema is None or self.schema_form != "json_schema":
                raise
            if "response_format" not in exc.text:
                raise
            log.info(
                "the remote model refused a json_schema response format; sending json_object "
                "with the schema instead",
                url=_public_url(self.url),
            )
            self.schema_form = "json_object"
            body["response_format"] = self._response_format(schema)
            data = self._post("/v1/chat/completions", body, deadline)
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"] or ""
            finish_reason = choice.get("finish_reason") or "stop"
        except (KeyError, IndexError, TypeError):
            raise ModelUnavailable("the remote model's answer has no choices[0].message") from None
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        details = usage.get("prompt_tokens_details") or {}
        return Completion(
            content=content,
            finish_reason=finish_reason,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            prompt_tokens_reused=int(details.get("cached_tokens") or 0),
            generated_tokens=int(usage.get("completion_tokens") or 0),
            # Without streaming the first token arrives with the last.
            time_to_first_token_s=time.perf_counter() - started,
        )


class SeedBackend(_HttpBackend):
    """The seed's Model API: ``POST {url}/chat {system, context, max_tokens} -> {content}``.

    Our messages map onto it as agrochat's own /chat maps it back: the system message is
    ``system``; a single user message holding a JSON object is the ``context``; otherwise the
    conversation goes as ``{"historial": [...earlier turns], "mensaje": last user text}``. The
    seed API enforces its own output format, so the schema is not sent.
    """

    api = "seed"

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
        system = "\n\n".join(m["content"] for m in messages if m.get("role") == "system")
        turns = [dict(m) for m in messages if m.get("role") != "system"]
        context: Any = None
        if len(turns) == 1 and turns[0].get("role") == "user":
            try:
                context = json.loads(turns[0]["content"])
            except ValueError:
                context = None
        if not isinstance(context, dict):
            last = turns[-1]["content"] if turns and turns[-1].get("role") == "user" else ""
            history = turns[:-1] if last else turns
            context = {"historial": history, "mensaje": last}
        started = time.perf_counter()
        data = self._post(
            "/chat", {"system": system, "context": context, "max_tokens": max_tokens}, deadline
        )
        content = data.get("content")
        if not isinstance(content, str):
            raise ModelUnavailable("the remote model's answer has no content string")
        return Completion(
            content=content,
            finish_reason="stop",
            time_to_first_token_s=time.perf_counter() - started,
        )
