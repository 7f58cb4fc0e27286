"""Logging: structlog for our code, the standard library's loggers (pykka, waitress) routed
through the same processors, JSON lines unless stdout is a terminal, secrets masked.

Request and producer ids are bound with ``structlog.contextvars`` so every line logged while
handling a request carries them, whichever module logs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

MASK = "***"


class SecretMasker:
    """Replaces every configured secret wherever it appears in an event's values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        # Very short "secrets" would mask ordinary words; a real key is never this short.
        self.secrets.extend(s for s in secrets if s and len(s) >= 6 and s not in self.secrets)

    def _mask(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.secrets:
                if secret in value:
                    value = value.replace(secret, MASK)
            return value
        if isinstance(value, dict):
            return {k: self._mask(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._mask(v) for v in value)
        return value

    def __call__(
        self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if not self.secrets:
            return event_dict
        for key, value in list(event_dict.items()):
            event_dict[key] = self._mask(value)
        return event_dict


masker = SecretMasker()


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure(
    *,
    level: str = "INFO",
    fmt: str = "auto",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Set up structlog and the standard library's root logger. Safe to call again."""
    stream = stream or sys.stdout
    masker.add(secrets)
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            masker,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.set_name("agrochat")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "agrochat"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # dataset drives alembic, which announces its plugins at INFO on every connect.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Pykka reports actor crashes, and SIGUSR1's thread dumps (pykka.debug), only through its
    # own logger; keep it at INFO or lower.
    logging.getLogger("pykka").setLevel(min(logging.INFO, logging.getLevelName(level)))
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
