"""The model: InferenceActor behind a bounded, deadline-aware InferenceClient.

Several remote servers (AGROCHAT_INFERENCE_URL=url1,url2): one actor per server, the client
routing between them through a ServerPool (sticky per producer, least busy, failover).

Backends: the embedded GGUF (llama.cpp; default the packaged Qwen2.5-Coder-0.5B-Instruct), a
remote OpenAI-compatible server, or a seed-style Model API. Test doubles live in ``.testing``.
"""

from agrochat.actors.inference._actor import (
    BackendFactory,
    InferenceActor,
    make_backend,
)
from agrochat.actors.inference._assemble import (
    DEFAULT_MODEL_NAME,
    DEFAULT_MODEL_SHA256,
    assemble_default_model,
)
from agrochat.actors.inference._backend import Backend, ChatMessages, Completion, ServerFailed
from agrochat.actors.inference._client import InferenceClient
from agrochat.actors.inference._metrics import (
    STATS,
    InferenceStats,
    ServerMetrics,
    render_metrics,
)
from agrochat.actors.inference._pool import ServerAddress, ServerPool
from agrochat.actors.inference._remote import OpenAIBackend, SeedBackend
from agrochat.actors.inference._runner import ModelRunner
from agrochat.actors.inference._status import ModelState, ModelStatus
from agrochat.actors.inference._wiring import InferenceWiring, server_actor_id, wire_inference
from agrochat.actors.inference.testing import FakeBackend, LlamaServer, canned_reply

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEFAULT_MODEL_SHA256",
    "STATS",
    "Backend",
    "BackendFactory",
    "ChatMessages",
    "Completion",
    "FakeBackend",
    "InferenceActor",
    "InferenceClient",
    "InferenceStats",
    "InferenceWiring",
    "LlamaServer",
    "ModelRunner",
    "ModelState",
    "ModelStatus",
    "OpenAIBackend",
    "SeedBackend",
    "ServerAddress",
    "ServerFailed",
    "ServerMetrics",
    "ServerPool",
    "assemble_default_model",
    "canned_reply",
    "make_backend",
    "render_metrics",
    "server_actor_id",
    "wire_inference",
]
