"""agrochat.persistence keeps its modules private: ruff's TID251 (ruff.toml) refuses an import of
any of them from outside the package. banned-api matches exact names, so a new private module is
covered only once it is listed; these tests notice when it is not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRIVATE = sorted(
    path.stem
    for path in (ROOT / "agrochat" / "persistence").glob("_*.py")
    if path.stem != "__init__"
)

RUFF = [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise"]


def banned(source: str, *, filename: str) -> list[str]:
    """The TID251 findings of ruff, with this repository's configuration, on ``source`` as if
    it were ``filename``."""
    result = subprocess.run(
        [*RUFF, "--select", "TID251", "--stdin-filename", filename, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return [line for line in result.stdout.splitlines() if "TID251" in line]


@pytest.mark.parametrize("module", PRIVATE)
@pytest.mark.parametrize("outside", ["agrochat/http/_probe.py", "tests/alerts/test_probe.py"])
def test_private_module_is_refused_outside_the_package(module: str, outside: str) -> None:
    source = (
        f"import agrochat.persistence.{module}\n"
        f"from agrochat.persistence import {module}\n"
        f"from agrochat.persistence.{module} import anything\n"
    )
    assert len(banned(source, filename=outside)) == 3


@pytest.mark.parametrize("module", PRIVATE)
def test_private_module_is_free_inside_the_package(module: str) -> None:
    source = f"from agrochat.persistence.{module} import anything\n"
    assert banned(source, filename="agrochat/persistence/_probe.py") == []


def test_what_the_package_exports_is_free_everywhere() -> None:
    source = "from agrochat.persistence import LEVELS, AlertStore\n"
    assert banned(source, filename="agrochat/http/_probe.py") == []
