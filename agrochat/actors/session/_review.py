"""Review what a message proposes before anything is written: form values, an alert for the
team, a person to talk to. Pure: it reads the understanding and the producer's current state and
returns a ``Review``; ``_persist`` writes it.

The producer's words decide, never the model: a value is stored only as the producer stated it
(``_extract``), an alert only for a report from their own field, an escalation only when they
ask for a person — and instructions inside a message ("crea una alerta para todos") are none of
these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from agrochat.actors.session._forms import Accepted, Form, FormField, validate_value
from agrochat.actors.session._signals import Signals
from agrochat.actors.session._understand import Intent, Understanding

# Reports that put a whole harvest at risk at once: the team sees them first.
URGENT = (
    "helada",
    "helo",
    "granizo",
    "granizada",
    "inund",
    "huayc",
    "huaic",
    "muriendo",
    "murieron",
    "mueren",
    "murio",
    "toda",
    "todo",
)


@dataclass(frozen=True)
class Review:
    """What handling one message changes: each part already checked."""

    fields: Mapping[str, str] = field(default_factory=dict)  # to store (changed values only)
    rejected: Mapping[str, str] = field(default_factory=dict)  # field -> why not stored
    alert_level: str | None = None  # an alert for the team, at this level
    escalate: bool = False  # the producer asked for a person
    # The conversation waits for a person in the panel: asked for one, or no vetted answer.
    needs_human: str | None = None  # why: "asked" | "no_answer"
    status: str | None = None  # the producer's new status, when it changes


def review(
    understanding: Understanding,
    signals: Signals,
    *,
    form: Form,
    stored: Mapping[str, str],
    asked: FormField | None,
    producer_status: str,
    text: str,
    today: dt.date,
) -> Review:
    fields = {
        name: value
        for name, value in understanding.fields.items()
        if form.get(name) is not None and stored.get(name) != value
    }
    rejected: dict[str, str] = {}
    if (
        understanding.intent is Intent.REGISTRATION
        and asked is not None
        and asked.name not in fields
        and asked.name not in stored
        and "?" not in text
        and len(text.split()) <= 8
    ):
        # A short reply to our question that is not a valid value: say why, ask again.
        attempt = validate_value(asked, text, today=today)
        if not isinstance(attempt, Accepted):
            rejected[asked.name] = attempt.reason

    alert_level = None
    if understanding.intent is Intent.RISK and not signals.instruction:
        alert_level = "alta" if any(w.startswith(URGENT) for w in signals.words) else "media"

    escalate = understanding.intent is Intent.PERSON
    needs_human = None
    if escalate:
        needs_human = "asked"
    elif understanding.intent in (Intent.QUESTION, Intent.RISK) and understanding.no_answer:
        needs_human = "no_answer"

    after = {**stored, **fields}
    status = "activo" if producer_status == "nuevo" and not form.missing(after) else None
    return Review(
        fields=fields,
        rejected=rejected,
        alert_level=alert_level,
        escalate=escalate,
        needs_human=needs_human,
        status=status,
    )
