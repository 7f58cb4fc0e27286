"""Inference benchmark: agrochat's model path against a bare ``Llama.create_chat_completion``.

Every figure is a ratio against a baseline run in the same process on the same prompts, with the
same model object, grammar, threads and temperature 0 (so both should write the same reply):

- constrained generation speed (tokens/s after the first token) vs unconstrained;
- a producer's second turn (1.5 kB context, other producers in between) vs the bare call;
- a cold prompt through the actor vs the bare call;
- equality of the fast path's replies with the baseline's;
- 20 producers at once: each answered or told Overloaded, none lost.

Usage: ``python bench/inference.py [--prompts N] [--max-tokens N]`` (AGROCHAT_MODEL_PATH,
AGROCHAT_MODEL_THREADS and AGROCHAT_DATA_DIR are honoured). The machine is shared: each timing
is the median over prompts, and the spread is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

# Runnable as a script from a checkout that is not pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agrochat.actors.inference import (
    InferenceActor,
    InferenceClient,
    InferenceStats,
    ModelStatus,
    assemble_default_model,
)
from agrochat.actors.inference._llama import LlamaBackend
from agrochat.config import Config
from agrochat.errors import Overloaded
from agrochat.messages import InferenceRequest, Inspect, deadline_in
from agrochat.model_output import output_schema, repair_json

FORM_FIELDS = ["cultivo", "variedad", "fecha_siembra", "hectareas", "riego", "ubicacion"]
SCHEMA = output_schema(FORM_FIELDS)

SYSTEM = (
    "Eres AgroChat, asesor agrícola para pequeños productores. Responde en español, en dos o "
    "tres frases cortas para WhatsApp, usando SOLO la información del contexto (perfil del "
    "productor y consejos verificados). Si el contexto no tiene la respuesta, dilo y marca "
    "respondida en false; nunca inventes cifras. Si el productor da datos de su parcela, "
    "ponlos en actualizar_formulario. Responde con el JSON pedido."
)

KNOWLEDGE = [
    "Papa: en tuberización riegue cada 7 a 10 días con 25 a 30 mm; evite encharcar.",
    "Papa: el tizón tardío aparece con humedad alta y 10 a 20 °C; revise hojas cada 3 días.",
    "Maíz: la etapa crítica de agua es la floración; no deje secar el suelo en esas 2 semanas.",
    "Helada: si el pronóstico baja de 2 °C, riegue la tarde anterior para proteger el cultivo.",
    "Fertilización papa: aplique la mitad del nitrógeno a la siembra y la otra al aporque.",
    "Quinua: cosechar cuando las hojas amarillean y el grano resiste la uña.",
    "Gorgojo de los Andes: use trampas de follaje y elimine los rastrojos tras la cosecha.",
    "Riego por goteo: revise goteros tapados cada semana y lave filtros antes de cada campaña.",
    "Suelo: antes de sembrar, incorpore 5 a 10 toneladas de estiércol descompuesto por hectárea.",
]

PRODUCERS = [
    {
        "nombre": "Juan Quispe",
        "cultivo": "papa",
        "variedad": "yungay",
        "fecha_siembra": "2026-09-15",
        "hectareas": "1.5",
        "riego": "goteo",
        "ubicacion": "Huancayo",
    },
    {
        "nombre": "Rosa Mamani",
        "cultivo": "maíz",
        "variedad": "amiláceo",
        "fecha_siembra": "2026-10-01",
        "hectareas": "2",
        "riego": "gravedad",
        "ubicacion": "Cusco",
    },
    {
        "nombre": "Pedro Condori",
        "cultivo": "quinua",
        "variedad": "blanca",
        "fecha_siembra": "2026-09-20",
        "hectareas": "3",
        "riego": "secano",
        "ubicacion": "Puno",
    },
]

QUESTIONS = [
    "¿Cada cuánto debo regar mi papa ahora?",
    "Vi manchas oscuras en las hojas, ¿qué hago?",
    "¿Cuándo le echo el resto del fertilizante?",
    "Dicen que va a helar mañana, ¿cómo protejo mi cultivo?",
    "¿Cuándo cosecho?",
    "Sembré 2 hectáreas de papa canchán el 10 de setiembre.",
    "¿Qué precio tiene la papa en el mercado?",
    "Mi maíz está en floración y no llueve, ¿riego?",
    "Hola, buenos días",
    "¿Cuánta agua le pongo en cada riego?",
]

FOLLOW_UPS = ["¿Y si llueve esa semana?", "¿Y cada cuántos días reviso?", "Gracias, ¿y la cosecha?"]


def messages_for(producer: dict[str, str], question: str, history=()) -> list[dict[str, str]]:
    context = {
        "productor": producer,
        "consejos": KNOWLEDGE,
        "alertas_recientes": ["Pronóstico: lluvias moderadas el fin de semana."],
    }
    system = SYSTEM + "\n\nContexto:\n" + json.dumps(context, ensure_ascii=False)
    return [{"role": "system", "content": system}, *history, {"role": "user", "content": question}]


# --- baseline -----------------------------------------------------------------------------


def bare(llama: Any, messages: list[dict[str, str]], max_tokens: int, grammar: bool = True):
    """The baseline: create_chat_completion, no cache (reset), streamed to time the first token."""
    llama.reset()
    started = time.perf_counter()
    first = None
    parts = []
    n = 0
    stream = llama.create_chat_completion(
        messages=messages,
        temperature=0.0,
        max_tokens=max_tokens,
        response_format={"type": "json_object", "schema": SCHEMA} if grammar else None,
        stream=True,
    )
    for chunk in stream:
        text = chunk["choices"][0]["delta"].get("content")
        if text:
            if first is None:
                first = time.perf_counter()
            parts.append(text)
            n += 1
    end = time.perf_counter()
    return "".join(parts), end - started, first - started if first else 0.0, n


def same_reply(result: Any, bare_text: str) -> bool:
    """The actor hands back a cut reply repaired into complete JSON; compare like with like."""
    if result.finish_reason == "length":
        bare_text = repair_json(bare_text) or "{}"
    return result.content == bare_text


def tokens_per_s(n: int, total: float, ttft: float) -> float:
    return (n - 1) / (total - ttft) if n > 1 and total > ttft else 0.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if values else "-"


# --- the benchmark ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=10, help="prompts for equality/cold runs")
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument(
        "--free-prompts", type=int, default=5, help="prompts also run unconstrained"
    )
    args = parser.parse_args(argv)

    config = Config.from_env(os.environ)
    path = (
        Path(config.model_path) if config.model_path else assemble_default_model(config.data_path)
    )
    backend = LlamaBackend.load(path, n_ctx=4096, n_threads=config.model_threads)
    llama = backend.llama
    status = ModelStatus()
    stats = InferenceStats()
    ref = InferenceActor.start(
        config, status=status, backend_factory=lambda c: backend, stats=stats
    )

    class Peers:
        def ref(self, id: str) -> Any:
            return ref

    client = InferenceClient(Peers(), queue_limit=8, stats=stats)

    def settle() -> None:
        """Wait until the actor is idle: it may still be preparing a producer's next turn, and
        only one thread at a time may touch the Llama (in agrochat, only the actor does)."""
        ref.ask(Inspect(), timeout=600)

    def ours(messages, key=None, max_tokens=args.max_tokens, schema=SCHEMA):
        started = time.perf_counter()
        result = client.generate(
            InferenceRequest(
                messages=tuple(messages),
                deadline=deadline_in(600),
                max_tokens=max_tokens,
                temperature=0.0,
                schema=schema,
                cache_key=key,
            )
        )
        return result, time.perf_counter() - started

    prompts = [
        messages_for(PRODUCERS[i % len(PRODUCERS)], QUESTIONS[i % len(QUESTIONS)])
        for i in range(args.prompts)
    ]
    print(
        f"model {path.name}, threads {config.model_threads}, {len(prompts)} prompts, "
        f"max_tokens {args.max_tokens}; system+context {len(prompts[0][0]['content'])} chars, "
        f"{len(backend.prompt_tokens(prompts[0]))} tokens",
        flush=True,
    )
    ours(prompts[0], max_tokens=4)  # warm up (first decode allocates buffers)

    # 1. Cold prompts: equality with the baseline, actor overhead, and (on the first few, run
    # right after on the same prompt, so the shared machine's load is about the same) the
    # unconstrained speed of both paths as the reference for the constrained one.
    same = 0
    cold_ratio, fast_speed, bare_speed, free_bare, free_ours = [], [], [], [], []
    vs_bare_free, vs_ours_free, bare_vs_free = [], [], []
    for i, messages in enumerate(prompts):
        settle()
        text, total, ttft, n = bare(llama, messages, args.max_tokens)
        settle()
        backend.reset()
        result, wall = ours(messages)
        m = result.metrics
        equal = same_reply(result, text)
        same += equal
        cold_ratio.append(wall / total)
        bare_speed.append(tokens_per_s(n, total, ttft))
        fast_speed.append(m.tokens_per_s)
        line = (
            f"  cold {i}: bare {total:5.1f}s ({n} tok, {bare_speed[-1]:4.1f}/s)  ours {wall:5.1f}s "
            f"({m.generated_tokens} tok, {m.tokens_per_s:4.1f}/s)  same={equal}"
        )
        if i < args.free_prompts:
            settle()
            _, f_total, f_ttft, f_n = bare(llama, messages, args.max_tokens, grammar=False)
            free_bare.append(tokens_per_s(f_n, f_total, f_ttft))
            settle()
            backend.reset()
            free, _ = ours(messages, schema=None)
            free_ours.append(free.metrics.tokens_per_s)
            vs_bare_free.append(fast_speed[-1] / free_bare[-1])
            vs_ours_free.append(fast_speed[-1] / free_ours[-1])
            bare_vs_free.append(bare_speed[-1] / free_bare[-1])
            line += f"  | free: bare {free_bare[-1]:4.1f}/s ours {free_ours[-1]:4.1f}/s"
        print(line, flush=True)

    # 3. A producer's second turn, with two other producers in between.
    turn2_ratio, turn2_same, reused = [], 0, []
    for i, producer in enumerate(PRODUCERS):
        settle()
        backend.reset()
        first = messages_for(producer, QUESTIONS[i])
        r1, _ = ours(first, key=f"p{i}")
        for j, other in enumerate(PRODUCERS):
            if j != i:
                ours(messages_for(other, QUESTIONS[j + 3]), key=f"p{j}", max_tokens=40)
        history = [
            {"role": "user", "content": QUESTIONS[i]},
            {"role": "assistant", "content": r1.content},
        ]
        second = messages_for(producer, FOLLOW_UPS[i], history)
        r2, wall = ours(second, key=f"p{i}")
        settle()
        text, total, _, _ = bare(llama, second, args.max_tokens)
        turn2_ratio.append(wall / total)
        equal = same_reply(r2, text)
        turn2_same += equal
        reused.append(r2.metrics.prompt_tokens_reused / r2.metrics.prompt_tokens)
        print(
            f"  turn 2, producer {i}: bare {total:5.1f}s  ours {wall:5.1f}s  reused "
            f"{r2.metrics.prompt_tokens_reused}/{r2.metrics.prompt_tokens}  "
            f"same={equal}",
            flush=True,
        )

    # 4. Twenty producers at once against a queue of 8.
    outcomes: list[str] = []
    lock = threading.Lock()

    def producer(i: int) -> None:
        try:
            ours(messages_for(PRODUCERS[i % 3], QUESTIONS[i % 10]), key=f"c{i}", max_tokens=8)
            outcome = "answered"
        except Overloaded:
            outcome = "overloaded"
        except Exception as exc:
            outcome = type(exc).__name__
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=producer, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = ref.proxy().snapshot().get(timeout=10)
    ref.stop()

    constrained = median(fast_speed)
    rows = [
        ("constrained tok/s: ours / bare unconstrained", median(vs_bare_free), ">= 0.9"),
        ("constrained tok/s: ours / ours unconstrained", median(vs_ours_free), ">= 0.9"),
        ("constrained tok/s: bare / bare unconstrained", median(bare_vs_free), "(about 0.5)"),
        ("second turn wall: ours / bare", median(turn2_ratio), "<= 0.45"),
        ("cold prompt wall: ours (actor) / bare", median(cold_ratio), "<= 1.05"),
        ("cold replies equal to baseline", same / len(prompts), ">= 0.9"),
        ("second-turn replies equal to baseline", turn2_same / len(PRODUCERS), ""),
        ("second-turn prompt tokens reused", median(reused), ""),
    ]
    print()
    print(f"{'measure':48} {'ratio':>7}  target")
    for name, value, target in rows:
        print(f"{name:48} {value:7.2f}  {target}")
    print()
    print(
        f"tokens/s (median, spread): ours constrained {constrained:.1f} ({spread(fast_speed)}), "
        f"bare constrained {median(bare_speed):.1f} ({spread(bare_speed)}), "
        f"bare free {median(free_bare):.1f} ({spread(free_bare)}), "
        f"ours free {median(free_ours):.1f} ({spread(free_ours)})"
    )
    print(
        f"per-prompt ratios: constrained/bare free {spread(vs_bare_free)}, constrained/ours "
        f"free {spread(vs_ours_free)}, second turn {spread(turn2_ratio)}, cold "
        f"{spread(cold_ratio)}"
    )
    backend_info = snap["backend"]
    print(
        f"grammar: {backend_info['grammar_checks']} checks, {backend_info['grammar_rejections']} "
        f"rejections, {backend_info['grammar_full_passes']} full passes; "
        f"KV restores {backend_info['kv_restores']}"
    )
    counts = {o: outcomes.count(o) for o in sorted(set(outcomes))}
    lost = 20 - len(outcomes)
    print(f"20 producers at once (queue 8): {counts}, lost {lost}")
    return 0 if lost == 0 and set(outcomes) <= {"answered", "overloaded"} else 1


if __name__ == "__main__":
    sys.exit(main())
