"""Transcription metrics, in a registry of their own that /metrics renders (Prometheus text)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_SECONDS = (0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)


class TranscriptionStats:
    """What the client sees of every note: its outcome, how long it took, how long it was."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.notes = Counter(
            "agrochat_transcription_notes",
            "voice notes by outcome (ok, corrupt, too_long, too_big, overloaded, deadline, "
            "unavailable)",
            ["outcome"],
            registry=r,
        )
        self.in_flight = Gauge(
            "agrochat_transcription_queue_depth",
            "voice notes being decoded, waiting for or running on the speech model",
            registry=r,
        )
        self.duration = Histogram(
            "agrochat_transcription_duration_seconds",
            "time from a note's arrival to its transcript, waiting included",
            buckets=_SECONDS,
            registry=r,
        )
        self.audio = Counter(
            "agrochat_transcription_audio_seconds",
            "seconds of audio transcribed",
            registry=r,
        )

    def render(self) -> str:
        return generate_latest(self.registry).decode()
