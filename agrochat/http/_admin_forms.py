"""The admin panel's forms: what was typed in, checked, with a Spanish reason per bad field.

Plain functions from the submitted strings to values or errors, so the rules are tested without
a server. Limits are the stores' and the API's (``_alerts``), not new ones: an alert the panel
accepts is one ``POST /alert`` would accept too. Profile fields are not checked here: they go
through the conversation's own ``validate_fields`` (the same as ``POST /form/update``).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass

from agrochat.actors.session import Accepted, load_form, validate_value
from agrochat.http._alerts import MAX_SEGMENT_VALUE
from agrochat.model_output import TEMAS
from agrochat.persistence import LEVELS, MAX_MESSAGE_CHARS
from agrochat.phones import normalize_phone

TARGETS = ("telefono", "cultivo", "distrito", "todos")
TARGET_LABELS = {
    "telefono": "Un productor (teléfono)",
    "cultivo": "Productores de un cultivo",
    "distrito": "Productores de un distrito",
    "todos": "Todos los productores (menos los inactivos)",
}
TOPICS = TEMAS

MAX_TITLE = 200
MAX_BODY = 4000
MAX_CROP = 64
MAX_KEYWORDS = 1000
MAX_SOURCE = 200
MAX_SOURCE_TITLE = 400
MAX_URL = 500
# What a producer reads on WhatsApp: short enough to read at a glance.
MAX_ANSWER = 420
MAX_ANSWER_SENTENCES = 3


@dataclass(frozen=True)
class AlertDraft:
    message: str
    level: str
    phone: str | None = None
    segment: dict[str, str] | None = None  # None with phone None: every active producer
    scheduled_at: dt.datetime | None = None  # naive UTC; None: now


@dataclass(frozen=True)
class KnowledgeDraft:
    title: str
    answer: str
    body: str
    crop: str | None
    topic: str | None
    keywords: str
    source: str
    source_title: str
    source_year: int | None
    source_url: str | None


def local_to_utc(value: str, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """An ``<input type=datetime-local>`` value, in the producers' zone, as naive UTC."""
    parsed = dt.datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        return parsed.astimezone(dt.UTC).replace(tzinfo=None)
    except OverflowError:
        # 9999-12-31T23:59 west of Greenwich is past the last datetime Python has.
        raise ValueError("out of range") from None


def canonical_crop(text: str) -> str:
    """A crop as the profile form stores it ("Maiz" -> "maíz"); else the text, lower-case."""
    spec = load_form("perfil").get("cultivo")
    if spec is not None:
        result = validate_value(spec, text, today=dt.date.today())
        if isinstance(result, Accepted):
            return result.value
    return " ".join(text.lower().split())


def parse_alert(
    form: Mapping[str, str], *, zone: zoneinfo.ZoneInfo, now: dt.datetime
) -> tuple[AlertDraft | None, dict[str, str]]:
    """The alert to create, or the errors by field name (``now``: naive UTC)."""
    errors: dict[str, str] = {}
    message = form.get("mensaje", "").strip()
    if not message:
        errors["mensaje"] = "Escribe el mensaje de la alerta."
    elif len(message) > MAX_MESSAGE_CHARS:
        errors["mensaje"] = f"El mensaje pasa de {MAX_MESSAGE_CHARS} caracteres."

    level = form.get("nivel", "")
    if level not in LEVELS:
        errors["nivel"] = "Elige un nivel: " + ", ".join(LEVELS) + "."

    phone: str | None = None
    segment: dict[str, str] | None = None
    target = form.get("destino", "")
    if target == "telefono":
        raw = form.get("telefono", "").strip()
        if not raw:
            errors["telefono"] = "Escribe el teléfono del productor."
        else:
            try:
                phone = normalize_phone(raw)
            except ValueError:
                errors["telefono"] = (
                    "No es un teléfono válido: usa el código de país, p. ej. 51987654321."
                )
    elif target in ("cultivo", "distrito"):
        value = form.get(target, "").strip()
        if not value:
            errors[target] = f"Escribe el {target} de los productores a alertar."
        elif len(value) > MAX_SEGMENT_VALUE:
            errors[target] = f"Pasa de {MAX_SEGMENT_VALUE} caracteres."
        else:
            segment = {target: canonical_crop(value) if target == "cultivo" else value}
    elif target != "todos":
        errors["destino"] = "Elige a quién va la alerta."

    scheduled: dt.datetime | None = None
    raw_time = form.get("programada", "").strip()
    if raw_time:
        try:
            scheduled = local_to_utc(raw_time, zone)
        except ValueError:
            errors["programada"] = "Fecha y hora no válidas."
        else:
            # A minute of slack: the form was filled in a moment ago.
            if scheduled < now - dt.timedelta(minutes=1):
                errors["programada"] = "Esa fecha y hora ya pasaron; déjalo vacío para enviar ya."
            elif scheduled > now + dt.timedelta(days=366):
                errors["programada"] = "Programa la alerta dentro del próximo año."

    if errors:
        return None, errors
    return (
        AlertDraft(
            message=message, level=level, phone=phone, segment=segment, scheduled_at=scheduled
        ),
        {},
    )


def parse_knowledge(form: Mapping[str, str]) -> tuple[KnowledgeDraft | None, dict[str, str]]:
    """An admin's entry. The answer is what producers read; the source is required: every
    figure an entry states must be traceable to a named public source."""
    errors: dict[str, str] = {}
    title = " ".join(form.get("titulo", "").split())
    if len(title) < 3:
        errors["titulo"] = "Escribe un título (al menos 3 caracteres)."
    elif len(title) > MAX_TITLE:
        errors["titulo"] = f"El título pasa de {MAX_TITLE} caracteres."

    answer = " ".join(form.get("respuesta", "").split())
    if len(answer) < 20:
        errors["respuesta"] = "Escribe la respuesta para el productor (al menos 20 caracteres)."
    elif len(answer) > MAX_ANSWER:
        errors["respuesta"] = f"La respuesta pasa de {MAX_ANSWER} caracteres; resúmela."
    elif len(re.findall(r"[.!?](?:\s|$)", answer)) > MAX_ANSWER_SENTENCES:
        errors["respuesta"] = f"La respuesta pasa de {MAX_ANSWER_SENTENCES} oraciones."

    body = form.get("texto", "").strip().replace("\r\n", "\n")
    if len(body) < 20:
        errors["texto"] = "Escribe el detalle (al menos 20 caracteres)."
    elif len(body) > MAX_BODY:
        errors["texto"] = f"El detalle pasa de {MAX_BODY} caracteres; divídelo en dos."

    crop_raw = form.get("cultivo", "").strip()
    crop: str | None = None
    if crop_raw:
        crops = load_form("perfil").get("cultivo")
        crop = canonical_crop(crop_raw)
        if crops is not None and crop not in crops.options:
            errors["cultivo"] = "Elige un cultivo de la lista, o déjalo vacío para todos."

    topic = form.get("tema", "").strip() or None
    if topic is not None and topic not in TOPICS:
        errors["tema"] = "Elige un tema de la lista."

    keywords = " ".join(form.get("palabras", "").split())
    if len(keywords) > MAX_KEYWORDS:
        errors["palabras"] = f"Las palabras clave pasan de {MAX_KEYWORDS} caracteres."

    source = " ".join(form.get("fuente", "").split())
    if not source:
        errors["fuente"] = "Nombra quién publica la fuente (INIA, FAO, SENASA…)."
    elif len(source) > MAX_SOURCE:
        errors["fuente"] = f"Pasa de {MAX_SOURCE} caracteres."
    source_title = " ".join(form.get("fuente_titulo", "").split())
    if not source_title:
        errors["fuente_titulo"] = "Escribe el título de la publicación."
    elif len(source_title) > MAX_SOURCE_TITLE:
        errors["fuente_titulo"] = f"Pasa de {MAX_SOURCE_TITLE} caracteres."
    year: int | None = None
    year_raw = form.get("fuente_anio", "").strip()
    if year_raw:
        if not (year_raw.isascii() and year_raw.isdigit() and 1900 <= int(year_raw) <= 2100):
            errors["fuente_anio"] = "Escribe el año con cuatro cifras, o déjalo vacío (s. f.)."
        else:
            year = int(year_raw)
    url = form.get("fuente_url", "").strip() or None
    if url is not None and (len(url) > MAX_URL or not re.match(r"https?://\S+$", url)):
        errors["fuente_url"] = "Escribe una dirección que empiece con http:// o https://."

    if errors:
        return None, errors
    return (
        KnowledgeDraft(
            title=title,
            answer=answer,
            body=body,
            crop=crop,
            topic=topic,
            keywords=keywords,
            source=source,
            source_title=source_title,
            source_year=year,
            source_url=url,
        ),
        {},
    )


def profile_changes(
    submitted: Mapping[str, str], stored: Mapping[str, str], names: tuple[str, ...]
) -> tuple[dict[str, str], dict[str, str]]:
    """The profile fields the admin changed, and errors for ones that cannot change that way.

    A field left as it was is not sent again (nor re-judged); a stored value cannot be emptied:
    no store or validator has a notion of "unknown again", and the conversation would ask anew.
    """
    changed: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in names:
        value = " ".join(submitted.get(name, "").split())
        before = stored.get(name)
        if not value:
            if before:
                errors[name] = "Un dato guardado no se puede dejar vacío; corrígelo."
            continue
        if value != before:
            changed[name] = value
    return changed, errors
