"""The API key and operator token: taken from the environment, or generated once into the data dir.

A generated secret is shown once, on the terminal, when it is created, never through the log
(logs are shipped and kept; secrets must not be in them). Without a terminal (a service's stderr
goes to the journal) the keys are not printed at all: the log says they were created and where.

A secrets file that exists but cannot be read or parsed stops start-up: replacing it with new
keys would lock out every bridge and operator holding the old ones.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import TextIO

from agrochat.config import Config
from agrochat.errors import ConfigError
from agrochat.logs import get_logger
from agrochat.private_files import private_dir, write_private

log = get_logger(__name__)

SECRETS_FILE = "secrets.json"
NAMES = ("api_key", "operator_token")


def _load(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read {path} ({exc.__class__.__name__}: {getattr(exc, 'strerror', exc)}); "
            "fix its permissions, or set AGROCHAT_API_KEY and AGROCHAT_OPERATOR_TOKEN"
        ) from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict) or any(not isinstance(data.get(name, ""), str) for name in NAMES):
        raise ConfigError(
            f"{path} is not a JSON object of strings as agrochat writes it; restore it from a "
            "backup, or move it away to have new keys generated (every bridge and operator "
            "then needs the new ones)"
        )
    return {k: v for k, v in data.items() if isinstance(v, str) and v}


def ensure_credentials(config: Config, *, announce: TextIO | None = None) -> Config:
    """Fill api_key and operator_token that the environment left unset.

    ``announce`` (e.g. stderr) is shown the new keys only when it is a terminal."""
    wanted = [f for f in NAMES if not getattr(config, f)]
    if not wanted:
        return config
    path = config.data_path / SECRETS_FILE
    stored = _load(path)
    created = {name: secrets.token_urlsafe(32) for name in wanted if name not in stored}
    if created:
        stored.update(created)
        private_dir(path.parent)
        write_private(path, json.dumps(stored))
        # The log says that and where, never what: it is shipped and kept.
        log.warning(
            "generated credentials",
            path=str(path),
            settings=[f"AGROCHAT_{name.upper()}" for name in created],
        )
        if announce is not None and announce.isatty():
            announce.write(f"agrochat generated credentials (stored in {path}):\n")
            for name, value in created.items():
                announce.write(f"  AGROCHAT_{name.upper()}={value}\n")
            announce.flush()
    return config.replace(**{name: stored[name] for name in wanted})
