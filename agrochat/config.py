"""One immutable Config, read from ``AGROCHAT_*`` environment variables.

Every setting has a default so that ``agrochat serve`` runs with nothing set. The table of
settings below is the single source for parsing, for ``agrochat serve --help`` and for the
README's configuration table.
"""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agrochat.errors import ConfigError

WHATSAPP_MODES = ("none", "console", "waha", "cloud")


def _text(value: str) -> str:
    return value


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not number > 0:
        raise ValueError(f"must be greater than 0, got {value!r}")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"expected a whole number, got {value!r}") from None
    if number <= 0:
        raise ValueError(f"must be greater than 0, got {value!r}")
    return number


def _non_negative_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"expected a whole number, got {value!r}") from None
    if number < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return number


def _bind(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"port must be a number from 0 to 65535, got {port!r}")
    return value


def _database_url(value: str) -> str:
    if not value:
        return value
    scheme = urlsplit(value).scheme.split("+")[0]
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise ValueError(f"expected a sqlite:// or postgresql:// URL, got scheme {scheme!r}")
    return value


def _http_url(value: str) -> str:
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


def _whatsapp(value: str) -> str:
    if value not in WHATSAPP_MODES:
        raise ValueError(f"expected one of {', '.join(WHATSAPP_MODES)}, got {value!r}")
    return value


def _inference_api(value: str) -> str:
    if value not in ("openai", "seed"):
        raise ValueError(f"expected openai or seed, got {value!r}")
    return value


def _log_format(value: str) -> str:
    if value not in ("auto", "json", "console"):
        raise ValueError(f"expected auto, json or console, got {value!r}")
    return value


def _log_level(value: str) -> str:
    upper = value.upper()
    if upper not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(f"expected DEBUG, INFO, WARNING or ERROR, got {value!r}")
    return upper


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"not a known time zone: {value!r}") from None
    return value


@dataclass(frozen=True)
class Setting:
    field: str
    default: str
    parse: Callable[[str], Any]
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return "AGROCHAT_" + self.field.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "var", _text, "database, assembled model and generated secrets"),
    Setting("bind", "127.0.0.1:5000", _bind, "HOST:PORT the HTTP server listens on"),
    Setting("database_url", "", _database_url, "SQLAlchemy URL; empty: sqlite in the data dir"),
    Setting("model_path", "", _text, "GGUF file; empty: the packaged default model"),
    Setting(
        "inference_url",
        "",
        _http_url,
        "remote inference server (OpenAI-compatible or seed /chat); empty: embedded model",
    ),
    Setting("model_ctx", "4096", _positive_int, "model context size in tokens"),
    Setting("model_threads", "2", _positive_int, "threads llama.cpp uses"),
    Setting(
        "model_chat_format", "", _text, "llama-cpp-python chat format; empty: the GGUF's template"
    ),
    Setting("model_kv_cache_mb", "256", _non_negative_int, "RAM for producers' saved KV state"),
    Setting("inference_queue", "8", _positive_int, "requests that may wait for the model"),
    Setting("inference_api", "openai", _inference_api, "remote API: openai | seed (POST /chat)"),
    Setting("inference_api_key", "", _text, "bearer key sent to the remote inference server", True),
    Setting("inference_timeout_s", "120", _positive_float, "seconds to wait for one model reply"),
    Setting("api_key", "", _text, "bearer key for machine endpoints; generated if unset", True),
    Setting("operator_token", "", _text, "bearer token for /debug; generated if unset", True),
    Setting("whatsapp", "none", _whatsapp, "gateway: none | console | waha | cloud"),
    Setting("waha_url", "http://127.0.0.1:3000", _http_url, "WAHA base URL"),
    Setting("waha_api_key", "", _text, "WAHA X-Api-Key", True),
    Setting("waha_session", "default", _text, "WAHA session name"),
    Setting("cloud_token", "", _text, "Cloud API access token", True),
    Setting("cloud_phone_id", "", _text, "Cloud API phone-number id"),
    Setting("cloud_app_secret", "", _text, "Cloud API app secret (webhook signatures)", True),
    Setting("cloud_verify_token", "", _text, "Cloud API webhook verify token", True),
    Setting("alert_tick_s", "10", _positive_float, "seconds between alert scheduler ticks"),
    Setting(
        "alert_template",
        "",
        _text,
        "approved WhatsApp template for alerts outside the 24 h window; empty: they wait",
    ),
    Setting("alert_max_attempts", "5", _positive_int, "delivery attempts before an alert fails"),
    Setting("session_idle_s", "600", _positive_float, "idle seconds before a session sleeps"),
    Setting("session_max", "64", _positive_int, "live session actors before idle ones sleep early"),
    Setting("reply_timeout_s", "120", _positive_float, "seconds a producer's reply may take"),
    Setting(
        "context_tokens", "1536", _positive_int, "prompt budget for a reply's context, in tokens"
    ),
    Setting("timezone", "America/Lima", _timezone, "producers' time zone ('hoy', 'ayer')"),
    Setting("max_body_bytes", "65536", _positive_int, "largest request body accepted"),
    Setting("http_threads", "8", _positive_int, "HTTP worker threads"),
    Setting("restart_intensity", "5", _non_negative_int, "restarts allowed per period"),
    Setting("restart_period_s", "30", _positive_float, "period of the restart intensity"),
    Setting("log_format", "auto", _log_format, "auto (json unless a terminal) | json | console"),
    Setting("log_level", "INFO", _log_level, "DEBUG | INFO | WARNING | ERROR"),
)


@dataclass(frozen=True)
class Config:
    data_dir: str = "var"
    bind: str = "127.0.0.1:5000"
    database_url: str = ""
    model_path: str = ""
    inference_url: str = ""
    model_ctx: int = 4096
    model_threads: int = 2
    model_chat_format: str = ""
    model_kv_cache_mb: int = 256
    inference_queue: int = 8
    inference_api: str = "openai"
    inference_api_key: str = dataclasses.field(default="", repr=False)
    inference_timeout_s: float = 120.0
    api_key: str = dataclasses.field(default="", repr=False)
    operator_token: str = dataclasses.field(default="", repr=False)
    whatsapp: str = "none"
    waha_url: str = "http://127.0.0.1:3000"
    waha_api_key: str = dataclasses.field(default="", repr=False)
    waha_session: str = "default"
    cloud_token: str = dataclasses.field(default="", repr=False)
    cloud_phone_id: str = ""
    cloud_app_secret: str = dataclasses.field(default="", repr=False)
    cloud_verify_token: str = dataclasses.field(default="", repr=False)
    alert_tick_s: float = 10.0
    alert_template: str = ""
    alert_max_attempts: int = 5
    session_idle_s: float = 600.0
    session_max: int = 64
    reply_timeout_s: float = 120.0
    context_tokens: int = 1536
    timezone: str = "America/Lima"
    max_body_bytes: int = 65536
    http_threads: int = 8
    restart_intensity: int = 5
    restart_period_s: float = 30.0
    log_format: str = "auto"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Config:
        """Build a Config; a bad value raises ConfigError naming the variable."""
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env, setting.default).strip()
            try:
                values[setting.field] = setting.parse(raw)
            except ValueError as exc:
                raise ConfigError(f"{setting.env}: {exc}") from None
        return cls(**values)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_path / 'agrochat.db').resolve()}"

    @property
    def host(self) -> str:
        return self.bind.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.bind.rpartition(":")[2])

    def secrets(self) -> list[str]:
        """Every secret value set, so log processors can mask them wherever they appear."""
        return [getattr(self, s.field) for s in SETTINGS if s.secret and getattr(self, s.field)]


def settings_help() -> str:
    """The environment-variable table printed by ``agrochat serve --help``."""
    width = max(len(s.env) for s in SETTINGS)
    lines = ["environment variables (default in brackets):"]
    for s in SETTINGS:
        default = s.default if s.default else "''"
        lines.append(f"  {s.env:<{width}}  {s.help} [{default}]")
    return "\n".join(lines)
