"""GatewayState: how each of our numbers is doing, for /health and the panel.

Written by the WAHA event streams (their threads) and the WhatsApp actor, read by HTTP threads;
every read is a frozen copy. /health shows fixed words only (``problem``): the gateway's own
wording, which may carry details an anonymous caller should not see, is for the panel.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from agrochat.actors.whatsapp._waha_events import StreamStatus

# WAHA's session statuses (src/structures/enums.dto.ts, WAHASessionStatus).
WORKING = "WORKING"
SCAN_QR_CODE = "SCAN_QR_CODE"
RED = frozenset({"FAILED", "STOPPED"})


@dataclass(frozen=True)
class ChannelStatus:
    channel: str
    kind: str  # waha | cloud | console
    connection: str | None = None  # the event stream's state (WAHA only)
    session: str | None = None  # WAHA's session status, once known
    me: str | None = None  # the linked phone, once WORKING
    detail: str | None = None  # what the stream or WAHA said last, for the panel
    since: float = 0.0  # time.time() of the last change
    # Another agrochat process on the database owns this WAHA session's event stream (its
    # lease): this one stands by, with no connection, and that is no problem.
    standby: bool = False

    @property
    def problem(self) -> str | None:
        """A fixed word for what keeps this number from working; None when it works (a Cloud
        API number has no connection to watch: its sends say how it is doing)."""
        if self.kind != "waha" or self.standby:
            return None
        if self.connection == "bad_api_key":
            return "bad_api_key"
        if self.session in RED:
            return self.session.lower()
        if self.session == SCAN_QR_CODE:
            return "scan_qr_code"
        if self.connection != "connected":
            return "disconnected" if self.connection == "reconnecting" else "connecting"
        if self.session != WORKING:
            return "starting"
        return None

    @property
    def red(self) -> bool:
        """Needs a person: a refused key, a failed or stopped session."""
        return self.problem in ("bad_api_key", "failed", "stopped")


class GatewayState:
    def __init__(
        self, channels: Iterable[tuple[str, str]], *, clock: Callable[[], float] = time.time
    ) -> None:
        """``channels``: (name, kind) of each of our numbers, in configuration order."""
        self.clock = clock
        self._lock = threading.Lock()
        self._channels = {
            name: ChannelStatus(channel=name, kind=kind, since=clock()) for name, kind in channels
        }

    def stream_changed(self, status: StreamStatus) -> None:
        self._update(status.session, connection=status.state, detail=status.detail)

    def standby_changed(self, channel: str, standby: bool) -> None:
        self._update(channel, standby=standby)

    def session_changed(self, channel: str, status: str, *, me: str | None = None) -> None:
        self._update(channel, session=status, me=me)

    def _update(self, channel: str, **values: str | bool | None) -> None:
        with self._lock:
            current = self._channels.get(channel)
            if current is None:
                return
            changed = replace(current, **values)
            if changed != current:
                self._channels[channel] = replace(changed, since=self.clock())

    def channels(self) -> list[ChannelStatus]:
        with self._lock:
            return list(self._channels.values())

    def get(self, channel: str) -> ChannelStatus | None:
        with self._lock:
            return self._channels.get(channel)

    def health(self) -> tuple[bool, str]:
        """(every number works, "waha default: working; waha ventas: scan_qr_code")."""
        channels = self.channels()
        words = [
            f"{c.kind} {c.channel}: {'standby' if c.standby else c.problem or 'working'}"
            for c in channels
        ]
        return all(c.problem is None for c in channels), "; ".join(words)
