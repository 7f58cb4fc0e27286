"""Benchmark: agrochat under a crowd with a slow model (issue 12's load test).

``--clients`` producers (200), each with a phone of its own, send ``POST /agent`` one message
after another for ``--duration`` seconds (60; ``--quick``: 10) to agrochat served by a child
process (waitress -> app -> sessions -> InferenceActor, wired as production) whose model is a
test double taking ``--reply-s`` (0.5 s) per reply, one at a time as one llama.cpp model does;
with AGROCHAT_PHRASE=on every vetted answer goes through it, so the model is the bottleneck. A
refused client (503 with Retry-After) waits what Retry-After says, as a bridge should.
Meanwhile a prober asks ``/health`` every 50 ms, each time on a new connection.

The baseline is the same prober against the same server, idle, just before the crowd arrives.

Printed: 5xx answers (must be 0; a 503 with Retry-After from agrochat's bounds counts apart as
"refused, retryable"), /health p50/p99 idle and saturated and their ratio (saturated p99 must be
at most 1 s), the server's live threads and session actors (max seen, against their bound), and
messages lost, read back from the database after the server stopped (must be 0: every message is
either answered by a 200 and stored as answered, or refused and not stored as answered).

Run: ``.venv/bin/python bench/hardening.py --quick`` (about 15 s); ``--help``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agrochat import logs, wiring
from agrochat.actors.inference.testing import NoOpinionBackend
from agrochat.config import Config
from agrochat.http import AppContext, HttpServer, make_app
from agrochat.persistence import MessageStatus, MessageStore, ProducerStore, open_database
from agrochat.supervisor import Supervisor

API_KEY = "bench-api-key-0123456789"
QUESTIONS = (
    "¿Cuándo debo regar?",
    "¿Cada cuánto riego la papa?",
    "¿Cómo controlo la rancha en papa?",
    "¿Cuándo fertilizo el maíz?",
)
PROBE_EVERY_S = 0.05
HEALTH_P99_LIMIT_S = 1.0


# -- the server (child process) ------------------------------------------------------------


def serve(args: argparse.Namespace) -> int:
    """Serve agrochat on 127.0.0.1 until stdin closes; print the port first."""
    logs.configure(level="WARNING", fmt="console", stream=sys.stderr)
    # With more clients than workers waitress warns at every queued request: expected here.
    import logging

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    config = Config(
        data_dir=args.data_dir,
        api_key=API_KEY,
        operator_token="bench-operator-token-0123456789",
        phrase=True,
        asr=False,  # voice notes are bench/voice.py's
        http_threads=args.http_threads,
        session_max=args.session_max,
    )
    db = open_database(args.database_url)

    class LatePeers:
        supervisor: Supervisor | None = None

        def ref(self, id: str) -> Any:
            assert self.supervisor is not None
            return self.supervisor.ref(id)

    peers = LatePeers()
    built = wiring.build(
        config, db, peers, backend_factory=lambda cfg: NoOpinionBackend(args.reply_s)
    )
    supervisor = Supervisor(built.specs, intensity=5, period_s=30)
    peers.supervisor = supervisor
    app = make_app(
        AppContext(
            config=config,
            supervisor=supervisor,
            database=db,
            health_checks=built.health_checks,
            metrics=built.metrics,
            sessions=built.sessions,
            inference=built.inference,
        )
    )
    server = HttpServer(app, host="127.0.0.1", port=0, threads=config.http_threads)
    supervisor.start()
    server.start()
    print(server.port, flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()
        supervisor.stop()
        db.close()
    return 0


# -- the crowd (this process) --------------------------------------------------------------


@dataclass
class Sent:
    phone: str
    text: str
    status: int | None = None  # None: no HTTP answer (a transport error)
    retry_after: str | None = None


@dataclass
class Probe:
    idle: list[float] = field(default_factory=list)
    saturated: list[float] = field(default_factory=list)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: int = 0
    max_threads: int = 0
    max_sessions: float = 0.0


def percentile(samples: Sequence[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def probe(base: str, pid: int, stop: threading.Event, samples: list[float], result: Probe) -> None:
    """/health every PROBE_EVERY_S, each on a new connection as a load balancer's check comes;
    the server's threads and sessions every tenth time."""
    auth = {"Authorization": f"Bearer {API_KEY}"}
    fresh = httpx.Limits(max_keepalive_connections=0)
    with (
        httpx.Client(base_url=base, timeout=30) as http,
        httpx.Client(base_url=base, timeout=30, limits=fresh) as checks,
    ):
        n = 0
        while not stop.wait(PROBE_EVERY_S):
            started = time.perf_counter()
            try:
                response = checks.get("/health")
            except httpx.HTTPError:
                result.failures += 1
                continue
            samples.append(time.perf_counter() - started)
            result.statuses[response.status_code] += 1
            n += 1
            if n % 10 == 0:
                result.max_threads = max(result.max_threads, threads_of(pid))
                text = http.get("/metrics", headers=auth).text
                result.max_sessions = max(
                    result.max_sessions, metric(text, "agrochat_sessions_live")
                )


async def crowd(base: str, phones: Sequence[str], duration_s: float) -> list[Sent]:
    sent: list[Sent] = []
    limits = httpx.Limits(max_connections=len(phones) + 8, max_keepalive_connections=len(phones))
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=180
    ) as http:
        end = time.monotonic() + duration_s

        async def producer(i: int, phone: str) -> None:
            k = 0
            while time.monotonic() < end:
                k += 1
                item = Sent(phone, f"{QUESTIONS[(i + k) % len(QUESTIONS)]} (m{k})")
                sent.append(item)
                try:
                    response = await http.post(
                        "/agent", json={"phone": phone, "message": item.text, "role": "consulta"}
                    )
                except httpx.HTTPError:
                    await asyncio.sleep(1)
                    continue
                item.status = response.status_code
                item.retry_after = response.headers.get("Retry-After")
                if item.retry_after:
                    await asyncio.sleep(
                        min(float(item.retry_after), max(0, end - time.monotonic()))
                    )

        await asyncio.gather(*(producer(i, p) for i, p in enumerate(phones)))
    return sent


def lost_messages(database_url: str, sent: Sequence[Sent]) -> tuple[int, collections.Counter[str]]:
    """Messages neither (answered with 200 and stored as answered or failed) nor (refused and
    not stored as answered); and what the database says about every message."""
    db = open_database(database_url)
    states: collections.Counter[str] = collections.Counter()
    lost = 0
    try:
        producers, store = ProducerStore(db), MessageStore(db)
        stored: dict[tuple[str, str], str] = {}
        for phone in {s.phone for s in sent}:
            producer = producers.get(phone)
            if producer is None:
                continue
            history = store.history(producer.id, limit=10_000).messages
            for m in history:
                if m.direction == "in":
                    stored[(phone, m.text)] = m.status
        done = {MessageStatus.ANSWERED, MessageStatus.FAILED}
        for s in sent:
            status = stored.get((s.phone, s.text))
            states[f"{s.status} -> {status or 'not stored'}"] += 1
            if s.status == 200:
                lost += status not in done
            elif s.status == 503 and s.retry_after:
                lost += status == MessageStatus.ANSWERED
            else:
                lost += 1
    finally:
        db.close()
    return lost, states


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of crowd")
    parser.add_argument("--quick", action="store_true", help="10 s of crowd")
    parser.add_argument("--reply-s", type=float, default=0.5, help="the model's time per reply")
    parser.add_argument("--http-threads", type=int, default=Config().http_threads)
    parser.add_argument("--session-max", type=int, default=Config().session_max)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args)
    duration = 10.0 if args.quick else args.duration

    tmp = tempfile.TemporaryDirectory(prefix="agrochat-bench-")
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            f"--data-dir={tmp.name}",
            f"--database-url={url}",
            f"--reply-s={args.reply_s}",
            f"--http-threads={args.http_threads}",
            f"--session-max={args.session_max}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert child.stdin is not None and child.stdout is not None
    result = Probe()
    try:
        base = f"http://127.0.0.1:{int(child.stdout.readline())}"
        stop = threading.Event()
        prober = threading.Thread(
            target=probe, args=(base, child.pid, stop, result.idle, result), name="prober"
        )
        prober.start()
        # The idle baseline: 40 probes (2 s) before the crowd arrives.
        while len(result.idle) < 40:
            time.sleep(PROBE_EVERY_S)
        stop.set()
        prober.join()
        stop = threading.Event()
        prober = threading.Thread(
            target=probe, args=(base, child.pid, stop, result.saturated, result), name="prober"
        )
        prober.start()
        phones = [f"5199{n:07d}" for n in range(args.clients)]
        t0 = time.perf_counter()
        sent = asyncio.run(crowd(base, phones, duration))
        wall = time.perf_counter() - t0
        stop.set()
        prober.join()
        with httpx.Client(base_url=base, timeout=30) as http:
            metrics = http.get("/metrics", headers={"Authorization": f"Bearer {API_KEY}"}).text
    finally:
        child.stdin.close()
        child.wait(timeout=120)
    lost, states = lost_messages(url, sent)
    tmp.cleanup()

    statuses = collections.Counter(s.status for s in sent)
    refused = sum(1 for s in sent if s.status == 503 and s.retry_after)
    five_xx = sum(1 for s in sent if s.status is not None and s.status >= 500) - refused
    idle50, idle99 = percentile(result.idle, 50), percentile(result.idle, 99)
    sat50, sat99 = percentile(result.saturated, 50), percentile(result.saturated, 99)
    thread_bound = args.http_threads + args.session_max + 16
    rows = [
        ("clients / seconds (crowd + last replies)", f"{args.clients} / {wall:.1f}"),
        ("model: seconds per reply, one at a time", f"{args.reply_s}"),
        ("/agent messages sent", str(len(sent))),
        ("  answered (200)", str(statuses[200])),
        ("  refused, retryable (503 + Retry-After)", str(refused)),
        ("  no HTTP answer (transport error)", str(statuses[None])),
        ("  other 4xx", str(sum(1 for s in sent if s.status and 400 <= s.status < 500))),
        ("5xx (must be 0)", str(five_xx)),
        ("model replies / refused at its queue", _inference(metrics)),
        ("/health probes idle / saturated", f"{len(result.idle)} / {len(result.saturated)}"),
        ("/health statuses / failures", f"{dict(result.statuses)} / {result.failures}"),
        ("/health p50 idle vs saturated (ms)", f"{idle50 * 1000:.1f} vs {sat50 * 1000:.1f}"),
        ("/health p99 idle vs saturated (ms)", f"{idle99 * 1000:.1f} vs {sat99 * 1000:.1f}"),
        ("/health p99 saturated / idle", f"{sat99 / idle99:.1f}x"),
        (
            "server threads, max seen (bound)",
            f"{result.max_threads} (threads + sessions + 16 = {thread_bound})",
        ),
        ("session actors, max seen (cap)", f"{result.max_sessions:.0f} ({args.session_max})"),
        ("messages lost (must be 0)", str(lost)),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print("outcome -> stored status:", dict(states))
    ok = (
        five_xx == 0
        and lost == 0
        and sat99 <= HEALTH_P99_LIMIT_S
        and result.max_threads <= thread_bound
        and result.max_sessions <= args.session_max
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def _inference(metrics: str) -> str:
    ok = metric(metrics, 'agrochat_inference_requests_total{outcome="ok"}')
    overloaded = metric(metrics, 'agrochat_inference_requests_total{outcome="overloaded"}')
    return f"{ok:.0f} / {overloaded:.0f}"


if __name__ == "__main__":
    sys.exit(main())
