"""How sure a transcript is, from what Whisper says about each segment."""

from __future__ import annotations

import math

import pytest

from agrochat.actors.transcription import Segment, confidence


def test_nothing_heard_is_no_confidence() -> None:
    assert confidence([]) == 0.0


def test_confidence_is_token_probability_discounted_by_the_chance_of_no_speech() -> None:
    segment = Segment("riego", 0.0, 2.0, avg_logprob=math.log(0.8), no_speech_prob=0.25)
    assert confidence([segment]) == pytest.approx(0.6)


def test_longer_segments_weigh_more() -> None:
    sure = Segment("cuando riego", 0.0, 3.0, avg_logprob=math.log(0.9), no_speech_prob=0.0)
    unsure = Segment("mi papa", 3.0, 4.0, avg_logprob=math.log(0.1), no_speech_prob=0.0)
    assert confidence([sure, unsure]) == pytest.approx((3 * 0.9 + 1 * 0.1) / 4)


def test_a_segment_that_repeats_itself_counts_as_nothing_however_sure() -> None:
    # As measured: a looping decode of 400 "¡" with a mean token log-probability of -0.17.
    loop = Segment("¡" * 400, 0.0, 2.0, -0.17, 0.07, compression_ratio=30.0)
    assert confidence([loop]) == 0.0
