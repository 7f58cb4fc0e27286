"""The context orchestrator: budget, what gives way first, prefix stability, determinism."""

from __future__ import annotations

import datetime as dt
import itertools
import json

from agrochat.actors.session import ContextInput, Turn, build_context, estimate_tokens
from agrochat.actors.session._context import HISTORY_BLOCK

HOY = dt.date(2026, 3, 10)
PRODUCTOR = {
    "nombre": "Juan",
    "estado": "activo",
    "perfil": {"cultivo": "papa", "area_ha": "2"},
    "campos_faltantes": [],
}
KNOWLEDGE = [
    {"id": 7, "titulo": "Riego de papa", "texto": "Riega cuando el suelo esté seco. " * 4},
    {"id": 3, "titulo": "Heladas", "texto": "Riega por la tarde antes de la helada. " * 4},
]


def turns(n: int, *, start: int = 0, size: int = 60) -> list[Turn]:
    return [
        Turn(
            seq=start + i,
            de="productor" if i % 2 == 0 else "agrochat",
            texto=f"m{start + i} " + "x" * size,
        )
        for i in range(n)
    ]


def make(
    history: list[Turn], *, mensaje: str = "¿Cuándo riego?", knowledge=KNOWLEDGE
) -> ContextInput:
    return ContextInput(
        mensaje=mensaje,
        productor=PRODUCTOR,
        historial=history,
        alertas=[{"fecha": "2026-03-09", "nivel": "alta", "mensaje": "Helada esta noche"}],
        conocimiento=knowledge,
        hoy=HOY,
        form_fields=("nombre", "cultivo"),
    )


def test_context_has_the_seed_keys_in_stable_to_volatile_order() -> None:
    built = build_context(make(turns(4)), budget_tokens=4000)
    assert list(built.context) == [
        "hoy",
        "productor",
        "alertas",
        "historial",
        "conocimiento",
        "mensaje",
    ]
    assert built.messages[0] == {"role": "system", "content": built.system}
    user = built.messages[1]["content"]
    assert user.startswith("CONTEXTO:\n")
    assert json.loads(user.removeprefix("CONTEXTO:\n")) == built.context
    # The new message is the very end of the prompt.
    assert user.endswith(json.dumps("¿Cuándo riego?", ensure_ascii=False) + "}")
    assert built.knowledge_ids == (7, 3)


def test_system_prompt_states_the_seed_rule_in_spanish() -> None:
    built = build_context(make([]), budget_tokens=4000)
    assert "SOLO" in built.system and "CONTEXTO" in built.system
    assert "respondida=false" in built.system
    assert "no inventes cifras" in built.system
    assert "nombre, cultivo" in built.system


def test_everything_fits_a_generous_budget() -> None:
    built = build_context(make(turns(6)), budget_tokens=4000)
    assert built.history_kept == 6 and built.history_dropped == 0
    assert built.knowledge_dropped == 0
    assert built.estimated_tokens <= 4000


def test_oldest_history_goes_first_when_over_budget() -> None:
    full = build_context(make(turns(12)), budget_tokens=10_000)
    budget = full.estimated_tokens - 60
    built = build_context(make(turns(12)), budget_tokens=budget)
    assert built.estimated_tokens <= budget
    assert 0 < built.history_kept < 12
    kept = [h["texto"].split()[0] for h in built.context["historial"]]
    assert kept == [f"m{i}" for i in range(12 - built.history_kept, 12)]
    # Advice and the message survive while history can still give way.
    assert built.knowledge_ids == (7, 3)


def test_history_is_cut_at_block_boundaries_so_the_prefix_stays_stable() -> None:
    budget = 700
    firsts = []
    for total in range(10, 30):
        built = build_context(make(turns(total)), budget_tokens=budget)
        firsts.append(built.context["historial"][0]["texto"].split()[0])
        assert built.estimated_tokens <= budget
    # The first message kept changes at most once per block of messages.
    changes = sum(1 for a, b in itertools.pairwise(firsts) if a != b)
    assert changes <= len(firsts) // HISTORY_BLOCK + 1
    assert all(int(f[1:]) % HISTORY_BLOCK == 0 for f in firsts if int(f[1:]) > 0)


def test_consecutive_turns_share_a_long_prompt_prefix() -> None:
    first = build_context(make(turns(8)), budget_tokens=4000)
    second = build_context(make(turns(10), mensaje="¿Y el abono?"), budget_tokens=4000)
    a, b = first.messages[1]["content"], second.messages[1]["content"]
    common = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    history_end = a.index('"conocimiento"')
    # Everything up to the end of the first turn's history is shared.
    assert common >= history_end - 4
    assert first.system == second.system


def test_least_relevant_advice_goes_before_the_message_is_cut() -> None:
    big = [{"id": i, "titulo": f"t{i}", "texto": "palabra " * 150} for i in range(1, 5)]
    built = build_context(make([], knowledge=big), budget_tokens=900)
    assert built.estimated_tokens <= 900
    assert 0 < len(built.knowledge_ids) < 4
    assert built.knowledge_ids == tuple(range(1, len(built.knowledge_ids) + 1))
    assert not built.message_truncated


def test_a_huge_message_is_truncated_to_fit() -> None:
    built = build_context(make(turns(4), mensaje="a" * 20_000), budget_tokens=800)
    assert built.message_truncated
    assert built.estimated_tokens <= 800
    assert built.context["mensaje"].endswith("…")


def test_building_is_deterministic() -> None:
    one = build_context(make(turns(15)), budget_tokens=600)
    two = build_context(make(turns(15)), budget_tokens=600)
    assert one == two


def test_token_estimate_is_cheap_and_monotonic() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a" * 35) == 10
    assert estimate_tokens("a" * 36) == 11


def test_a_real_tokenizer_count_can_be_given() -> None:
    counted: list[str] = []

    def count(text: str) -> int:
        counted.append(text)
        return len(text.split())

    built = build_context(make(turns(3)), budget_tokens=4000, count_tokens=count)
    assert counted
    assert built.estimated_tokens == count(built.system) + count(built.messages[1]["content"]) + 12
