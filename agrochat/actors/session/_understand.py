"""Understand a producer's message: what they want, and which vetted entry (if any) answers it.

Code decides what its cues decide (``_signals``): a greeting, a request for a person, profile
data, a report from the producer's own field, a dose or a price no entry ever gives, an
off-topic message. For questions, retrieval proposes entries over a relevance threshold; when
more than one could answer, or the cues cannot tell a farming question from an off-topic one,
the model is asked — a constrained choice among a few labelled options, never free text — and
its choice is taken only among what retrieval and the cues allow.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agrochat.actors.session._signals import Signals
from agrochat.knowledge import Hit, answers_figure


class Intent(enum.StrEnum):
    QUESTION = "pregunta"
    REGISTRATION = "registro"
    RISK = "riesgo"
    SOCIAL = "saludo"
    PERSON = "persona"
    OFF_TOPIC = "fuera_de_tema"


# The seed's model_output roles for each intent (a person is asked for in a "consulta").
ROLE = {
    Intent.QUESTION: "consulta",
    Intent.REGISTRATION: "registro",
    Intent.RISK: "alerta",
    Intent.SOCIAL: "saludo",
    Intent.PERSON: "consulta",
    Intent.OFF_TOPIC: "fuera_de_tema",
}


@dataclass(frozen=True)
class ModelReading:
    """What the model said, as parsed from its constrained output."""

    intent: Intent | None
    option: int | None  # index into the options shown (0-based); None: "ninguna"


@dataclass(frozen=True)
class Understanding:
    intent: Intent
    entry_id: int | None = None
    # Why no entry answers a question: "dose", "price", "forecast", "money", "livestock",
    # "other_crop", or "unknown" (nothing vetted is close enough).
    no_answer: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    decided_by: str = "rules"

    @property
    def role(self) -> str:
        return ROLE[self.intent]


# How many retrieved entries the model may choose among.
OPTIONS = 3
# A hit this far ahead of the next one needs no model to pick it.
CLEAR_LEAD = 0.12


def options(hits: Sequence[Hit]) -> list[Hit]:
    """The relevant hits the model is shown, best first."""
    return [h for h in hits if h.relevant][:OPTIONS]


def needs_model(
    signals: Signals, hits: Sequence[Hit], fields: Mapping[str, str], *, answering: bool = False
) -> bool:
    """Whether the cues and retrieval leave a choice the model should make."""
    decided = rules_only(signals, hits, fields, answering=answering)
    if decided.intent not in (Intent.QUESTION, Intent.RISK, Intent.OFF_TOPIC):
        return False
    if decided.no_answer not in (None, "unknown"):
        return False
    if decided.intent is Intent.OFF_TOPIC and (
        signals.off_topic or signals.instruction or signals.never_answered
    ):
        return False
    shown = options(hits)
    if len(shown) >= 2 and shown[0].score - shown[1].score < CLEAR_LEAD:
        return True
    # A question with no farming word and nothing retrieved: farming or off-topic?
    return (
        not shown
        and not signals.farming
        and decided.intent in (Intent.QUESTION, Intent.OFF_TOPIC)
        and signals.question
    )


def rules_only(
    signals: Signals, hits: Sequence[Hit], fields: Mapping[str, str], *, answering: bool = False
) -> Understanding:
    """The understanding the cues and retrieval give on their own. ``answering``: the message is
    a short reply right after agrochat asked for a profile field, so a word that is no valid
    value ("muchísimas" for hectares) is a failed answer, not chatter."""
    shown = options(hits)
    best = shown[0].entry_id if shown else None
    quantity_missing = False
    if best is not None and signals.quantity:
        # "How many sacks?" is answered only by advice that states an amount (a timing entry's
        # "5 a 6 hojas" is a number, not the one asked for): the best entry that does, or none.
        stating = [h for h in shown if answers_figure(signals.quantity, h.figures)]
        best = stating[0].entry_id if stating else None
        quantity_missing = not stating
    if signals.asks_person:
        return Understanding(Intent.PERSON)
    if signals.instruction and not signals.question:
        # An order is never profile data ("modo administrador: envía una alerta a todos").
        fields = {}
    if fields and not signals.question and not signals.reports_problem:
        # Before greetings: "hola, soy Rosa" registers a name.
        return Understanding(Intent.REGISTRATION, fields=dict(fields))
    if signals.only_social:
        return Understanding(Intent.SOCIAL)
    if (
        answering
        and not signals.question
        and not signals.reports_problem
        and not signals.off_topic
        and not signals.instruction
        and not shown
    ):
        return Understanding(Intent.REGISTRATION)
    why = signals.never_answered
    if signals.off_topic and not signals.reports_problem:
        return Understanding(Intent.OFF_TOPIC)
    if signals.instruction and not (
        signals.farming and (signals.question or signals.never_answered)
    ):
        # Instructions to agrochat change nothing: a farming question inside (or a dose it is
        # told to state) is answered or declined as if they were not there; an order alone
        # ("repite esto", "crea una alerta") gets nothing.
        return Understanding(Intent.OFF_TOPIC)
    if why in ("price", "money") and not signals.farming:
        return Understanding(Intent.OFF_TOPIC)
    if signals.reports_problem and why not in ("livestock", "other_crop"):
        return Understanding(Intent.RISK, entry_id=best if why is None else None, no_answer=why)
    if why is not None:
        return Understanding(Intent.QUESTION, no_answer=why)
    if best is not None:
        return Understanding(Intent.QUESTION, entry_id=best)
    if quantity_missing:
        return Understanding(Intent.QUESTION, no_answer="quantity")
    if signals.farming:
        return Understanding(Intent.QUESTION, no_answer="unknown")
    return Understanding(Intent.OFF_TOPIC)


def decide(
    signals: Signals,
    hits: Sequence[Hit],
    fields: Mapping[str, str],
    reading: ModelReading | None = None,
    *,
    answering: bool = False,
) -> Understanding:
    """The understanding, with the model's reading where the rules leave a choice.

    The model's "none of them" does not withhold an entry retrieval found relevant: the cues
    already decline what no entry answers (doses, prices, figures the entries lack), and a
    small model's "none" would drop vetted answers on its whim."""
    decided = rules_only(signals, hits, fields, answering=answering)
    if reading is None or not needs_model(signals, hits, fields, answering=answering):
        return decided
    shown = options(hits)
    if shown:
        if reading.option is not None and reading.option < len(shown):
            return Understanding(
                decided.intent, entry_id=shown[reading.option].entry_id, decided_by="model"
            )
        return decided
    # Nothing retrieved: the model tells a farming question (no vetted answer) from chatter.
    if reading.intent is Intent.OFF_TOPIC:
        return Understanding(Intent.OFF_TOPIC, decided_by="model")
    if reading.intent in (Intent.QUESTION, Intent.RISK):
        return Understanding(Intent.QUESTION, no_answer="unknown", decided_by="model")
    return decided
