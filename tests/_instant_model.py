"""A model server that answers at once: the test double for agrochat processes started as real
processes (``AGROCHAT_INFERENCE_URL``). It speaks the OpenAI chat-completions API the way
llama.cpp's server does and answers as a model with no opinion does (``{}``: the rules decide,
the vetted wording stays), so what is measured or checked is agrochat, not a model."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class InstantModelServer:
    def __init__(self) -> None:
        self.requests = 0
        counter = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": "instant"}]})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path != "/v1/chat/completions":
                    self._json(404, {"error": "not found"})
                    return
                with counter:
                    server.requests += 1
                prompt = sum(len(m.get("content") or "") for m in body.get("messages", []))
                self._json(
                    200,
                    {
                        "object": "chat.completion",
                        "model": "instant",
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": "{}"},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": prompt // 4,
                            "completion_tokens": 1,
                            "total_tokens": prompt // 4 + 1,
                        },
                    },
                )

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
