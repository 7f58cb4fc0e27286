"""Downloading a producer's media file from a gateway, never more than a limit.

The limit is checked while the bytes arrive (a ``Content-Length`` can be absent or lie), so a
huge file costs at most ``max_bytes`` of memory and of the gateway's bandwidth.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from agrochat.errors import BadMedia, MediaUnavailable

# Some gateways serve an Ogg note as octet-stream; the message's own mimetype is then the one.
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


@dataclass(frozen=True)
class Media:
    content: bytes
    mimetype: str  # without parameters: "audio/ogg"


def download(
    client: httpx.Client,
    url: str,
    *,
    headers: dict[str, str],
    max_bytes: int,
    gateway: str,
) -> Media:
    """GET ``url``; BadMedia("too_big") past ``max_bytes``, MediaUnavailable otherwise."""
    try:
        with client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            if status >= 400:
                retryable = status in (401, 408, 429) or status >= 500
                raise MediaUnavailable(
                    f"{gateway} answered {status} for a file", retryable=retryable
                )
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise BadMedia("too_big", f"file of {declared} bytes")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise BadMedia("too_big", f"file over {max_bytes} bytes")
                chunks.append(chunk)
            mimetype = response.headers.get("Content-Type", "")
    except httpx.HTTPError as exc:
        raise MediaUnavailable(
            f"{gateway} file download failed: {type(exc).__name__}", retryable=True
        ) from None
    return Media(content=b"".join(chunks), mimetype=bare_type(mimetype))


def bare_type(mimetype: str | None) -> str:
    """ "audio/ogg; codecs=opus" -> "audio/ogg"."""
    return (mimetype or "").split(";")[0].strip().lower()
