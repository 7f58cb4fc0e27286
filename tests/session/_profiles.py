"""The producers and the day the session tests share."""

from __future__ import annotations

import datetime as dt

from agrochat.actors.session import load_form

TODAY = dt.date(2026, 3, 10)
FORM = load_form("perfil")
_CROP = FORM.get("cultivo")
assert _CROP is not None
# Each crop's canonical name and the spellings that name it.
CROPS = dict(_CROP.options)

# Registered, 110 days after sowing on TODAY, rain-fed.
REGISTERED = {
    "nombre": "Rosa Quispe",
    "cultivo": "papa",
    "area_ha": "2",
    "distrito": "Acora",
    "fecha_siembra": "2025-11-20",
    "tipo_riego": "secano",
}

# Registered, furrow irrigation (the conversation tests' producer).
PROFILE = {
    "nombre": "Rosa Quispe",
    "cultivo": "papa",
    "area_ha": "2",
    "distrito": "Huancayo",
    "fecha_siembra": "2026-01-20",
    "tipo_riego": "gravedad",
}
