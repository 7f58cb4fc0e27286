"""One immutable Config, read from ``AGROCHAT_*`` environment variables.

Every setting has a default so that ``agrochat serve`` runs with nothing set. Each is declared
once, as a field of ``Config`` (default, parser, help); ``SETTINGS``, derived from those fields,
is the single source for parsing, for ``agrochat serve --help`` and for the README's table.
"""

from __future__ import annotations

import dataclasses
import re
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


def _http_urls(value: str) -> str:
    """One URL or several, separated by commas and/or spaces; kept comma-separated."""
    urls = [u for u in re.split(r"[\s,]+", value) if u]
    for url in urls:
        try:
            _http_url(url)
        except ValueError:
            # The user part of a URL may hold a password: never echo it.
            parts = urlsplit(url)
            shown = url if parts.password is None else url.replace(parts.password, "***", 1)
            raise ValueError(f"expected http:// or https:// URLs, got {shown!r}") from None
    return ",".join(u.rstrip("/") for u in urls)


def _whatsapp(value: str) -> str:
    if value not in WHATSAPP_MODES:
        raise ValueError(f"expected one of {', '.join(WHATSAPP_MODES)}, got {value!r}")
    return value


def _on_off(value: str) -> bool:
    if value.lower() not in ("on", "off"):
        raise ValueError(f"expected on or off, got {value!r}")
    return value.lower() == "on"


def _names(value: str) -> str:
    names = [n.strip() for n in value.split(",")]
    if any(not n or not re.fullmatch(r"[\w.-]+", n) for n in names) and value:
        raise ValueError(f"expected names separated by commas, got {value!r}")
    return ",".join(names)


def _inference_api(value: str) -> str:
    if value not in ("openai", "seed"):
        raise ValueError(f"expected openai or seed, got {value!r}")
    return value


PROXY_HEADERS = (
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-by",
    "forwarded",
)


def _proxy_headers(value: str) -> str:
    names = value.replace(",", " ").lower().split()
    unknown = [n for n in names if n not in PROXY_HEADERS]
    if unknown:
        raise ValueError(
            f"expected names from {' '.join(PROXY_HEADERS)} separated by spaces, got {value!r}"
        )
    return " ".join(names)


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


def _setting(default: str, parse: Callable[[str], Any], help: str, *, secret: bool = False) -> Any:
    """A Config field: its default spelled as in the environment (so ``--help`` shows it that
    way), parsed once here; a secret stays out of the repr."""
    return dataclasses.field(
        default=parse(default),
        repr=not secret,
        metadata={"default": default, "parse": parse, "help": help, "secret": secret},
    )


@dataclass(frozen=True)
class Config:
    data_dir: str = _setting("var", _text, "database, assembled model and generated secrets")
    bind: str = _setting("127.0.0.1:5000", _bind, "HOST:PORT the HTTP server listens on")
    database_url: str = _setting("", _database_url, "SQLAlchemy URL; empty: sqlite in the data dir")
    model_path: str = _setting("", _text, "GGUF file; empty: the packaged default model")
    inference_url: str = _setting(
        "",
        _http_urls,
        "remote inference server (OpenAI-compatible or seed /chat); several, separated by "
        "commas: a pool, one request at a time on each; empty: embedded model",
    )
    model_ctx: int = _setting("4096", _positive_int, "model context size in tokens")
    model_threads: int = _setting("2", _positive_int, "threads llama.cpp uses")
    model_chat_format: str = _setting(
        "", _text, "llama-cpp-python chat format; empty: the GGUF's template"
    )
    model_kv_cache_mb: int = _setting("256", _non_negative_int, "RAM for producers' saved KV state")
    inference_queue: int = _setting(
        "8", _positive_int, "requests that may wait for the model (all its servers together)"
    )
    inference_api: str = _setting(
        "openai", _inference_api, "remote API: openai | seed (POST /chat)"
    )
    inference_api_key: str = _setting(
        "", _text, "bearer key sent to the remote inference server", secret=True
    )
    inference_timeout_s: float = _setting(
        "120", _positive_float, "seconds to wait for one model reply"
    )
    asr: bool = _setting("on", _on_off, "transcribe producers' voice notes (offline Whisper)")
    asr_model_path: str = _setting(
        "", _text, "faster-whisper model directory; empty: the packaged Whisper base"
    )
    asr_threads: int = _setting("2", _positive_int, "threads one transcription uses")
    asr_queue: int = _setting("4", _positive_int, "voice notes that may wait for transcription")
    asr_timeout_s: float = _setting(
        "60", _positive_float, "seconds one voice note's transcription may take, waiting included"
    )
    voice_max_seconds: float = _setting(
        "120", _positive_float, "longest voice note transcribed, in seconds"
    )
    voice_max_bytes: int = _setting(
        "16777216", _positive_int, "largest voice note accepted, in bytes (WhatsApp's is 16 MB)"
    )
    api_key: str = _setting(
        "", _text, "bearer key for machine endpoints; generated if unset", secret=True
    )
    operator_token: str = _setting(
        "", _text, "bearer token for /debug; generated if unset", secret=True
    )
    whatsapp: str = _setting("none", _whatsapp, "gateway: none | console | waha | cloud")
    waha_url: str = _setting("http://127.0.0.1:3000", _http_url, "WAHA base URL")
    waha_api_key: str = _setting("", _text, "WAHA X-Api-Key", secret=True)
    waha_session: str = _setting(
        "default", _names, "WAHA session name; several numbers: names separated by commas"
    )
    cloud_token: str = _setting("", _text, "Cloud API access token", secret=True)
    cloud_phone_id: str = _setting(
        "", _names, "Cloud API phone-number id; several numbers: ids separated by commas"
    )
    cloud_graph_url: str = _setting(
        "https://graph.facebook.com", _http_url, "Graph API base URL (Cloud API)"
    )
    cloud_api_version: str = _setting("v25.0", _text, "Graph API version (Cloud API)")
    send_per_minute: int = _setting(
        "20", _non_negative_int, "messages per minute to one producer (0: no limit)"
    )
    send_global_per_minute: int = _setting(
        "60", _non_negative_int, "messages per minute through each number (0: no limit)"
    )
    cloud_app_secret: str = _setting(
        "", _text, "Cloud API app secret (webhook signatures)", secret=True
    )
    cloud_verify_token: str = _setting("", _text, "Cloud API webhook verify token", secret=True)
    alert_tick_s: float = _setting("10", _positive_float, "seconds between alert scheduler ticks")
    alert_template: str = _setting(
        "", _text, "approved WhatsApp template for alerts outside the 24 h window; empty: they wait"
    )
    alert_max_attempts: int = _setting(
        "5", _positive_int, "delivery attempts before an alert fails"
    )
    alert_lease_s: float = _setting(
        "300",
        _positive_float,
        "seconds an alert claimed by a process stays its own; after that (the process died) "
        "another one takes it",
    )
    send_lease_s: float = _setting(
        "60",
        _positive_float,
        "seconds a message being sent stays claimed by its process; after that (the process "
        "died mid-send) another one sends it",
    )
    session_idle_s: float = _setting("600", _positive_float, "idle seconds before a session sleeps")
    session_max: int = _setting(
        "64",
        _positive_int,
        "live session actors (one thread each), at most; beyond, idle ones sleep early, then "
        "/agent is refused (503) and gateway messages wait their turn",
    )
    reply_timeout_s: float = _setting("120", _positive_float, "seconds a producer's reply may take")
    lock_connections: int = _setting(
        "8",
        _positive_int,
        "PostgreSQL connections holding producers' turns (one per producer being answered): "
        "how many producers one process answers at once",
    )
    phrase: bool = _setting(
        "off",
        _on_off,
        "let the model reword vetted answers (checked: no new facts); for capable models",
    )
    timezone: str = _setting("America/Lima", _timezone, "producers' time zone ('hoy', 'ayer')")
    max_body_bytes: int = _setting("65536", _positive_int, "largest request body accepted")
    voice_max_bytes: int = _setting(
        "16777216", _positive_int, "largest voice note downloaded from a gateway (bytes)"
    )
    http_threads: int = _setting("8", _positive_int, "HTTP worker threads")
    trusted_proxy: str = _setting(
        "", _text, "address of the reverse proxy whose forwarded headers are believed; empty: none"
    )
    trusted_proxy_headers: str = _setting(
        "x-forwarded-for x-forwarded-proto",
        _proxy_headers,
        "headers believed from the trusted proxy, separated by spaces",
    )
    trusted_proxy_count: int = _setting(
        "1", _positive_int, "proxies in a row in front of agrochat (X-Forwarded-For entries used)"
    )
    http_model_threads: int = _setting(
        "0",
        _non_negative_int,
        "HTTP threads /agent, /chat and /form/update may hold at once (beyond: 503 with "
        "Retry-After); below AGROCHAT_HTTP_THREADS; 0: AGROCHAT_HTTP_THREADS minus 2",
    )
    heartbeat_s: float = _setting(
        "2",
        _positive_float,
        "seconds between this process's heartbeats (its row, its gateway leases); below half "
        "of AGROCHAT_LEASE_TTL_S",
    )
    lease_ttl_s: float = _setting(
        "10",
        _positive_float,
        "seconds a gateway lease lasts unrenewed: how soon a standby process takes a WAHA "
        "session over from one that died",
    )
    restart_intensity: int = _setting("5", _non_negative_int, "restarts allowed per period")
    restart_period_s: float = _setting("30", _positive_float, "period of the restart intensity")
    log_format: str = _setting(
        "auto", _log_format, "auto (json unless a terminal) | json | console"
    )
    log_level: str = _setting("INFO", _log_level, "DEBUG | INFO | WARNING | ERROR")

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
        config = cls(**values)
        if config.model_route_slots >= config.http_threads:
            # Otherwise slow replies can take every thread again (issue 12, item 13).
            raise ConfigError(
                "AGROCHAT_HTTP_MODEL_THREADS: must be below AGROCHAT_HTTP_THREADS "
                f"({config.http_threads}), so /health and the panel always have a thread"
            )
        if not config.heartbeat_s < config.lease_ttl_s / 2:
            # A holder must get at least two renewals in before its lease could run out.
            raise ConfigError(
                f"AGROCHAT_HEARTBEAT_S ({config.heartbeat_s:g}): must be below half of "
                f"AGROCHAT_LEASE_TTL_S ({config.lease_ttl_s:g})"
            )
        return config

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

    @property
    def model_route_slots(self) -> int:
        """How many requests may wait on a model reply at once (AGROCHAT_HTTP_MODEL_THREADS)."""
        if self.http_model_threads:
            return self.http_model_threads
        return max(1, self.http_threads - 2)

    @property
    def inference_urls(self) -> tuple[str, ...]:
        """The remote model servers (AGROCHAT_INFERENCE_URL); empty: the embedded model."""
        # Split here too, so a Config built directly (tests) reads as the environment's does.
        return tuple(u.rstrip("/") for u in re.split(r"[\s,]+", self.inference_url) if u)

    @property
    def waha_sessions(self) -> tuple[str, ...]:
        return tuple(n for n in self.waha_session.split(",") if n)

    @property
    def cloud_phone_ids(self) -> tuple[str, ...]:
        return tuple(n for n in self.cloud_phone_id.split(",") if n)

    def secrets(self) -> list[str]:
        """Every secret value set, so log processors can mask them wherever they appear."""
        values = [getattr(self, s.field) for s in SETTINGS if s.secret and getattr(self, s.field)]
        # A model server's URL may carry a password (http://user:pass@host): mask it too.
        return values + [p for url in self.inference_urls if (p := urlsplit(url).password)]


SETTINGS: tuple[Setting, ...] = tuple(
    Setting(field.name, **field.metadata) for field in dataclasses.fields(Config)
)


def settings_help() -> str:
    """The environment-variable table printed by ``agrochat serve --help``."""
    width = max(len(s.env) for s in SETTINGS)
    lines = ["environment variables (default in brackets):"]
    for s in SETTINGS:
        default = s.default if s.default else "''"
        lines.append(f"  {s.env:<{width}}  {s.help} [{default}]")
    return "\n".join(lines)
