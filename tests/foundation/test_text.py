"""Spanish as agrochat compares it: one folding everywhere."""

from __future__ import annotations

import pytest

from agrochat.text import contains_phrase, fold, mask_phone


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("¿Cuándo RIEGO el maíz?", "cuando riego el maiz"),
        ("mañana", "manana"),  # phones drop the tilde of ñ as often as any accent
        ("Ñuñoa, 15-20 cm.", "nunoa 15 20 cm"),
        ("m²", "m²"),
    ],
)
def test_folding_drops_case_accents_and_punctuation(written: str, folded: str) -> None:
    assert fold(written) == folded


def test_a_phrase_is_contained_only_as_whole_words() -> None:
    assert contains_phrase("riego por surcos", "por surcos")
    assert not contains_phrase("riego por surcos", "surc")


def test_a_masked_phone_tells_producers_apart_without_being_dialable() -> None:
    assert mask_phone("51987654321") == "5198…321"
