from __future__ import annotations

from agrochat.text import drop_echoes

WELCOME = "¡Hola! Soy agrochat, tu asesor agrícola."


def test_a_sentence_copied_from_the_producer_is_dropped() -> None:
    reply = "Hola, soy Juan y siembro papa en Huancayo. Riega cada 7 días si no llueve."
    said = ["Hola, soy Juan y siembro papa en Huancayo."]
    assert drop_echoes(reply, producer_said=said, ours=[]) == "Riega cada 7 días si no llueve."


def test_what_agrochat_adds_itself_is_dropped_from_the_model_reply() -> None:
    reply = f"{WELCOME} ¿Cuántas hectáreas siembras? La papa necesita riego frecuente."
    ours = [WELCOME, "¿Cuántas hectáreas siembras?"]
    assert drop_echoes(reply, producer_said=[], ours=ours) == "La papa necesita riego frecuente."


def test_part_of_what_the_producer_wrote_is_an_echo_too() -> None:
    reply = "Soy Juan Quispe. Siembro papa en Huancayo. La papa pide riego cada semana."
    said = ["Hola, soy Juan Quispe. Siembro papa en Huancayo."]
    assert drop_echoes(reply, producer_said=said, ours=[]) == "La papa pide riego cada semana."


def test_short_sentences_may_be_said_back() -> None:
    assert drop_echoes("Sí, papa. Anotado.", producer_said=["Sí, papa."], ours=[]) == (
        "Sí, papa. Anotado."
    )


def test_advice_repeated_from_an_earlier_reply_is_kept() -> None:
    # The producer may ask the same question twice; the same answer is then right.
    reply = "Riega en la mañana temprano para perder menos agua."
    assert drop_echoes(reply, producer_said=["¿Cuándo riego?"], ours=[WELCOME]) == reply
