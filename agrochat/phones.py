"""Phone numbers: one canonical form (digits only, country code first) for every store and actor.

Producers reach us as WhatsApp chat ids (``51987654321@c.us``, the seed's form), as typed numbers
(``+51 987 654 321``) or already canonical (``51987654321``); all three name the same producer.
"""

from __future__ import annotations

import re

# E.164 allows at most 15 digits; fewer than 8 cannot be a full international number.
MIN_DIGITS = 8
MAX_DIGITS = 15

_CHAT_SUFFIXES = ("@c.us", "@s.whatsapp.net")
_SEPARATORS = re.compile(r"[\s().\-]")


def normalize_phone(raw: object) -> str:
    """The canonical digits of ``raw``; ValueError saying what is wrong when it is not a phone."""
    if not isinstance(raw, str):
        raise ValueError("must be a string")
    text = raw.strip()
    for suffix in _CHAT_SUFFIXES:
        if text.lower().endswith(suffix):
            text = text[: -len(suffix)]
            break
    text = _SEPARATORS.sub("", text)
    if text.startswith("+"):
        text = text[1:]
    if not text.isascii() or not text.isdigit():
        raise ValueError("must be digits with the country code, e.g. 51987654321")
    if not MIN_DIGITS <= len(text) <= MAX_DIGITS:
        raise ValueError(f"must have {MIN_DIGITS} to {MAX_DIGITS} digits, got {len(text)}")
    if text.startswith("0"):
        raise ValueError("must start with the country code, not 0")
    return text


def is_valid_phone(raw: object) -> bool:
    try:
        normalize_phone(raw)
    except ValueError:
        return False
    return True


def chat_id(phone: str) -> str:
    """The WhatsApp chat id the seed's API and WAHA use for a canonical phone."""
    return f"{normalize_phone(phone)}@c.us"
