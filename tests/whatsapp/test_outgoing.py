"""Message splitting and the send-rate limiter (pure; the limiter runs on a fake clock)."""

from __future__ import annotations

import random

import pytest

from agrochat.actors.whatsapp import (
    CLOUD_TEXT_LIMIT,
    WAHA_TEXT_LIMIT,
    SendRateLimiter,
    split_message,
)

# -- split_message ---------------------------------------------------------------------------


def test_a_text_within_the_limit_is_one_part() -> None:
    assert split_message("Riegue por la tarde.", 100) == ["Riegue por la tarde."]
    assert split_message("  ", 100) == []
    assert split_message("", 100) == []


def test_parts_end_at_the_latest_sentence_that_fits() -> None:
    text = "Riegue temprano. ¿Tiene goteo? Revise las hojas cada semana. Avíseme si hay manchas."

    parts = split_message(text, 50)

    assert parts == [
        "Riegue temprano. ¿Tiene goteo?",
        "Revise las hojas cada semana.",
        "Avíseme si hay manchas.",
    ]


def test_exclamations_ellipses_and_closing_quotes_end_sentences() -> None:
    text = "¡Cuidado con la helada! Cubra las plantas… Diga «listo.» y le aviso mañana."

    assert split_message(text, 45) == [
        "¡Cuidado con la helada! Cubra las plantas…",
        "Diga «listo.» y le aviso mañana.",
    ]


def test_a_decimal_point_is_not_a_sentence_end() -> None:
    text = "Aplique 2.5 litros por planta y espere una semana."

    parts = split_message(text, 30)

    assert all("2.5" in part or "2." not in part for part in parts)
    assert parts[0] == "Aplique 2.5 litros por planta"


def test_line_breaks_are_boundaries_too() -> None:
    text = "Paso 1: limpie el surco\nPaso 2: riegue\nPaso 3: abone"

    assert split_message(text, 40) == ["Paso 1: limpie el surco\nPaso 2: riegue", "Paso 3: abone"]


def test_a_sentence_longer_than_the_limit_is_cut_between_words() -> None:
    text = "la papa necesita agua constante durante la tuberización sin encharcar el suelo"

    parts = split_message(text, 25)

    assert all(len(part) <= 25 for part in parts)
    assert " ".join(parts) == text  # every cut was at a space, no word was broken


def test_only_a_word_longer_than_the_limit_is_cut_inside() -> None:
    assert split_message("ver https://example.org/guia-de-riego-por-goteo ya", 12) == [
        "ver",
        "https://exam",
        "ple.org/guia",
        "-de-riego-po",
        "r-goteo ya",
    ]


def test_every_part_fits_and_nothing_is_lost_on_random_texts() -> None:
    rng = random.Random(2024)
    words = ["riego", "papa", "maíz", "helada.", "plaga?", "sí!", "2.5", "kg", "—", "\n"]
    for _ in range(200):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 120)))
        limit = rng.randint(8, 80)

        parts = split_message(text, limit)

        assert all(0 < len(part) <= limit for part in parts)
        assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
            "\n", ""
        )


def test_the_platform_limits() -> None:
    assert CLOUD_TEXT_LIMIT == 4096
    assert WAHA_TEXT_LIMIT == 4096
    long_reply = "Esta es una recomendación de riego para su cultivo. " * 200
    parts = split_message(long_reply, CLOUD_TEXT_LIMIT)
    assert len(parts) == 3 and all(len(p) <= 4096 and p.endswith(".") for p in parts)


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        split_message("hola", 0)


# -- SendRateLimiter -------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_recipient_gets_its_burst_at_once_then_one_send_per_interval(clock: FakeClock) -> None:
    limiter = SendRateLimiter(
        per_recipient_per_min=10, per_recipient_burst=3, global_per_min=None, clock=clock
    )

    assert [limiter.try_acquire("51987654321") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.try_acquire("51987654321") == pytest.approx(6.0)  # 10 a minute: one per 6 s

    clock.advance(5.9)
    assert limiter.try_acquire("51987654321") == pytest.approx(0.1)
    clock.advance(0.1)
    assert limiter.try_acquire("51987654321") == 0.0
    assert limiter.try_acquire("51987654321") == pytest.approx(6.0)


def test_a_wait_answer_counts_nothing(clock: FakeClock) -> None:
    limiter = SendRateLimiter(
        per_recipient_per_min=60, per_recipient_burst=1, global_per_min=None, clock=clock
    )
    assert limiter.try_acquire("a") == 0.0
    for _ in range(5):
        assert limiter.try_acquire("a") == pytest.approx(1.0)
    assert limiter.wait_s("a") == pytest.approx(1.0)

    clock.advance(1.0)
    assert limiter.wait_s("a") == 0.0
    assert limiter.try_acquire("a") == 0.0


def test_recipients_are_limited_separately(clock: FakeClock) -> None:
    limiter = SendRateLimiter(
        per_recipient_per_min=6, per_recipient_burst=1, global_per_min=None, clock=clock
    )

    assert limiter.try_acquire("a") == 0.0
    assert limiter.try_acquire("a") == pytest.approx(10.0)
    assert limiter.try_acquire("b") == 0.0
    assert limiter.try_acquire("c") == 0.0


def test_the_global_limit_holds_a_burst_of_alerts_to_many_recipients(clock: FakeClock) -> None:
    limiter = SendRateLimiter(
        per_recipient_per_min=10,
        per_recipient_burst=5,
        global_per_min=30,
        global_burst=4,
        clock=clock,
    )

    sent = [limiter.try_acquire(f"5198765430{i}") for i in range(6)]

    assert sent[:4] == [0.0] * 4
    assert sent[4] == pytest.approx(2.0) and sent[5] == pytest.approx(2.0)  # 30 a minute
    clock.advance(2.0)
    assert limiter.try_acquire("51987654304") == 0.0
    assert limiter.try_acquire("51987654305") == pytest.approx(2.0)


def test_the_wait_is_the_longer_of_the_two_limits(clock: FakeClock) -> None:
    limiter = SendRateLimiter(
        per_recipient_per_min=6,
        per_recipient_burst=1,
        global_per_min=60,
        global_burst=1,
        clock=clock,
    )
    assert limiter.try_acquire("a") == 0.0

    assert limiter.wait_s("a") == pytest.approx(10.0)  # the recipient's 10 s beats the global 1 s
    assert limiter.wait_s("b") == pytest.approx(1.0)


def test_three_processes_sending_through_one_number_each_keep_a_third_of_the_rate(
    clock: FakeClock,
) -> None:
    limiters = [
        SendRateLimiter(per_recipient_per_min=None, global_per_min=30, global_burst=3, clock=clock)
        for _ in range(3)
    ]
    for limiter in limiters:
        limiter.share(3)
    # Together: a burst of 3 (one each), then 30 a minute (one every 6 s each).
    assert [limiter.try_acquire(f"a{i}") for i, limiter in enumerate(limiters)] == [0.0] * 3
    assert [limiter.wait_s("b") for limiter in limiters] == [pytest.approx(6.0)] * 3
    clock.advance(60)
    sent = 0
    for _ in range(60):
        for limiter in limiters:
            sent += limiter.try_acquire("c") == 0.0
        clock.advance(1)
    assert sent <= 30 + 3


def test_a_process_alone_again_takes_the_whole_rate_back(clock: FakeClock) -> None:
    limiter = SendRateLimiter(
        per_recipient_per_min=6, per_recipient_burst=2, global_per_min=None, clock=clock
    )
    limiter.share(2)
    assert limiter.try_acquire("a") == 0.0
    assert limiter.try_acquire("a") == pytest.approx(20.0)  # 3 a minute for its half
    limiter.share(1)
    assert limiter.wait_s("a") == pytest.approx(10.0)  # 6 a minute again


def test_limits_set_to_none_are_off(clock: FakeClock) -> None:
    limiter = SendRateLimiter(per_recipient_per_min=None, global_per_min=None, clock=clock)
    assert all(limiter.try_acquire("a") == 0.0 for _ in range(1000))
    assert limiter.tracked == 0


def test_recipients_whose_bucket_refilled_are_forgotten(clock: FakeClock) -> None:
    limiter = SendRateLimiter(
        per_recipient_per_min=60,
        per_recipient_burst=2,
        global_per_min=None,
        clock=clock,
        max_tracked=10,
    )
    for i in range(10):
        limiter.try_acquire(f"old{i}")
    clock.advance(60)

    limiter.try_acquire("new")

    assert limiter.tracked == 1


def test_a_bucket_needs_a_positive_rate_and_burst() -> None:
    with pytest.raises(ValueError):
        SendRateLimiter(per_recipient_per_min=10, per_recipient_burst=0)
