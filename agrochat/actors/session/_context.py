"""The context orchestrator: what the model sees for one producer message. Pure and deterministic.

The model gets two chat messages: the system prompt (the same for every producer and turn) and
one user message holding the context as JSON, keys ordered from the most stable to the least:

    hoy, productor, alertas, historial, conocimiento, mensaje

so consecutive turns of a producer share the longest possible token prefix and the inference
cache re-evaluates only what changed (DESIGN.md: re-evaluating the prefix is most of a reply's
cost on a small CPU). For the same reason old history is dropped in blocks aligned to the
producer's message numbers: the first message kept changes only every ``HISTORY_BLOCK``
messages, not at every turn.

Token counts are estimated (about 3.5 characters per token for Spanish with Qwen's tokenizer)
unless a real tokenizer's counter is given.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The seed's rule, in the producer's language: answer only from the context, never invent.
SYSTEM_PROMPT = (
    "Eres agrochat, asesor agrícola de pequeños productores por WhatsApp. "
    "Responde SOLO con la información del CONTEXTO (productor, historial, alertas y "
    "conocimiento). Si el contexto no tiene la respuesta, dilo con claridad, pon "
    "respondida=false y no inventes cifras, dosis, fechas ni nombres de productos. "
    "Escribe en español sencillo, corto y amable (máximo 3 frases). "
    "Si el productor da datos de su perfil, ponlos en acciones.actualizar_formulario "
    "(solo campos del formulario: {fields}). "
    "Usa crear_alerta solo ante un riesgo serio (plaga, helada) y escalar_a_humano=true si "
    "pide hablar con una persona o es una emergencia. Devuelve solo el JSON pedido."
)

CHARS_PER_TOKEN = 3.5
HISTORY_BLOCK = 6
MAX_HISTORY = 16
# No single past message may take more than this much of the budget.
MAX_TURN_CHARS = 600
# Share of what is left after the fixed parts that retrieved advice may take.
KNOWLEDGE_SHARE = 0.6


def estimate_tokens(text: str) -> int:
    """Cheap and deterministic: Spanish runs at about 3.5 characters per token."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Turn:
    """One past message. ``seq`` numbers the producer's messages from 0, oldest first."""

    seq: int
    de: str  # "productor" | "agrochat"
    texto: str


@dataclass(frozen=True)
class ContextInput:
    mensaje: str
    productor: Mapping[str, Any]
    historial: Sequence[Turn]
    alertas: Sequence[Mapping[str, Any]]
    conocimiento: Sequence[Mapping[str, Any]]  # each with "id", best first
    hoy: dt.date
    form_fields: Sequence[str] = ()


@dataclass(frozen=True)
class BuiltContext:
    system: str
    context: dict[str, Any]
    messages: tuple[dict[str, str], ...]
    estimated_tokens: int
    history_kept: int
    history_dropped: int
    knowledge_ids: tuple[int, ...]
    knowledge_dropped: int
    message_truncated: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def system_prompt(form_fields: Sequence[str]) -> str:
    return SYSTEM_PROMPT.format(fields=", ".join(form_fields) or "ninguno")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def render_user(context: Mapping[str, Any]) -> str:
    return "CONTEXTO:\n" + _dumps(context)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def _aligned_cut(first_seq_needed: int, block: int) -> int:
    """Round a cut up to the next block boundary, so it moves once per ``block`` messages."""
    return math.ceil(first_seq_needed / block) * block


def build_context(
    inp: ContextInput,
    *,
    budget_tokens: int,
    count_tokens: Callable[[str], int] = estimate_tokens,
    history_block: int = HISTORY_BLOCK,
    max_history: int = MAX_HISTORY,
) -> BuiltContext:
    """The model's messages for this turn within ``budget_tokens`` (prompt only).

    What gives way when the budget is tight, in order: history (oldest first, whole blocks),
    then retrieved advice (least relevant first), then alerts, then the tail of the message.
    """
    system = system_prompt(inp.form_fields)
    notes: list[str] = []
    historial = [{"de": t.de, "texto": _truncate(t.texto, MAX_TURN_CHARS)} for t in inp.historial]
    seqs = [t.seq for t in inp.historial]
    alertas = [dict(a) for a in inp.alertas]
    mensaje = inp.mensaje

    def assemble(hist: list[dict[str, str]], know: list[Mapping[str, Any]]) -> dict[str, Any]:
        return {
            "hoy": inp.hoy.isoformat(),
            "productor": dict(inp.productor),
            "alertas": alertas,
            "historial": hist,
            "conocimiento": [dict(k) for k in know],
            "mensaje": mensaje,
        }

    def total(ctx: Mapping[str, Any]) -> int:
        # Chat-template tokens around the two messages: a small constant.
        return count_tokens(system) + count_tokens(render_user(ctx)) + 12

    # 1. The fixed part must fit: shorten the message, then drop alerts if it does not.
    truncated = False
    base = total(assemble([], []))
    if base > budget_tokens and alertas:
        alertas = []
        notes.append("alertas dropped")
        base = total(assemble([], []))
    if base > budget_tokens:
        spare = budget_tokens - (base - count_tokens(mensaje))
        keep_chars = max(80, int(spare * CHARS_PER_TOKEN) - 4)
        mensaje = _truncate(mensaje, keep_chars)
        truncated = True
        base = total(assemble([], []))

    # 2. Retrieved advice, best first, each whole or not at all, within its share.
    knowledge_budget = base + int(max(0, budget_tokens - base) * KNOWLEDGE_SHARE)
    kept_knowledge: list[Mapping[str, Any]] = []
    for entry in inp.conocimiento:
        if total(assemble([], [*kept_knowledge, entry])) <= knowledge_budget:
            kept_knowledge.append(entry)
    knowledge_dropped = len(inp.conocimiento) - len(kept_knowledge)

    # 3. History fills the rest: newest kept, cut at a block boundary.
    start = 0
    if seqs:
        next_seq = seqs[-1] + 1
        if len(seqs) > max_history:
            cut = _aligned_cut(next_seq - max_history, history_block)
            start = next((i for i, s in enumerate(seqs) if s >= cut), len(seqs))
    while start < len(historial) and (
        total(assemble(historial[start:], kept_knowledge)) > budget_tokens
    ):
        # Drop at least the oldest message, then up to the next block boundary.
        cut = _aligned_cut(seqs[start] + 1, history_block)
        start = next((i for i, s in enumerate(seqs) if s >= cut), len(seqs))
    kept_history = historial[start:]

    context = assemble(kept_history, kept_knowledge)
    user = render_user(context)
    return BuiltContext(
        system=system,
        context=context,
        messages=(
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ),
        estimated_tokens=total(context),
        history_kept=len(kept_history),
        history_dropped=len(historial) - len(kept_history),
        knowledge_ids=tuple(int(k["id"]) for k in kept_knowledge),
        knowledge_dropped=knowledge_dropped,
        message_truncated=truncated,
        notes=tuple(notes),
    )
