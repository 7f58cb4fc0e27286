from __future__ import annotations

import pytest

from agrochat.phones import chat_id, is_valid_phone, normalize_phone


@pytest.mark.parametrize(
    "raw",
    ["51987654321@c.us", "+51 987 654 321", "51987654321", " 51-987-654-321 ", "(51) 987.654.321"],
)
def test_every_form_of_a_phone_names_the_same_producer(raw: str) -> None:
    assert normalize_phone(raw) == "51987654321"
    assert chat_id(raw) == "51987654321@c.us"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (51987654321, "string"),
        ("", "digits"),
        ("hola", "digits"),
        ("1234567", "8 to 15"),
        ("5198765432112345", "8 to 15"),
        ("0987654321", "country code"),
        (
            "\uff15\uff11\uff19\uff18\uff17\uff16\uff15\uff14\uff13\uff12\uff11",
            "digits",
        ),  # full-width
        ("51987654321@g.us", "digits"),  # a group, not a producer
    ],
)
def test_what_is_not_a_phone_is_refused_with_a_reason(raw: object, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        normalize_phone(raw)
    assert not is_valid_phone(raw)
