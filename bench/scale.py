"""Benchmark: throughput as agrochat scales out (issue 14), side by side in one run.

1. Processes: 1, 2 and 3 ``agrochat serve`` processes on one PostgreSQL (a fresh schema each),
   with a model server that answers at once (``tests/_instant_model.py``), so what is measured is
   agrochat's own orchestration: ``--messages`` (2,000) ``POST /agent`` from ``--producers``
   (400) producers, each producer's messages one after another, ``--clients`` (48) at a time,
   spread round-robin over the processes as a load balancer would. The baseline is one process.
2. Model servers: 1 and 2 real ``llama_cpp.server`` processes with the packaged model behind
   ``AGROCHAT_INFERENCE_URL``, the same requests through agrochat's inference client
   (``bench/scale_models.py``). The baseline is one server.

Printed for each: messages/s, the ratio to the baseline, and CPU seconds per message, split by
who spent them (agrochat processes, PostgreSQL's backends, the load generator here; the model
servers). On a machine with C cores the processes' ceiling is about C / (CPU seconds per
message, all parts): that is what says what a larger machine gives, since on 2 cores the
processes mostly take CPU from each other.

Run: ``.venv/bin/python bench/scale.py`` (about 4 minutes); ``--quick`` for a short run,
``--no-models`` to skip the model servers; ``--help``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agrochat import logs
from tests._instant_model import InstantModelServer
from tests._postgres import fresh_schema
from tests._served import Served

API_KEY = "bench-scale-api-key-0123"
OPERATOR = "bench-scale-operator-012"
PG_URL = os.environ.get("AGROCHAT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEXTS = (
    "hola",
    "¿cómo controlo la rancha en la papa?",
    "¿cuándo riego el maíz?",
    "¿qué abono le pongo a la papa?",
    "gracias",
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of these processes (their threads included), from /proc."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


def postgres_backends(url: str) -> list[int]:
    """The PIDs of PostgreSQL's backends serving this database's clients right now."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            return [int(p) for p in conn.execute(sa.text(query)).scalars()]
    finally:
        engine.dispose()


@dataclass
class Row:
    what: str
    count: int
    messages: int
    seconds: float
    cpu_agrochat: float
    cpu_postgres: float
    cpu_client: float
    failed: int

    @property
    def per_s(self) -> float:
        return self.messages / self.seconds


async def drive(bases: Sequence[str], producers: int, messages: int, clients: int) -> int:
    """Each producer sends its messages one after another; ``clients`` producers at a time;
    message k of producer p goes to process (p + k) mod N. Returns the messages not answered."""
    per_producer = max(1, messages // producers)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for p in range(producers):
        queue.put_nowait(p)
    failed = 0
    limits = httpx.Limits(max_connections=clients * len(bases))
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(timeout=60, limits=limits, headers=headers) as http:

        async def worker() -> None:
            nonlocal failed
            while not queue.empty():
                p = queue.get_nowait()
                phone = f"5197{p:07d}"
                for k in range(per_producer):
                    body = {
                        "phone": phone,
                        "message": TEXTS[k % len(TEXTS)],
                        "role": "consulta",
                        "message_id": f"scale-{phone}-{k}",
                    }
                    # A 503 (every session or model slot busy) is retried after what
                    # Retry-After says, on the next process, as a bridge would.
                    deadline = time.monotonic() + 60
                    attempt = 0
                    while time.monotonic() < deadline:
                        base = bases[(p + k + attempt) % len(bases)]
                        attempt += 1
                        try:
                            response = await http.post(f"{base}/agent", json=body)
                        except httpx.TransportError:
                            continue
                        if response.status_code == 200:
                            break
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")) / 4)
                    else:
                        failed += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    return failed


def processes_run(count: int, args: argparse.Namespace, model_url: str) -> Row:
    with (
        tempfile.TemporaryDirectory(prefix="agrochat-scale-") as tmp,
        fresh_schema(PG_URL, prefix="bench") as url,
    ):
        env = {
            "AGROCHAT_DATABASE_URL": url,
            "AGROCHAT_INFERENCE_URL": model_url,
            "AGROCHAT_API_KEY": API_KEY,
            "AGROCHAT_OPERATOR_TOKEN": OPERATOR,
            "AGROCHAT_LOG_LEVEL": "WARNING",
            "AGROCHAT_HTTP_THREADS": "16",
        }
        served = [Served(Path(tmp), log_name=f"serve-{i}.log", **env) for i in range(count)]
        try:
            for s in served:
                s.first_health(timeout_s=120)
                while httpx.get(f"http://127.0.0.1:{s.port}/health").json()["status"] != "ok":
                    time.sleep(0.1)
            bases = [f"http://127.0.0.1:{s.port}" for s in served]
            # Warm up: each process's first requests pay for imports and caches.
            asyncio.run(drive(bases, producers=count * 4, messages=count * 8, clients=4))
            pids = [s.process.pid for s in served]
            backends = postgres_backends(url)
            cpu0, pg0, client0 = cpu_seconds(pids), cpu_seconds(backends), time.process_time()
            t0 = time.perf_counter()
            failed = asyncio.run(drive(bases, args.producers, args.messages, args.clients))
            seconds = time.perf_counter() - t0
            backends = sorted(set(backends) | set(postgres_backends(url)))
            return Row(
                what="agrochat processes (instant model)",
                count=count,
                messages=args.messages,
                seconds=seconds,
                cpu_agrochat=cpu_seconds(pids) - cpu0,
                cpu_postgres=cpu_seconds(backends) - pg0,
                cpu_client=time.process_time() - client0,
                failed=failed,
            )
        finally:
            for s in served:
                s.stop()


def print_rows(rows: Sequence[Row]) -> None:
    header = (
        f"{'what':<38} {'n':>2} {'msgs':>6} {'s':>7} {'msg/s':>7} {'ratio':>6} "
        f"{'cpu ms/msg: agrochat':>21} {'postgres':>9} {'client':>7} {'cores busy':>10} "
        f"{'failed':>6}"
    )
    print(header)
    baseline: dict[str, float] = {}
    for row in rows:
        base = baseline.setdefault(row.what, row.per_s)
        print(
            f"{row.what:<38} {row.count:>2} {row.messages:>6} {row.seconds:>7.1f} "
            f"{row.per_s:>7.1f} {row.per_s / base:>5.2f}x "
            f"{1000 * row.cpu_agrochat / row.messages:>21.2f} "
            f"{1000 * row.cpu_postgres / row.messages:>9.2f} "
            f"{1000 * row.cpu_client / row.messages:>7.2f} "
            f"{(row.cpu_agrochat + row.cpu_postgres + row.cpu_client) / row.seconds:>10.2f} "
            f"{row.failed:>6}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--producers", type=int, default=400)
    parser.add_argument("--clients", type=int, default=48)
    parser.add_argument("--model-messages", type=int, default=24)
    parser.add_argument("--quick", action="store_true", help="500 messages, 8 model requests")
    parser.add_argument("--no-models", action="store_true", help="skip the model servers")
    args = parser.parse_args(argv)
    logs.configure(level="WARNING", fmt="console", stream=sys.stderr)
    if args.quick:
        args.messages, args.producers, args.model_messages = 500, 100, 8
    cores = os.cpu_count() or 1
    print(f"cores: {cores}; PostgreSQL: {PG_URL.split('@')[-1]}")

    model = InstantModelServer()
    try:
        rows = [processes_run(n, args, model.url) for n in (1, 2, 3)]
    finally:
        model.close()
    print_rows(rows)
    failed = sum(r.failed for r in rows)
    per_message = [
        (r.cpu_agrochat + r.cpu_postgres + r.cpu_client) / r.messages for r in rows if r.messages
    ]
    agrochat_only = [r.cpu_agrochat / r.messages for r in rows]
    postgres_only = [r.cpu_postgres / r.messages for r in rows]
    print(
        f"CPU per message, all parts: {min(per_message) * 1000:.2f}-"
        f"{max(per_message) * 1000:.2f} ms; agrochat alone "
        f"{min(agrochat_only) * 1000:.2f}-{max(agrochat_only) * 1000:.2f} ms. "
        f"Ceiling on {cores} cores, everything on one machine: "
        f"{cores / max(per_message):.0f} msg/s; with PostgreSQL and the load elsewhere, "
        f"each core running agrochat gives about {1 / max(agrochat_only):.0f} msg/s "
        f"(one process uses one core at most: Python runs one thread at a time), until "
        f"PostgreSQL's {min(postgres_only) * 1000:.1f}-{max(postgres_only) * 1000:.1f} ms a "
        f"message fill its cores."
    )

    if not args.no_models:
        from bench.scale_models import model_servers

        model_rows = model_servers((1, 2), messages=args.model_messages)
        print()
        print(
            f"{'model servers':<14} {'msgs':>5} {'s':>7} {'msg/s':>7} {'ratio':>6} "
            f"{'cpu s/msg':>9} {'server cores busy':>17}"
        )
        for m in model_rows:
            print(
                f"{m['servers']:<14} {m['messages']:>5} {m['seconds']:>7.1f} "
                f"{m['per_s']:>7.2f} {m['ratio_to_1'] or 0:>5.2f}x "
                f"{m['cpu_s_per_message']:>9.2f} {m['server_cores']:>17.2f}"
            )
    print("PASS" if failed == 0 else f"FAIL: {failed} messages not answered")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
