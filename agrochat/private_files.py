"""Files only agrochat's own user may read: the data dir (0700), the database and secrets (0600).

The data dir holds farmers' personal data (the SQLite database) and the generated secrets; on a
shared machine nobody else may list or read it. Earlier releases left both world-readable, so
an existing dir or file is tightened (never loosened) at start, with a warning saying so.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from agrochat.logs import get_logger

log = get_logger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~mode & 0o777:
        try:
            os.chmod(path, current & mode)
        except OSError as exc:
            # Not ours to change (another owner): say so, the operator decides.
            log.warning("cannot make private", path=str(path), mode=oct(current), error=str(exc))
        else:
            log.warning("made private", path=str(path), was=oct(current), now=oct(current & mode))


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700, or take group and other access away from
    an existing one."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty as 0600 if missing (O_EXCL: never through someone's symlink), or
    take group and other access away from an existing one."""
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        os.close(fd)
    _tighten(path, FILE_MODE)
    return path


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically: written to a fresh 0600 temp file in the same
    dir (mkstemp opens with O_EXCL and O_NOFOLLOW, so a planted file or symlink is never
    followed), flushed to disk, then renamed over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
