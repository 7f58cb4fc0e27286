"""Model servers benchmark: the same N concurrent requests through agrochat's real
InferenceClient and InferenceActor(s), on 1 and then 2 llama-cpp-python ``llama_cpp.server``
processes (the packaged model, one thread each, so 2 servers use the 2 cores).

One server is agrochat with ``AGROCHAT_INFERENCE_URL=<one url>`` (one actor, as before the pool);
two are ``AGROCHAT_INFERENCE_URL=<url1>,<url2>`` (one actor per server, the client's ServerPool
routing). Each request is a different producer (its own ``cache_key``) asking with an
agrochat-size prompt (system rules, the producer's profile, verified advice) under the JSON
schema agrochat constrains replies with. Every server first answers one warm-up request, outside
the timing (model pages, the grammar code path).

Figures per row: ``seconds`` wall time for all N, ``per_s`` = N / seconds, ``ratio_to_1`` =
per_s against the 1-server row of the same run, ``cpu_s_per_message`` = CPU seconds (user +
system, from /proc/<pid>/stat) the server processes spent, per message, and ``server_cores`` =
their CPU seconds / wall seconds: how many cores they actually got (on a shared machine, less
than the server count means neighbours capped the throughput, not agrochat).

Usage: ``.venv/bin/python bench/scale_models.py --messages 16 [--max-tokens 48]``
(AGROCHAT_MODEL_PATH and AGROCHAT_DATA_DIR are honoured). From Python:
``model_servers((1, 2), messages=16)`` returns the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# Runnable as a script from a checkout that is not pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agrochat import logs
from agrochat.actors.inference import LlamaServer, assemble_default_model, wire_inference
from agrochat.config import Config
from agrochat.messages import InferenceRequest, deadline_in
from agrochat.supervisor import Supervisor
from bench.inference import SCHEMA, SYSTEM

# The same request agrochat's inference benchmark measures, so the two read alike.
ADVICE = [
    "Papa: en tuberización riegue cada 7 a 10 días con 25 a 30 mm; evite encharcar.",
    "Papa: el tizón tardío aparece con humedad alta y 10 a 20 °C; revise hojas cada 3 días.",
    "Helada: si el pronóstico baja de 2 °C, riegue la tarde anterior para proteger el cultivo.",
    "Fertilización papa: aplique la mitad del nitrógeno a la siembra y la otra al aporque.",
]
CROPS = [
    ("papa", "yungay", "Huancayo"),
    ("maíz", "amiláceo", "Cusco"),
    ("quinua", "blanca", "Puno"),
]
QUESTIONS = [
    "¿Cada cuánto debo regar ahora?",
    "Vi manchas oscuras en las hojas, ¿qué hago?",
    "¿Cuándo le echo el resto del fertilizante?",
    "Dicen que va a helar mañana, ¿cómo protejo mi cultivo?",
]


def request(i: int, max_tokens: int) -> InferenceRequest:
    """Producer ``i``'s question, as a session would send it."""
    crop, variety, place = CROPS[i % len(CROPS)]
    context = {
        "productor": {
            "nombre": f"Productor {i}",
            "cultivo": crop,
            "variedad": variety,
            "ubicacion": place,
        },
        "consejos": ADVICE,
    }
    system = SYSTEM + "\n\nContexto:\n" + json.dumps(context, ensure_ascii=False)
    return InferenceRequest(
        messages=(
            {"role": "system", "content": system},
            {"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]},
        ),
        deadline=deadline_in(900),
        max_tokens=max_tokens,
        schema=SCHEMA,
        cache_key=f"5199{i:07d}@c.us",
        request_id=f"bench-{i}",
    )


def default_model() -> Path:
    config = Config.from_env(os.environ)
    if config.model_path:
        return Path(config.model_path)
    return assemble_default_model(config.data_path)


class _Agrochat:
    """agrochat's inference wiring on the given servers (what ``wiring.build`` makes)."""

    def __init__(self, urls: Sequence[str], *, messages: int) -> None:
        config = Config(
            inference_url=",".join(urls), inference_queue=messages, inference_timeout_s=900
        )
        self.wiring = wire_inference(config, self)
        self.supervisor = Supervisor(self.wiring.specs, intensity=5, period_s=30)
        self.supervisor.start()

    def ref(self, id: str) -> Any:
        return self.supervisor.ref(id)

    def push(self, requests: Sequence[InferenceRequest]) -> None:
        """All at once, each from its own thread (as sessions and /chat do); raises if any
        was not answered."""
        with ThreadPoolExecutor(len(requests)) as threads:
            for future in [threads.submit(self.wiring.client.generate, r) for r in requests]:
                future.result()

    def close(self) -> None:
        self.supervisor.stop()


def model_servers(
    counts: Sequence[int] = (1, 2),
    *,
    messages: int,
    max_tokens: int = 48,
    model: Path | None = None,
    log_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """For each number of servers in ``counts`` (in order): start that many llama_cpp.server
    processes (one thread each) on loopback, warm each up, push ``messages`` concurrent requests
    through agrochat's InferenceClient, stop the servers. One row per count:
    ``{servers, messages, seconds, per_s, ratio_to_1, cpu_s_per_message, server_cores}``;
    ``ratio_to_1`` is None when ``counts`` has no 1. Raises if a request goes unanswered.

    ``model``: the GGUF (default: AGROCHAT_MODEL_PATH, else the packaged model assembled into
    AGROCHAT_DATA_DIR); ``log_dir``: where the servers' logs go (default: a temporary dir).
    """
    model = model or default_model()
    logs = log_dir or Path(tempfile.mkdtemp(prefix="scale-models-"))
    rows: list[dict[str, Any]] = []
    for count in counts:
        servers = [
            LlamaServer(model, n_threads=1, log=logs / f"{count}-server{i}.log")
            for i in range(1, count + 1)
        ]
        try:
            for server in servers:
                server.start()
            agrochat = _Agrochat([s.url for s in servers], messages=max(messages, count))
            try:
                # One each (least busy spreads them), outside the timing.
                agrochat.push([request(-1 - i, max_tokens) for i in range(count)])
                cpu_before = sum(s.cpu_seconds() for s in servers)
                started = time.perf_counter()
                agrochat.push([request(i, max_tokens) for i in range(messages)])
                seconds = time.perf_counter() - started
                cpu = sum(s.cpu_seconds() for s in servers) - cpu_before
            finally:
                agrochat.close()
        finally:
            for server in servers:
                server.stop()
        rows.append(
            {
                "servers": count,
                "messages": messages,
                "seconds": round(seconds, 2),
                "per_s": round(messages / seconds, 3),
                "ratio_to_1": None,
                "cpu_s_per_message": round(cpu / messages, 2),
                # Cores the servers actually got: below the server count, neighbours on a
                # shared machine took the rest (and capped per_s).
                "server_cores": round(cpu / seconds, 2),
            }
        )
    one = next((r for r in rows if r["servers"] == 1), None)
    for row in rows:
        if one is not None:
            row["ratio_to_1"] = round(row["per_s"] / one["per_s"], 2)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=16, help="concurrent requests per run")
    parser.add_argument("--max-tokens", type=int, default=48, help="tokens per reply, at most")
    parser.add_argument(
        "--servers", default="1,2", help="server counts to run, comma-separated (default 1,2)"
    )
    args = parser.parse_args(argv)
    logs.configure(level="WARNING", fmt="console", stream=sys.stderr)
    counts = [int(c) for c in args.servers.split(",") if c]
    rows = model_servers(counts, messages=args.messages, max_tokens=args.max_tokens)
    print(
        f"{'servers':>7} {'messages':>8} {'seconds':>8} {'per_s':>7} {'ratio':>6} {'cpu_s/msg':>9}"
    )
    for r in rows:
        ratio = "—" if r["ratio_to_1"] is None else f"{r['ratio_to_1']:.2f}"
        print(
            f"{r['servers']:>7} {r['messages']:>8} {r['seconds']:>8.2f} {r['per_s']:>7.3f} "
            f"{ratio:>6} {r['cpu_s_per_message']:>9.2f} {r['server_cores']:>5.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
