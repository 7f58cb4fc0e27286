"""What a conversation needs from inference, in one place.

The session calls the model through anything with ``generate(InferenceRequest) ->
InferenceResult`` (the inference package's ``InferenceClient`` in production, a fake in tests);
the output schema and its validation belong to the inference package and are used as they are.
"""

from __future__ import annotations

from typing import Protocol

from agrochat.actors.inference import output_schema, parse_output
from agrochat.messages import InferenceRequest, InferenceResult

__all__ = ["Inference", "output_schema", "parse_output"]


class Inference(Protocol):
    """Raises Overloaded (queue full, nothing started), DeadlineExceeded, ModelUnavailable."""

    def generate(self, request: InferenceRequest) -> InferenceResult: ...
