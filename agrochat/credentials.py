"""The API key and operator token: taken from the environment, or generated once into the data dir.

A generated secret is shown once, on the terminal, when it is created, never through the log
(logs are shipped and kept; secrets must not be in them).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import TextIO

from agrochat.config import Config

SECRETS_FILE = "secrets.json"


def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}
    return (
        {k: v for k, v in data.items() if isinstance(v, str) and v}
        if isinstance(data, dict)
        else {}
    )


def ensure_credentials(config: Config, *, announce: TextIO | None = None) -> Config:
    """Fill api_key and operator_token that the environment left unset."""
    wanted = [f for f in ("api_key", "operator_token") if not getattr(config, f)]
    if not wanted:
        return config
    path = config.data_path / SECRETS_FILE
    stored = _load(path)
    created: dict[str, str] = {}
    for name in wanted:
        if name not in stored:
            created[name] = secrets.token_urlsafe(32)
    if created:
        stored.update(created)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        # 0600 from creation: the file must never be readable by others, not even briefly.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(stored, f)
        os.replace(tmp, path)
        if announce is not None:
            announce.write(f"agrochat generated credentials (stored in {path}):\n")
            for name, value in created.items():
                announce.write(f"  AGROCHAT_{name.upper()}={value}\n")
            announce.flush()
    return config.replace(**{name: stored[name] for name in wanted})
