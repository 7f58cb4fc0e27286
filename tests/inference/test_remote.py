"""Remote backends against a real HTTP server on 127.0.0.1 that plays the model server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agrochat.actors.inference import OpenAIBackend, SeedBackend, ServerFailed, make_backend
from agrochat.config import Config
from agrochat.errors import DeadlineExceeded, ModelUnavailable
from agrochat.messages import deadline_in
from agrochat.model_output import output_schema

MESSAGES = [
    {"role": "system", "content": "Eres un asesor agrícola."},
    {"role": "user", "content": "¿Cuándo riego?"},
]


class ModelServer:
    """Answers each POST with the next scripted (status, body, delay); records every request."""

    def __init__(self) -> None:
        self.script: list[tuple[int, Any, float]] = []
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                outer.requests.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                status, body, delay = outer.script.pop(0) if outer.script else (500, {}, 0)
                if delay:
                    time.sleep(delay)  # the slow model itself, not test synchronisation
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    server = ModelServer()
    yield server
    server.close()


def openai_reply(content: str, finish: str = "stop") -> dict[str, Any]:
    return {
        "choices": [
            {"message": {"role": "assistant", "content": content}, "finish_reason": finish}
        ],
        "usage": {
            "prompt_tokens": 120,
            "completion_tokens": 40,
            "prompt_tokens_details": {"cached_tokens": 100},
        },
    }


def complete(backend, **kw):
    args = {"schema": output_schema(["cultivo"]), "max_tokens": 64, "temperature": 0.0}
    args.update(kw)
    return backend.complete(MESSAGES, cache_key="51987654321@c.us", **args)


def test_openai_backend_sends_the_schema_and_reads_usage(model_server):
    model_server.script.append((200, openai_reply('{"role": "consulta"}'), 0))
    backend = OpenAIBackend(model_server.url, api_key="remote-key-123456", model="qwen")
    completion = complete(backend)
    backend.close()
    assert completion.content == '{"role": "consulta"}'
    assert (completion.prompt_tokens, completion.prompt_tokens_reused) == (120, 100)
    assert completion.generated_tokens == 40
    sent = model_server.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["auth"] == "Bearer remote-key-123456"
    assert sent["body"]["messages"] == MESSAGES
    assert sent["body"]["model"] == "qwen"
    assert sent["body"]["max_tokens"] == 64
    assert sent["body"]["response_format"]["json_schema"]["schema"] == output_schema(["cultivo"])


def test_transient_failures_are_retried(model_server):
    model_server.script += [(503, {}, 0), (502, {}, 0), (200, openai_reply("{}"), 0)]
    backend = OpenAIBackend(model_server.url, retries=2, backoff_s=0.01)
    assert complete(backend).content == "{}"
    backend.close()
    assert len(model_server.requests) == 3


def test_a_refusal_is_not_retried(model_server):
    model_server.script += [(400, {"error": "bad schema"}, 0), (200, openai_reply("{}"), 0)]
    backend = OpenAIBackend(model_server.url, retries=2, backoff_s=0.01)
    with pytest.raises(ModelUnavailable, match="HTTP 400"):
        complete(backend)
    backend.close()
    assert len(model_server.requests) == 1


# What llama-cpp-python's llama_cpp.server 0.3 answers to an OpenAI json_schema response format.
LITERAL_ERROR = {
    "error": {
        "message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
        "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}",
        "type": "internal_server_error",
    }
}


def test_a_server_that_refuses_json_schema_gets_json_object_with_the_schema(model_server):
    model_server.script += [
        (500, LITERAL_ERROR, 0),
        (200, openai_reply('{"a": 1}'), 0),
        (200, openai_reply('{"a": 2}'), 0),
    ]
    backend = OpenAIBackend(model_server.url, retries=2, backoff_s=0.01)
    assert complete(backend).content == '{"a": 1}'
    assert complete(backend).content == '{"a": 2}'
    backend.close()
    forms = [r["body"]["response_format"] for r in model_server.requests]
    assert [f["type"] for f in forms] == ["json_schema", "json_object", "json_object"]
    assert forms[1]["schema"] == output_schema(["cultivo"])
    assert backend.describe()["schema_form"] == "json_object"


def test_only_a_failing_server_is_server_failed(model_server):
    """What a pool takes as "try another server": not a request the server refused, 500
    included (llama_cpp.server's answer to a request it cannot parse)."""
    model_server.script += [(400, {}, 0), (500, {"error": "boom"}, 0), (503, {}, 0)]
    backend = OpenAIBackend(model_server.url, retries=0)
    for status in (400, 500):
        with pytest.raises(ModelUnavailable, match=f"HTTP {status}") as caught:
            complete(backend, schema=None)
        assert not isinstance(caught.value, ServerFailed)
    with pytest.raises(ServerFailed, match="HTTP 503"):
        complete(backend, schema=None)
    backend.close()
    unreachable = OpenAIBackend("http://127.0.0.1:9", retries=0)
    with pytest.raises(ServerFailed, match="unreachable"):
        complete(unreachable)
    unreachable.close()


def test_unreachable_server_is_model_unavailable():
    # Port 9 on loopback: nothing listens (connection refused at once).
    backend = OpenAIBackend("http://127.0.0.1:9", retries=1, backoff_s=0.01)
    with pytest.raises(ModelUnavailable, match="unreachable"):
        complete(backend)
    backend.close()


def test_slow_server_hits_the_deadline(model_server):
    model_server.script.append((200, openai_reply("{}"), 1.0))
    backend = OpenAIBackend(model_server.url, retries=2)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        complete(backend, deadline=deadline_in(0.3))
    assert time.monotonic() - started < 0.9
    backend.close()


def test_garbage_answer_is_model_unavailable(model_server):
    model_server.script.append((200, {"nothing": "here"}, 0))
    backend = OpenAIBackend(model_server.url)
    with pytest.raises(ModelUnavailable, match="choices"):
        complete(backend)
    backend.close()


def test_seed_backend_sends_the_conversation_as_context(model_server):
    model_server.script.append((200, {"content": '{"role": "saludo"}'}, 0))
    backend = SeedBackend(model_server.url)
    history = [
        MESSAGES[0],
        {"role": "user", "content": "Hola"},
        {"role": "assistant", "content": "¡Hola! ¿En qué te ayudo?"},
        {"role": "user", "content": "¿Cuándo riego?"},
    ]
    completion = backend.complete(
        history, schema=None, max_tokens=300, temperature=0.0, cache_key=None
    )
    backend.close()
    assert completion.content == '{"role": "saludo"}'
    sent = model_server.requests[0]
    assert sent["path"] == "/chat"
    assert sent["body"] == {
        "system": "Eres un asesor agrícola.",
        "context": {"historial": history[1:3], "mensaje": "¿Cuándo riego?"},
        "max_tokens": 300,
    }


def test_configuration_chooses_the_backend(tmp_path):
    openai = make_backend(Config(inference_url="http://127.0.0.1:9"))
    seed = make_backend(Config(inference_url="http://127.0.0.1:9", inference_api="seed"))
    assert isinstance(openai, OpenAIBackend) and isinstance(seed, SeedBackend)
    assert openai.describe() == {
        "backend": "remote",
        "api": "openai",
        "url": "http://127.0.0.1:9",
        "schema_form": "json_schema",
    }
    openai.close()
    seed.close()
    with pytest.raises(ModelUnavailable, match="does not exist"):
        make_backend(Config(model_path=str(tmp_path / "missing.gguf")))


def test_credentials_in_the_url_never_show():
    backend = OpenAIBackend("http://user:secret@127.0.0.1:9/base")
    assert "secret" not in json.dumps(backend.describe())
    backend.close()
