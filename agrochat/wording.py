"""Every sentence agrochat writes to a producer on its own, in one place (Spanish: producer-facing).

None of these states a fact: facts only ever come from a vetted knowledge entry, quoted with its
source (``source_line``). Sentences here greet, ask, apologise, decline, or say what happens next,
and they promise only what the code does (an "un técnico revisará" is said only where the
conversation is really put in the panel's "esperan a una persona").
"""

from __future__ import annotations

# -- the conversation ------------------------------------------------------------------------

WELCOME = "¡Hola! Soy agrochat, tu asesor agrícola. Para ayudarte mejor necesito unos datos."
GREETING = "¡Hola{name}! ¿En qué te puedo ayudar con tu {crop}?"
GREETING_NO_CROP = "¡Hola{name}! ¿En qué te puedo ayudar con tu chacra?"
THANKS = "¡De nada{name}! Aquí estoy para lo que necesites de tu chacra."
GOODBYE = "¡Hasta pronto{name}! Escríbeme cuando quieras."
ACKNOWLEDGED = "Perfecto{name}. Si tienes otra consulta sobre tu chacra, escríbeme."

OFF_TOPIC = (
    "Solo puedo ayudarte con tu chacra: riego, plagas y enfermedades, abonos, clima, siembra, "
    "cosecha y suelo."
)
# No vetted entry answers: say so, never guess, and put the question where a person sees it.
NO_INFO = (
    "No tengo información verificada sobre eso, y prefiero no darte un dato equivocado. "
    "Dejé tu consulta para que la revise un técnico del equipo."
)
NO_INFO_DOSE = (
    "No puedo darte dosis de productos: la dosis correcta está en la etiqueta de un producto "
    "registrado para tu cultivo. Dejé tu consulta para que la revise un técnico del equipo."
)
NO_INFO_PRICE = (
    "No tengo precios ni datos de mercado verificados. "
    "Dejé tu consulta para que la revise un técnico del equipo."
)
NO_INFO_FORECAST = (
    "No tengo pronósticos del tiempo verificados; consulta el pronóstico oficial de tu zona. "
    "Dejé tu consulta para que la revise un técnico del equipo."
)
# Anything but text (a photo, a sticker, a location, a voice note until agrochat hears them).
MEDIA = (
    "Por ahora solo leo texto. ¿Me escribes tu consulta en un mensaje, por favor? "
    "Si es sobre una plaga o una mancha, cuéntame cómo se ve y en qué cultivo."
)
# Voice notes (heard when agrochat has a transcriber; else MEDIA above).
# A transcript too unsure to act on: asking beats answering a question never asked.
VOICE_UNCLEAR = "No te entendí bien, ¿puedes repetirlo o escribirlo?"
# A file that is no sound we can play (corrupt, or not audio at all).
VOICE_UNREADABLE = (
    "No pude escuchar tu nota de voz: el audio llegó dañado. "
    "¿Puedes enviarla de nuevo o escribirme tu consulta?"
)
VOICE_TOO_LONG = (
    "Tu nota de voz es muy larga para mí. ¿Puedes enviarme una más corta o escribirme tu consulta?"
)
# The note could not be fetched or heard now; it is tried once more (the WhatsApp actor's
# sweep of unanswered messages, or this producer's next message), and answered if that works.
VOICE_RETRYING = (
    "No pude escuchar tu nota de voz por ahora; lo vuelvo a intentar en unos minutos. "
    "Si es urgente, escríbeme tu consulta."
)
# The note cannot be had (the gateway no longer has it, or the second try failed too).
VOICE_NOT_RECEIVED = (
    "No pude recibir tu nota de voz. ¿Puedes enviarla de nuevo o escribirme tu consulta?"
)
# A file sent as a voice message that is no audio.
VOICE_UNSUPPORTED = (
    "Ese archivo no es una nota de voz que pueda escuchar. ¿Me escribes tu consulta, por favor?"
)
# Told only to a caller that shows our answer itself (the seed's bridge) while a person on the
# team has the conversation; through our own gateway the assistant stays silent.
WITH_A_PERSON = "Una persona del equipo está atendiendo tu conversación y te responderá por aquí."
ESCALATED = "Le pasé tu mensaje a una persona del equipo; te contactará pronto."
RISK_NOTED = "Gracias por avisar: le pasé tu reporte al equipo técnico."
ABOUT_YOUR_CROP = "{name}sobre tu {crop}{age}:"
REGISTERED = "Anoté {values}."
NOT_STORED = "No pude guardar {label}: {reason}."

# -- when the answer cannot come now ---------------------------------------------------------

# Said when agrochat cannot take messages at all (its conversations are restarting).
UNAVAILABLE = "Servicio no disponible por el momento. Intenta de nuevo más tarde, por favor."
# Asks the producer to write again and promises no later answer ("te respondo en breve"): with
# AGROCHAT_WHATSAPP=none (a bridge polling the seed's API) nothing could deliver one.
TIMEOUT = "Disculpa, no pude responder a tiempo. ¿Puedes escribirme de nuevo en un momento?"
CRASHED = "Disculpa, tuve un problema al procesar tu mensaje. Inténtalo de nuevo, por favor."
# /chat, when nothing of the model's answer could be recovered.
FALLBACK = (
    "Disculpa, no pude completar mi respuesta. ¿Puedes repetir tu consulta con otras palabras?"
)


def source_line(publisher: str, year: int | None) -> str:
    """How a reply names the source of its facts: "Fuente: INIA, 2020" ("s. f.": no date)."""
    return f"Fuente: {publisher}, {year}." if year else f"Fuente: {publisher}, s. f."
