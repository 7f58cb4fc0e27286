"""Voice-note bytes to the 16 kHz mono samples Whisper takes, with PyAV (FFmpeg's libraries in
process, the decoder faster-whisper itself uses): no subprocess, no temporary file.

FFmpeg opens a great many formats, some of which reach outside the bytes they were given (an
HLS or concat playlist opens the files and URLs it names). So only the demuxers of the audio
types WhatsApp sends are allowed (Cloud API: AAC, AMR, MP3, MP4, OGG/Opus; voice notes are
OGG/Opus), plus WAV, FLAC and WebM for notes relayed from elsewhere; anything else is refused
as "corrupt" before a byte of it is demuxed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np

from agrochat.errors import BadMedia

SAMPLE_RATE = 16_000
ALLOWED_DEMUXERS = "ogg,mp3,mov,aac,amr,wav,flac,matroska"
# Codecs pad a little (Opus adds up to 80 ms of pre-skip and a final frame), so a note of
# exactly the maximum is not refused for what the encoder added.
SLACK_S = 0.5


@dataclass(frozen=True)
class Limits:
    """AGROCHAT_VOICE_MAX_SECONDS and AGROCHAT_VOICE_MAX_BYTES."""

    max_seconds: float
    max_bytes: int

    def __post_init__(self) -> None:
        if not (self.max_seconds > 0 and self.max_bytes > 0):
            raise ValueError("voice note limits must be greater than 0")


def check_size(audio: bytes, limits: Limits) -> None:
    if len(audio) > limits.max_bytes:
        raise BadMedia("too_big", f"the audio has {len(audio)} bytes, more than {limits.max_bytes}")
    if not audio:
        raise BadMedia("corrupt", "the audio is empty")


def decode(audio: bytes, limits: Limits) -> np.ndarray:
    """The note as float32 samples in [-1, 1] at 16 kHz, mono.

    BadMedia "too_big" before anything is parsed; "too_long" from the container's stated
    duration when it has one, else (or when it lies) as soon as the decoded samples pass the
    limit, so an endless stream is never decoded to the end; "corrupt" for anything FFmpeg
    cannot open or decode, a type not allowed, or a file without an audio stream.
    """
    check_size(audio, limits)
    max_samples = int((limits.max_seconds + SLACK_S) * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    decoded = 0
    try:
        with av.open(
            io.BytesIO(audio), mode="r", options={"format_whitelist": ALLOWED_DEMUXERS}
        ) as container:
            if not container.streams.audio:
                raise BadMedia("corrupt", "the file holds no audio")
            stream = container.streams.audio[0]
            stated = _stated_seconds(container, stream)
            if stated is not None and stated > limits.max_seconds + SLACK_S:
                raise BadMedia(
                    "too_long", f"the audio lasts {stated:.0f} s, more than {limits.max_seconds:g}"
                )
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1)
                    chunks.append(samples)
                    decoded += samples.size
                if decoded > max_samples:
                    raise BadMedia(
                        "too_long", f"the audio lasts more than {limits.max_seconds:g} s"
                    )
            for out in resampler.resample(None):
                samples = out.to_ndarray().reshape(-1)
                chunks.append(samples)
                decoded += samples.size
    except BadMedia:
        raise
    except (av.error.FFmpegError, ValueError, IndexError, RuntimeError) as exc:
        # PyAV reports a damaged file as one of these (InvalidDataError is a ValueError too);
        # which one depends on where in the file the damage is.
        raise BadMedia(
            "corrupt", f"the audio could not be decoded ({type(exc).__name__})"
        ) from None
    if decoded > max_samples:
        raise BadMedia("too_long", f"the audio lasts more than {limits.max_seconds:g} s")
    if decoded == 0:
        raise BadMedia("corrupt", "the audio holds no samples")
    return np.concatenate(chunks).astype(np.float32, copy=False)


def _stated_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def seconds(samples: np.ndarray) -> float:
    return samples.size / SAMPLE_RATE
