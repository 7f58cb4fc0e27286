"""The reply's shape, in one place: the seed's ``model_output`` (DESIGN.md "Model output").

Every reply agrochat gives (``/agent``, the outbox, the history) is a model_output built here;
``/chat`` (the seed's Model API) constrains the model to the same schema and repairs its output.

The schema is the grammar llama.cpp generates under, so every string is bounded (``maxLength``)
and the form's fields are enumerated as properties (no ``additionalProperties``): an unbounded
string would let a generation run into ``max_tokens`` and leave JSON unterminated. Generation can
still be cut (a small ``max_tokens``, a remote server without grammar), so ``parse_output``
repairs truncated JSON, validates again, drops whatever the schema and enums do not allow (never
trusting the model), and always returns a complete model_output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agrochat import wording

ROLES = ("consulta", "registro", "alerta", "saludo", "fuera_de_tema")
TEMAS = (
    "riego",
    "plagas",
    "fertilizacion",
    "clima",
    "siembra",
    "cosecha",
    "suelo",
    "registro",
    "otro",
)
NIVELES = ("baja", "media", "alta")

RESPUESTA_MAX = 600
FIELD_VALUE_MAX = 100
ALERTA_MAX = 200


def output_schema(form_fields: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of a model_output for a form with these fields.

    Properties are listed in the order the model should write them; llama.cpp's grammar keeps
    that order, so ``respuesta_chat`` comes before the bookkeeping.
    """
    fields = _unique(form_fields)
    field_values = {name: {"type": "string", "maxLength": FIELD_VALUE_MAX} for name in fields}
    if fields:
        missing: dict[str, Any] = {
            "type": "array",
            "items": {"enum": list(fields)},
            "maxItems": len(fields),
        }
    else:
        missing = {"type": "array", "items": {"type": "string"}, "maxItems": 0}
    return {
        "type": "object",
        "properties": {
            "role": {"enum": list(ROLES)},
            "respuesta_chat": {"type": "string", "minLength": 1, "maxLength": RESPUESTA_MAX},
            "acciones": {
                "type": "object",
                "properties": {
                    "actualizar_formulario": {
                        "type": "object",
                        "properties": field_values,
                        "additionalProperties": False,
                    },
                    "crear_alerta": {
                        "anyOf": [
                            {"type": "null"},
                            {
                                "type": "object",
                                "properties": {
                                    "nivel": {"enum": list(NIVELES)},
                                    "mensaje": {
                                        "type": "string",
                                        "minLength": 1,
                                        "maxLength": ALERTA_MAX,
                                    },
                                },
                                "required": ["nivel", "mensaje"],
                                "additionalProperties": False,
                            },
                        ]
                    },
                    "escalar_a_humano": {"type": "boolean"},
                },
                "required": ["actualizar_formulario", "crear_alerta", "escalar_a_humano"],
                "additionalProperties": False,
            },
            "estado": {
                "type": "object",
                "properties": {
                    "tema": {"enum": list(TEMAS)},
                    "respondida": {"type": "boolean"},
                    "campos_faltantes": missing,
                },
                "required": ["tema", "respondida", "campos_faltantes"],
                "additionalProperties": False,
            },
        },
        "required": ["role", "respuesta_chat", "acciones", "estado"],
        "additionalProperties": False,
    }


def reply_schema(form_fields: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of a model_output as agrochat replies it: the model's schema, plus
    ``estado.conocimiento``, the ids of the vetted entries the reply quotes."""
    schema = output_schema(form_fields)
    estado = schema["properties"]["estado"]
    estado["properties"]["conocimiento"] = {"type": "array", "items": {"type": "integer"}}
    estado["required"] = [*estado["required"], "conocimiento"]
    return schema


def build_output(
    *,
    role: str,
    text: str,
    fields: Mapping[str, str] | None = None,
    alert: Mapping[str, str] | None = None,
    escalate: bool = False,
    topic: str = "otro",
    answered: bool = False,
    missing: Sequence[str] = (),
    knowledge: Sequence[int] = (),
) -> dict[str, Any]:
    """A model_output as agrochat sends it. ``knowledge``: the ids of the vetted entries the text
    comes from (``estado.conocimiento``), so every answer can be traced to its sources."""
    return {
        "role": role if role in ROLES else "consulta",
        "respuesta_chat": text,
        "acciones": {
            "actualizar_formulario": dict(fields or {}),
            "crear_alerta": dict(alert) if alert is not None else None,
            "escalar_a_humano": escalate,
        },
        "estado": {
            "tema": topic if topic in TEMAS else "otro",
            "respondida": answered,
            "campos_faltantes": list(missing),
            "conocimiento": list(knowledge),
        },
    }


def canned_output(role: str | None, text: str, missing: Sequence[str] = ()) -> dict[str, Any]:
    """A reply that is no answer (busy, timeout, an apology): nothing done, nothing answered."""
    return build_output(role=role or "consulta", text=text, missing=missing)


@dataclass(frozen=True)
class ParsedOutput:
    """``output`` is always a complete, schema-valid model_output.

    ``repaired``: the text was not a whole JSON object (cut by max_tokens, or wrapped in prose)
    and was completed. ``dropped``: what was removed or replaced, as ``path: reason``.
    ``answered``: the model's own respuesta_chat survived (False: ``wording.FALLBACK`` was used).
    """

    output: dict[str, Any]
    repaired: bool
    dropped: tuple[str, ...]
    answered: bool


def parse_output(content: str, form_fields: Sequence[str]) -> dict[str, Any]:
    """The model's text as a complete, valid model_output (see ``parse_output_detailed``)."""
    return parse_output_detailed(content, form_fields).output


def parse_output_detailed(content: str, form_fields: Sequence[str]) -> ParsedOutput:
    data, repaired = _load_object(content)
    dropped: list[str] = []
    if data is None:
        dropped.append("$: not a JSON object")
        data = {}
    output, answered = _sanitize(data, _unique(form_fields), dropped)
    return ParsedOutput(output=output, repaired=repaired, dropped=tuple(dropped), answered=answered)


# --- sanitising -----------------------------------------------------------------------------


def _sanitize(
    data: Mapping[str, Any], fields: tuple[str, ...], dropped: list[str]
) -> tuple[dict[str, Any], bool]:
    for key in data:
        if key not in ("role", "respuesta_chat", "acciones", "estado"):
            dropped.append(f"{key}: not in the schema")

    role = _enum(data.get("role"), ROLES, "role", "consulta", dropped)

    respuesta = data.get("respuesta_chat")
    answered = isinstance(respuesta, str) and bool(respuesta.strip())
    if answered:
        respuesta = _clip(respuesta.strip(), RESPUESTA_MAX)
    else:
        if "respuesta_chat" in data:
            dropped.append("respuesta_chat: not a non-empty string")
        respuesta = wording.FALLBACK

    acciones_in = _mapping(data.get("acciones"), "acciones", dropped)
    for key in acciones_in:
        if key not in ("actualizar_formulario", "crear_alerta", "escalar_a_humano"):
            dropped.append(f"acciones.{key}: not in the schema")
    formulario: dict[str, str] = {}
    for key, value in _mapping(
        acciones_in.get("actualizar_formulario"), "acciones.actualizar_formulario", dropped
    ).items():
        path = f"acciones.actualizar_formulario.{key}"
        if key not in fields:
            dropped.append(f"{path}: not a field of the form")
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            dropped.append(f"{path}: not a string")
        elif not str(value).strip():
            dropped.append(f"{path}: empty")
        else:
            formulario[key] = _clip(str(value).strip(), FIELD_VALUE_MAX)

    alerta: dict[str, str] | None = None
    alerta_in = acciones_in.get("crear_alerta")
    if alerta_in is not None:
        nivel = alerta_in.get("nivel") if isinstance(alerta_in, dict) else None
        mensaje = alerta_in.get("mensaje") if isinstance(alerta_in, dict) else None
        if nivel in NIVELES and isinstance(mensaje, str) and mensaje.strip():
            alerta = {"nivel": nivel, "mensaje": _clip(mensaje.strip(), ALERTA_MAX)}
        else:
            dropped.append("acciones.crear_alerta: needs nivel (baja|media|alta) and mensaje")

    escalar = _bool(
        acciones_in.get("escalar_a_humano"), "acciones.escalar_a_humano", False, dropped
    )

    estado_in = _mapping(data.get("estado"), "estado", dropped)
    for key in estado_in:
        if key not in ("tema", "respondida", "campos_faltantes"):
            dropped.append(f"estado.{key}: not in the schema")
    tema = _enum(estado_in.get("tema"), TEMAS, "estado.tema", "otro", dropped)
    # An answer we had to replace, or one the model did not say it answered, is not answered:
    # the seed's rule is to say so rather than pretend.
    respondida = _bool(estado_in.get("respondida"), "estado.respondida", False, dropped)
    respondida = respondida and answered
    faltantes: list[str] = []
    faltantes_in = estado_in.get("campos_faltantes")
    if faltantes_in is not None and not isinstance(faltantes_in, list):
        dropped.append("estado.campos_faltantes: not a list")
        faltantes_in = []
    for item in faltantes_in or []:
        if item in fields and item not in faltantes:
            faltantes.append(item)
        else:
            dropped.append(f"estado.campos_faltantes: {item!r} is not a field of the form")

    output = {
        "role": role,
        "respuesta_chat": respuesta,
        "acciones": {
            "actualizar_formulario": formulario,
            "crear_alerta": alerta,
            "escalar_a_humano": escalar,
        },
        "estado": {"tema": tema, "respondida": respondida, "campos_faltantes": faltantes},
    }
    return output, answered


def _unique(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in names if isinstance(n, str) and n))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _enum(value: Any, allowed: Sequence[str], path: str, default: str, dropped: list[str]) -> str:
    if value in allowed:
        return value
    if value is not None:
        dropped.append(f"{path}: {value!r} is not one of {', '.join(allowed)}")
    return default


def _bool(value: Any, path: str, default: bool, dropped: list[str]) -> bool:
    if isinstance(value, bool):
        return value
    if value is not None:
        dropped.append(f"{path}: not a boolean")
    return default


def _mapping(value: Any, path: str, dropped: list[str]) -> Mapping[str, Any]:
    if isinstance(value, dict):
        return value
    if value is not None:
        dropped.append(f"{path}: not an object")
    return {}


# --- reading and repairing JSON -------------------------------------------------------------

_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")


def load_object(content: str) -> dict[str, Any] | None:
    """The first JSON object in a model's text (fenced, cut short or followed by prose), or
    None: what every parser of the model's answers starts from."""
    return _load_object(content)[0]


def _load_object(content: str) -> tuple[dict[str, Any] | None, bool]:
    """The first JSON object in ``content``, and whether it had to be repaired to read it."""
    text = _FENCE.sub("", content or "")
    start = text.find("{")
    if start < 0:
        return None, bool(text.strip())
    try:
        value, end = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError:
        repaired = repair_json(text[start:])
        if repaired is None:
            return None, True
        value = json.loads(repaired)
        return (value if isinstance(value, dict) else None), True
    # Text around the object (prose, a second object) is ignored, and reported as a repair.
    repaired = start > 0 or bool(text[end:].strip())
    return (value if isinstance(value, dict) else None), repaired


# Free-text values whose first part is still worth keeping when generation stops inside them
# (the producer's answer). A cut form value or enum is dropped instead: half a date is wrong data.
PARTIAL_KEYS = frozenset({"respuesta_chat", "mensaje"})
_KEY_BEFORE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*$')


def repair_json(text: str, *, partial_keys: Iterable[str] = PARTIAL_KEYS) -> str | None:
    """Complete a JSON document that was cut short; None when no prefix of it can be completed.

    A string value cut off under one of ``partial_keys`` keeps its text (ending in "…"); any
    other cut member is removed, cutting back to the last point where its container held only
    complete members (before a comma, or just after ``{``/``[``), and the containers are closed.
    ``parse_output`` then fills in what was removed with defaults.
    """
    try:
        json.loads(text)
        return text
    except json.JSONDecodeError:
        pass
    cuts: list[int] = []
    in_string = False
    escaped = False
    escape_at = string_at = -1
    depth = 0
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
                escape_at = i
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            string_at = i
        elif ch in "{[":
            depth += 1
            cuts.append(i + 1)
        elif ch in "}]":
            depth -= 1
            if depth < 0:
                return None  # more closing than opening: not a cut-short document
        elif ch == ",":
            cuts.append(i)

    if in_string:
        key = _KEY_BEFORE.search(text, 0, string_at)
        if key is not None and key.group(1) in set(partial_keys):
            body = text
            # A cut inside an escape (``\\`` or ``\\u00``) leaves half of it: drop that half.
            if escape_at > string_at and (
                escaped
                or (text[escape_at + 1 : escape_at + 2] == "u" and len(text) - escape_at < 6)
            ):
                body = text[:escape_at]
            closed = _close(body.rstrip() + '…"')
            if closed is not None:
                return closed
    else:
        closed = _close(text)
        if closed is not None:
            return closed
    for cut in reversed(cuts):
        closed = _close(text[:cut])
        if closed is not None:
            return closed
    return None


def _close(prefix: str) -> str | None:
    stack: list[str] = []
    in_string = False
    escaped = False
    for ch in prefix:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if not stack:
                return None
            stack.pop()
    if in_string:
        return None
    candidate = prefix.rstrip().rstrip(",") + "".join(reversed(stack))
    try:
        json.loads(candidate)
    except json.JSONDecodeError:
        return None
    return candidate
