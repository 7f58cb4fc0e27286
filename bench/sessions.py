"""Benchmark: agrochat's own per-message cost on the conversation path, and memory/threads at scale.

1,000 producers x 5 messages through ``POST /agent`` over loopback, 32 concurrent clients, against
the real stack (waitress -> Bottle app -> SessionDirectory -> SessionActor -> InferenceClient ->
InferenceActor) with a test-double model that answers instantly (``NoOpinionBackend``), so only
agrochat's cost is measured. The baseline is a bare Bottle route on the same server (no plugins)
returning a constant, driven by the same clients in the same process.

Checks: every message answered; per-producer order (each producer's messages stored in the order
sent, each followed by its own reply, read back from the database); peak RSS after 1,000
producers vs after 10 (passivation working); live threads bounded.

Run: ``.venv/bin/python bench/sessions.py`` (or ``agrochat bench sessions``); ``--help``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import bottle
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agrochat import logs, wiring
from agrochat.actors.inference.testing import NoOpinionBackend
from agrochat.config import Config
from agrochat.http import AppContext, HttpServer, make_app
from agrochat.messages import Inspect
from agrochat.persistence import Database, MessageStore, ProducerStore, open_database
from agrochat.supervisor import Supervisor

API_KEY = "bench-api-key-0123456789"
BARE_BODY = json.dumps(
    {
        "model_output": {
            "role": "consulta",
            "respuesta_chat": "constante",
            "acciones": {
                "actualizar_formulario": {},
                "crear_alerta": None,
                "escalar_a_humano": False,
            },
            "estado": {"tema": "otro", "respondida": True, "campos_faltantes": []},
        }
    }
)


def memory_kb() -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of this process, from /proc."""
    values: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class ThreadSampler:
    """Samples the live thread count (total, and agrochat's own: actors + HTTP workers)."""

    def __init__(self, client_threads: set[str]) -> None:
        self.client_threads = client_threads
        self.peak_total = 0
        self.peak_agrochat = 0
        self.peak_sessions = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def sample(self) -> None:
        threads = threading.enumerate()
        ours = [
            t for t in threads if t.name not in self.client_threads and t.name != "bench-sampler"
        ]
        self.peak_total = max(self.peak_total, len(threads))
        self.peak_agrochat = max(self.peak_agrochat, len(ours))
        self.peak_sessions = max(
            self.peak_sessions, sum(1 for t in threads if t.name.startswith("SessionActor-"))
        )

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.sample()

    def __enter__(self) -> ThreadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def drive(
    https: Sequence[httpx.Client],
    producers: Sequence[str],
    *,
    messages_per_producer: int,
    clients: int,
    send: Callable[[httpx.Client, str, int], tuple[float, str]],
) -> tuple[list[float], dict[str, list[str]], set[str]]:
    """``clients`` threads; client c owns producers c, c+clients, ... and sends message k to
    each of its producers before message k+1 (so every producer's session is revisited after
    others ran: passivation and re-activation are exercised). Returns latencies (s), the replies
    per producer in order, and the clients' thread names.

    The HTTP clients are made once by the caller: an httpx.Client costs this process about a
    megabyte (an SSL context even for http), which must not be counted as agrochat's memory.
    """
    latencies: list[float] = []
    replies: dict[str, list[str]] = {p: [] for p in producers}
    lock = threading.Lock()
    errors: list[BaseException] = []
    names = {f"bench-client-{c}" for c in range(clients)}

    def work(c: int) -> None:
        mine = producers[c::clients]
        try:
            for k in range(1, messages_per_producer + 1):
                for phone in mine:
                    elapsed, text = send(https[c], phone, k)
                    with lock:
                        latencies.append(elapsed)
                    replies[phone].append(text)
        except BaseException as exc:  # reported after the join
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(c,), name=f"bench-client-{c}") for c in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return latencies, replies, names


def send_agent(http: httpx.Client, phone: str, k: int) -> tuple[float, str]:
    body = {"phone": f"{phone}@c.us", "message": f"m{k}", "role": "consulta"}
    started = time.perf_counter()
    response = http.post("/agent", json=body)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"/agent answered {response.status_code}: {response.text[:300]}")
    return elapsed, response.json()["model_output"]["respuesta_chat"]


def send_bare(http: httpx.Client, phone: str, k: int) -> tuple[float, str]:
    body = {"phone": f"{phone}@c.us", "message": f"m{k}", "role": "consulta"}
    started = time.perf_counter()
    response = http.post("/bench/bare", json=body)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"/bench/bare answered {response.status_code}")
    return elapsed, response.json()["model_output"]["respuesta_chat"]


def check_order(
    db: Database, replies: Mapping[str, list[str]], messages_per_producer: int
) -> list[str]:
    """Problems found: a missing reply, or a producer whose stored conversation is not m1,
    reply to m1, m2, reply to m2, ... (what one session handling them in order writes)."""
    problems = []
    producers, store = ProducerStore(db), MessageStore(db)
    for phone, texts in replies.items():
        if len(texts) != messages_per_producer:
            problems.append(f"{phone}: {len(texts)} replies")
            continue
        producer = producers.get(phone)
        history = store.history(producer.id, limit=2 * messages_per_producer + 2).messages
        sent = [m for m in history if m.direction == "in"]
        if [m.text for m in sent] != [f"m{k}" for k in range(1, messages_per_producer + 1)]:
            problems.append(f"{phone}: stored {[m.text for m in sent]}")
            continue
        for inbound, reply in zip(history[::2], history[1::2], strict=False):
            if reply.reply_to_id != inbound.id:
                problems.append(f"{phone}: reply {reply.id} answers {reply.reply_to_id}")
                break
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--producers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--http-threads", type=int, default=12)
    parser.add_argument("--solo", type=int, default=50, help="producers for the 1-client phase")
    parser.add_argument("--session-max", type=int, default=Config().session_max)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="print what Python memory grew, and where"
    )
    args = parser.parse_args(argv)

    logs.configure(level="WARNING", fmt="console", stream=sys.stderr)
    logging.getLogger("pykka").setLevel(logging.WARNING)
    # With more clients than workers waitress warns at every queued request: expected here.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    tmp = tempfile.TemporaryDirectory(prefix="agrochat-bench-")
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    config = Config(
        data_dir=tmp.name,
        api_key=API_KEY,
        operator_token="bench-operator-token-0123456789",
        http_threads=args.http_threads,
        session_max=args.session_max,
        # The test-double answers instantly; the queue bound is not what is measured here.
        inference_queue=max(64, args.clients * 2),
        reply_timeout_s=60.0,
        asr=False,  # voice notes are bench/voice.py's
    )
    db = open_database(url)

    class LatePeers:
        """The supervisor, once it exists (the wiring hands peers out before that)."""

        supervisor: Supervisor | None = None

        def ref(self, id: str) -> Any:
            assert self.supervisor is not None
            return self.supervisor.ref(id)

    peers = LatePeers()
    built = wiring.build(config, db, peers, backend_factory=lambda cfg: NoOpinionBackend())
    supervisor = Supervisor(built.specs, intensity=5, period_s=30)
    peers.supervisor = supervisor
    app = make_app(
        AppContext(
            config=config,
            supervisor=supervisor,
            database=db,
            sessions=built.sessions,
            inference=built.inference,
        )
    )

    # The baseline: a bare route, none of agrochat's plugins (auth, request ids, JSON errors).
    @app.post("/bench/bare", skip=True)
    def bare() -> str:
        bottle.request.body.read()
        bottle.response.content_type = "application/json"
        return BARE_BODY

    server = HttpServer(app, host="127.0.0.1", port=0, threads=config.http_threads)
    supervisor.start()
    server.start()
    base = server.url
    https = [
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60)
        for _ in range(args.clients)
    ]
    producers = [f"519{n:08d}" for n in range(args.producers)]
    try:
        # Warm-up and the "after 10 producers" memory point.
        few = producers[:10]
        _, replies_few, names = drive(
            https,
            few,
            messages_per_producer=args.messages,
            clients=min(args.clients, 10),
            send=send_agent,
        )
        mem_10 = memory_kb()
        if args.tracemalloc:
            import tracemalloc

            tracemalloc.start(8)
            snap_10 = tracemalloc.take_snapshot()
        problems = check_order(db, replies_few, args.messages)

        rest = producers[10:]
        sampler_names = names | {f"bench-client-{c}" for c in range(args.clients)}
        # In two halves, to see whether memory still grows with producers once the session
        # cap is reached (it should not: passivated sessions leave nothing behind).
        half = len(rest) // 2
        with ThreadSampler(sampler_names) as sampler:
            t0 = time.perf_counter()
            lat_agent, replies, _ = drive(
                https,
                rest[:half],
                messages_per_producer=args.messages,
                clients=args.clients,
                send=send_agent,
            )
            mem_half = memory_kb()
            lat_second, replies_second, _ = drive(
                https,
                rest[half:],
                messages_per_producer=args.messages,
                clients=args.clients,
                send=send_agent,
            )
            agent_wall = time.perf_counter() - t0
        lat_agent += lat_second
        replies.update(replies_second)
        mem_1000 = memory_kb()
        if args.tracemalloc:
            for stat in tracemalloc.take_snapshot().compare_to(snap_10, "traceback")[:8]:
                print(stat, *stat.traceback.format()[-6:], sep="\n  ", file=sys.stderr)
        problems += check_order(db, replies, args.messages)
        snapshot = supervisor.ref("sessions").ask(Inspect(), timeout=10)

        t0 = time.perf_counter()
        lat_bare, _, _ = drive(
            https, rest, messages_per_producer=args.messages, clients=args.clients, send=send_bare
        )
        bare_wall = time.perf_counter() - t0

        # Service time without queueing: one client, fresh producers, then the bare route.
        solo = [f"529{n:08d}" for n in range(args.solo)]
        solo_agent, solo_replies, _ = drive(
            https, solo, messages_per_producer=2, clients=1, send=send_agent
        )
        problems += check_order(db, solo_replies, 2)
        solo_bare, _, _ = drive(https, solo, messages_per_producer=2, clients=1, send=send_bare)
    finally:
        for http in https:
            http.close()
        server.stop()
        supervisor.stop()
        db.close()
        tmp.cleanup()

    answered = sum(len(r) for r in replies.values()) + sum(len(r) for r in replies_few.values())
    expected = args.producers * args.messages
    a50, a99 = percentile(lat_agent, 50) * 1000, percentile(lat_agent, 99) * 1000
    b50, b99 = percentile(lat_bare, 50) * 1000, percentile(lat_bare, 99) * 1000
    rows = [
        ("messages answered", f"{answered} / {expected}"),
        ("per-producer order violations", str(len(problems))),
        ("clients / waitress threads", f"{args.clients} / {args.http_threads}"),
        (
            "1 client: /agent vs bare p50 (ms)",
            f"{percentile(solo_agent, 50) * 1000:.2f} vs {percentile(solo_bare, 50) * 1000:.2f}",
        ),
        (
            "1 client: agrochat overhead p50 / p99 (ms)",
            f"{(percentile(solo_agent, 50) - percentile(solo_bare, 50)) * 1000:.2f} / "
            f"{(percentile(solo_agent, 99) - percentile(solo_bare, 99)) * 1000:.2f}",
        ),
        (f"{args.clients} clients: /agent p50 / p99 (ms)", f"{a50:.2f} / {a99:.2f}"),
        (f"{args.clients} clients: bare p50 / p99 (ms)", f"{b50:.2f} / {b99:.2f}"),
        (f"{args.clients} clients: overhead p50 / p99 (ms)", f"{a50 - b50:.2f} / {a99 - b99:.2f}"),
        (f"{args.clients} clients: /agent vs bare (ratio)", f"{a50 / b50:.1f}x / {a99 / b99:.1f}x"),
        (
            "throughput /agent vs bare (msg/s)",
            f"{len(lat_agent) / agent_wall:.0f} vs {len(lat_bare) / bare_wall:.0f}",
        ),
        (
            f"RSS after 10 / {10 + half} / {args.producers} producers (MB)",
            f"{mem_10['VmRSS'] / 1024:.1f} / {mem_half['VmRSS'] / 1024:.1f}"
            f" / {mem_1000['VmRSS'] / 1024:.1f}",
        ),
        (
            f"peak RSS after 10 / {10 + half} / {args.producers} (MB)",
            f"{mem_10['VmHWM'] / 1024:.1f} / {mem_half['VmHWM'] / 1024:.1f}"
            f" / {mem_1000['VmHWM'] / 1024:.1f}",
        ),
        (
            f"peak RSS ratio {args.producers} / 10 (<= 1.5)",
            f"{mem_1000['VmHWM'] / mem_10['VmHWM']:.2f}",
        ),
        (
            "session actors: started / passivated",
            f"{snapshot['started']} / {snapshot['passivated']}",
        ),
        ("live sessions: peak (max allowed)", f"{snapshot['peak']} ({args.session_max})"),
        ("peak threads: agrochat / process", f"{sampler.peak_agrochat} / {sampler.peak_total}"),
        ("peak session actor threads", str(sampler.peak_sessions)),
    ]
    width = max(len(name) for name, _ in rows)
    kind = url.split(":")[0]
    print(f"\nbench/sessions.py: {args.producers} producers x {args.messages} messages, {kind}")
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 24}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    for problem in problems[:10]:
        print("order problem:", problem)
    ok = (
        answered == expected
        and not problems
        and mem_1000["VmHWM"] <= 1.5 * mem_10["VmHWM"]
        and snapshot["peak"] <= args.session_max
    )
    print("\nresult:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
