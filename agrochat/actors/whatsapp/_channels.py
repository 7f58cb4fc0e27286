"""Channels: agrochat's WhatsApp numbers, each with the transport that sends through it.

The seed ran one bridge per phone number; agrochat takes a list (``AGROCHAT_WAHA_SESSION`` or
``AGROCHAT_CLOUD_PHONE_ID``, comma-separated) and answers each producer through the number they
wrote to: the inbox records that number on the producer, the outbox row carries it, and the
sender picks the channel's transport. A row without a channel (a producer who never wrote, an
alert to a new number) goes out through the first one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from agrochat.actors.whatsapp._cloud import CloudClient
from agrochat.actors.whatsapp._media import Media
from agrochat.actors.whatsapp._transports import ConsoleTransport, Transport, WahaClient
from agrochat.config import Config
from agrochat.errors import ConfigError, MediaUnavailable


@dataclass(frozen=True)
class Channel:
    """One of our numbers: a WAHA session name, a Cloud API phone-number id, or "console"."""

    name: str
    kind: str  # waha | cloud | console
    transport: Transport


class Channels:
    def __init__(self, channels: list[Channel]) -> None:
        if not channels:
            raise ConfigError("a WhatsApp gateway needs at least one number")
        self._by_name = {c.name: c for c in channels}
        self.default = channels[0]

    @classmethod
    def single(cls, transport: Transport, name: str = "default") -> Channels:
        return cls([Channel(name=name, kind=transport.name, transport=transport)])

    def get(self, name: str | None) -> Channel:
        """The channel called ``name``; the first for None or a number no longer configured
        (its producers are answered from another of our numbers rather than not at all)."""
        if name is None:
            return self.default
        return self._by_name.get(name, self.default)

    def known(self, name: str) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Channel]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def kind(self) -> str:
        return self.default.kind

    def download(self, channel: str | None, source: str, *, max_bytes: int) -> Media:
        """A producer's media file through the number it came to (MediaUnavailable, not
        retryable, for a transport that has no files: the console)."""
        transport = self.get(channel).transport
        fetch = getattr(transport, "download_media", None)
        if fetch is None:
            raise MediaUnavailable(f"{transport.name} has no media files", retryable=False)
        media: Media = fetch(source, max_bytes=max_bytes)
        return media

    def close(self) -> None:
        for channel in self:
            channel.transport.close()


def make_channels(config: Config, *, stream: TextIO | None = None) -> Channels | None:
    """The numbers ``AGROCHAT_WHATSAPP`` names; None for ``none`` (no WhatsApp actor)."""
    if config.whatsapp == "none":
        return None
    if config.whatsapp == "console":
        return Channels.single(ConsoleTransport(stream), name="console")
    if config.whatsapp == "waha":
        return Channels(
            [
                Channel(
                    name=session,
                    kind="waha",
                    transport=WahaClient(
                        config.waha_url, api_key=config.waha_api_key, session=session
                    ),
                )
                for session in config.waha_sessions
            ]
        )
    if config.whatsapp == "cloud":
        missing = [
            env
            for env, value in (
                ("AGROCHAT_CLOUD_TOKEN", config.cloud_token),
                ("AGROCHAT_CLOUD_PHONE_ID", config.cloud_phone_id),
                ("AGROCHAT_CLOUD_APP_SECRET", config.cloud_app_secret),
                ("AGROCHAT_CLOUD_VERIFY_TOKEN", config.cloud_verify_token),
            )
            if not value
        ]
        if missing:
            raise ConfigError(f"AGROCHAT_WHATSAPP=cloud needs {', '.join(missing)}")
        return Channels(
            [
                Channel(
                    name=phone_id,
                    kind="cloud",
                    transport=CloudClient(
                        phone_id,
                        token=config.cloud_token,
                        api_version=config.cloud_api_version,
                        base_url=config.cloud_graph_url,
                    ),
                )
                for phone_id in config.cloud_phone_ids
            ]
        )
    raise ConfigError(f"AGROCHAT_WHATSAPP={config.whatsapp}: unknown gateway")
