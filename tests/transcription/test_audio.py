"""Decoding voice notes with PyAV: what is refused, and why, before the model sees anything."""

from __future__ import annotations

import random

import pytest

from agrochat.actors.transcription import SAMPLE_RATE, Limits, decode
from agrochat.actors.transcription.testing import ogg_opus, tone
from agrochat.errors import BadMedia

LIMITS = Limits(max_seconds=120, max_bytes=16 << 20)


def test_an_ogg_opus_note_decodes_to_16_khz_mono_of_its_length() -> None:
    samples = decode(ogg_opus(tone(3.0)), LIMITS)
    assert samples.ndim == 1
    assert samples.dtype.name == "float32"
    assert abs(samples.size / SAMPLE_RATE - 3.0) < 0.1


def test_a_note_of_exactly_the_maximum_duration_is_accepted() -> None:
    samples = decode(ogg_opus(tone(3.0)), Limits(max_seconds=3, max_bytes=16 << 20))
    assert abs(samples.size / SAMPLE_RATE - 3.0) < 0.1


def test_random_bytes_are_corrupt() -> None:
    noise = random.Random(7).randbytes(20_000)
    with pytest.raises(BadMedia) as caught:
        decode(noise, LIMITS)
    assert caught.value.reason == "corrupt"
    assert caught.value.status == 422


def test_a_cut_off_note_is_corrupt_or_shorter_never_a_crash() -> None:
    note = ogg_opus(tone(3.0))
    try:
        samples = decode(note[: len(note) // 3], LIMITS)
    except BadMedia as exc:
        assert exc.reason == "corrupt"
    else:
        assert samples.size < 3 * SAMPLE_RATE


def test_an_image_is_not_audio() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(200)
    with pytest.raises(BadMedia) as caught:
        decode(png, LIMITS)
    assert caught.value.reason == "corrupt"


def test_a_playlist_is_refused_before_it_can_open_what_it_names(tmp_path, monkeypatch) -> None:
    # FFmpeg's concat demuxer opens the files a playlist names (relative to the working
    # directory); only audio demuxers are allowed, so the note's bytes are all that is read.
    (tmp_path / "recorded.ogg").write_bytes(ogg_opus(tone(1.0)))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadMedia) as caught:
        decode(b"ffconcat version 1.0\nfile 'recorded.ogg'\n", LIMITS)
    assert caught.value.reason == "corrupt"


def test_a_note_over_the_maximum_duration_is_too_long() -> None:
    with pytest.raises(BadMedia) as caught:
        decode(ogg_opus(tone(3.0)), Limits(max_seconds=2, max_bytes=16 << 20))
    assert caught.value.reason == "too_long"


def test_a_note_over_the_maximum_size_is_too_big_before_it_is_parsed() -> None:
    note = ogg_opus(tone(1.0))
    with pytest.raises(BadMedia) as caught:
        decode(note, Limits(max_seconds=120, max_bytes=len(note) - 1))
    assert caught.value.reason == "too_big"
    assert caught.value.status == 413


def test_empty_audio_is_corrupt() -> None:
    with pytest.raises(BadMedia) as caught:
        decode(b"", LIMITS)
    assert caught.value.reason == "corrupt"


def test_bad_media_only_has_the_reasons_callers_answer() -> None:
    with pytest.raises(ValueError):
        BadMedia("unsupported")
