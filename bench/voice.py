"""Voice-note benchmark: how fast and how well agrochat hears Spanish voice notes.

Every note is made here: espeak-ng speaks Spanish (``apt-get install espeak-ng``), PyAV encodes
it to Opus in OGG as WhatsApp sends voice notes, and the note goes through the production path:
TranscriptionClient (PyAV decoding, limits) -> TranscriptionActor -> faster-whisper.

- real-time factor (seconds of audio / seconds of processing, decoding included; above 1 is
  faster than the producer spoke) on 5 s, 30 s and 120 s notes;
- word error rate on ten farmers' questions, each with its transcript and confidence (how
  LOW_CONFIDENCE was calibrated), and on noise.

Usage: ``python bench/voice.py [--lengths 5,30,120]`` (AGROCHAT_ASR_MODEL_PATH,
AGROCHAT_ASR_THREADS and AGROCHAT_DATA_DIR are honoured). The machine is shared: timings move
with the neighbours' load; the word error rate does not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

# Runnable as a script from a checkout that is not pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agrochat import logs
from agrochat.actors.inference import ModelStatus
from agrochat.actors.transcription import (
    LOW_CONFIDENCE,
    SAMPLE_RATE,
    Limits,
    TranscriptionActor,
    TranscriptionClient,
    decode,
)
from agrochat.actors.transcription.testing import ogg_opus, speak, words
from agrochat.config import Config

SENTENCES = (
    "¿Cuándo debo regar mi papa?",
    "Las hojas de mi maíz se están poniendo amarillas.",
    "¿Qué abono le pongo al frijol?",
    "Sembré la papa el quince de septiembre.",
    "Hay gusanos en las mazorcas, ¿qué hago?",
    "Mañana va a helar, ¿cómo protejo mis plantas?",
    "¿Cuánta agua necesita el cultivo de quinua?",
    "Mi parcela tiene dos hectáreas de papa.",
    "Las papas tienen manchas negras en las hojas.",
    "¿Cuál es la mejor fecha para cosechar?",
)


class Peers:
    def __init__(self, ref) -> None:  # type: ignore[no-untyped-def]
        self._ref = ref

    def ref(self, id: str):  # type: ignore[no-untyped-def]
        return self._ref


def edit_distance(reference: list[str], heard: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions, insertions, deletions)."""
    previous = list(range(len(heard) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, heard_word in enumerate(heard, start=1):
            current.append(
                min(
                    previous[j] + 1,
                    current[j - 1] + 1,
                    previous[j - 1] + (ref_word != heard_word),
                )
            )
        previous = current
    return previous[-1]


def long_note(seconds: float, paragraph: np.ndarray) -> bytes:
    """The first ``seconds`` of the sentences read one after another, as OGG/Opus."""
    need = int(seconds * SAMPLE_RATE)
    repeats = -(-need // paragraph.size)
    return ogg_opus(np.tile(paragraph, repeats)[:need])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="5,30,120", help="note lengths in seconds")
    args = parser.parse_args(argv)
    logs.configure(fmt="console", level="WARNING")
    config = Config.from_env(os.environ)
    lengths = [float(x) for x in args.lengths.split(",")]
    limits = Limits(max_seconds=max(lengths) + 5, max_bytes=config.voice_max_bytes)

    status = ModelStatus()
    started = time.monotonic()
    ref = TranscriptionActor.start(config, status=status)
    client = TranscriptionClient(
        Peers(ref), queue_limit=1, limits=limits, timeout_s=600, status=status
    )
    # The load happens in the actor's on_start; a first tiny note waits for it.
    paragraph = decode(ogg_opus(speak(" ".join(SENTENCES))), Limits(600, 1 << 30))
    client.transcribe(long_note(1.0, paragraph))
    loaded_s = time.monotonic() - started
    print(f"speech model {status.view().detail}: ready {loaded_s:.1f} s after start")

    print()
    print(f"{'note':>6} {'decode s':>9} {'total s':>8} {'RTF':>6} {'confidence':>11}")
    for seconds in lengths:
        note = long_note(seconds, paragraph)
        t0 = time.monotonic()
        decode(note, limits)
        decode_s = time.monotonic() - t0
        t0 = time.monotonic()
        transcript = client.transcribe(note)
        total_s = time.monotonic() - t0
        print(
            f"{seconds:>5.0f}s {decode_s:>9.3f} {total_s:>8.2f} "
            f"{transcript.duration_s / total_s:>6.1f} {transcript.confidence:>11.2f}",
            flush=True,
        )

    print()
    print(f"{'WER':>5} {'conf':>5}  said / heard")
    edits = total = 0
    for sentence in SENTENCES:
        transcript = client.transcribe(ogg_opus(speak(sentence)))
        reference, heard = words(sentence), words(transcript.text)
        distance = edit_distance(reference, heard)
        edits += distance
        total += len(reference)
        flag = " (low)" if transcript.confidence < LOW_CONFIDENCE else ""
        print(
            f"{distance / len(reference):>5.2f} {transcript.confidence:>5.3f}  {sentence}\n"
            f"{'':12}{transcript.text}{flag}",
            flush=True,
        )
    noise = np.random.default_rng(1).normal(0.0, 0.1, 5 * SAMPLE_RATE).astype(np.float32)
    heard_noise = client.transcribe(ogg_opus(noise))
    print(f"{'':5} {heard_noise.confidence:>5.3f}  (5 s of noise) {heard_noise.text!r}")
    print()
    print(f"word error rate over {len(SENTENCES)} sentences: {edits / total:.2f} ({edits}/{total})")
    ref.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
