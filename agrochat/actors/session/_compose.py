"""Compose the reply: the vetted entry's answer with its source, or a sentence from ``wording``.

Every fact in a reply comes from the chosen entry (its ``answer``, written for WhatsApp) or from
the producer's own data (their name, their crop, the days since they sowed). Code personalises
it; nothing the producer wrote is repeated back as agrochat's statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agrochat import wording
from agrochat.actors.session._forms import Form, FormField
from agrochat.actors.session._review import Review
from agrochat.actors.session._signals import Signals
from agrochat.actors.session._understand import Intent, Understanding
from agrochat.persistence import KnowledgeEntry
from agrochat.text import fold

NO_ANSWER = {
    "dose": wording.NO_INFO_DOSE,
    "price": wording.NO_INFO_PRICE,
    "forecast": wording.NO_INFO_FORECAST,
}


@dataclass(frozen=True)
class Advice:
    """What a reply may quote of a vetted entry."""

    id: int
    answer: str
    crop: str | None
    publisher: str
    year: int | None

    @classmethod
    def of(cls, entry: KnowledgeEntry) -> Advice:
        return cls(
            id=entry.id,
            answer=entry.answer,
            crop=entry.crop,
            publisher=entry.source or "agrochat",
            year=entry.source_year,
        )


@dataclass(frozen=True)
class Profile:
    name: str | None
    fields: Mapping[str, str]


def _name(profile: Profile, *, lead: str = ", ") -> str:
    first = (profile.name or "").split()
    return f"{lead}{first[0]}" if first else ""


def _sown_days(fields: Mapping[str, str], today: dt.date) -> int | None:
    try:
        sown = dt.date.fromisoformat(fields.get("fecha_siembra", ""))
    except ValueError:
        return None
    days = (today - sown).days
    return days if 0 <= days <= 3650 else None


def answer_text(advice: Advice, profile: Profile, *, today: dt.date) -> str:
    """The entry's answer, addressed to the producer when it is about their crop."""
    crop = profile.fields.get("cultivo")
    body = f"{advice.answer.strip()}\n{wording.source_line(advice.publisher, advice.year)}"
    if advice.crop is None or crop is None or fold(advice.crop) != fold(crop):
        return body
    days = _sown_days(profile.fields, today)
    age = f" (sembraste hace {days} días)" if days is not None else ""
    name = _name(profile, lead="")
    header = wording.ABOUT_YOUR_CROP.format(name=f"{name}, " if name else "", crop=crop, age=age)
    return f"{header[:1].upper()}{header[1:]}\n{body}"


def _social(signals: Signals, profile: Profile) -> str:
    name = _name(profile)
    if signals.thanks:
        return wording.THANKS.format(name=name)
    if signals.goodbye:
        return wording.GOODBYE.format(name=name)
    if signals.greeting:
        crop = profile.fields.get("cultivo")
        if crop:
            return wording.GREETING.format(name=f" {name[2:]}" if name else "", crop=crop)
        return wording.GREETING_NO_CROP.format(name=f" {name[2:]}" if name else "")
    return wording.ACKNOWLEDGED.format(name=name)


def _registered(form: Form, values: Mapping[str, str]) -> str:
    parts = []
    for spec in form.fields:
        if spec.name in values:
            value = values[spec.name]
            if spec.type == "number":
                value = value.replace(".", ",")  # how Spanish writes a decimal
            parts.append(f"{spec.label}: {value}")
    return wording.REGISTERED.format(values=", ".join(parts))


def compose(
    understanding: Understanding,
    signals: Signals,
    decision: Review,
    *,
    advice: Advice | None,
    profile: Profile,
    form: Form,
    missing_after: Sequence[str],
    first_contact: bool,
    today: dt.date,
) -> str:
    """The reply's text, ending with the next profile question while required data is missing."""
    intent = understanding.intent
    parts: list[str] = []
    if intent is Intent.QUESTION:
        if advice is not None:
            parts.append(answer_text(advice, profile, today=today))
        else:
            parts.append(NO_ANSWER.get(understanding.no_answer or "", wording.NO_INFO))
    elif intent is Intent.RISK:
        parts.append(wording.RISK_NOTED)
        if advice is not None:
            parts.append(answer_text(advice, profile, today=today))
    elif intent is Intent.PERSON:
        parts.append(wording.ESCALATED)
    elif intent is Intent.OFF_TOPIC:
        parts.append(wording.OFF_TOPIC)
    elif intent is Intent.SOCIAL:
        if not first_contact:
            parts.append(_social(signals, profile))
    elif intent is Intent.REGISTRATION and decision.fields:
        parts.append(_registered(form, decision.fields))

    for name, reason in decision.rejected.items():
        spec = form.get(name)
        if spec is not None:
            parts.append(wording.NOT_STORED.format(label=spec.label, reason=reason))

    question = _next_question(form, missing_after, decision)
    if question is not None:
        parts.append(question.question)
    if first_contact:
        parts.insert(0, wording.WELCOME)
    return "\n".join(p for p in parts if p)


def _next_question(form: Form, missing: Sequence[str], decision: Review) -> FormField | None:
    """While required fields are missing the reply asks the next one; a value that could not
    be stored is asked again."""
    for name in missing:
        spec = form.get(name)
        if spec is not None and spec.required:
            return spec
    for name in decision.rejected:
        spec = form.get(name)
        if spec is not None:
            return spec
    return None


def team_alert(
    level: str | None, entry: KnowledgeEntry | None, crop: str | None
) -> dict[str, str] | None:
    """The alert a risk report raises for the team (the panel's, not the producer's): what was
    reported, in which crop."""
    if level is None:
        return None
    subject = entry.title if entry is not None else "un problema en su chacra"
    return {"nivel": level, "mensaje": f"Reporte de {subject}" + (f" en {crop}" if crop else "")}
