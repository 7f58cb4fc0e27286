"""The embedded backend: one ``llama_cpp.Llama``, with our own decode loop.

Why not ``Llama.create_chat_completion``: measured here (2 cores, Qwen2.5-0.5B Q4_K_M) it
generates 12-14 tokens/s under a JSON-schema grammar against 25 free, because llama.cpp's grammar
sampler checks all 151,936 vocabulary entries at every step; and it keeps one token history, so
producers taking turns re-evaluate each other's whole prompts. Two changes, each measured in
``bench/inference.py``:

1. Cheap constraint (what llama.cpp's own server does, ``common_sampler_sample``): sample from
   the unconstrained logits, check only that token against the grammar, and run the full grammar
   pass only when it is rejected. At temperature 0 the chosen token is the same (the argmax of
   the masked logits is the argmax of the logits when it is allowed). Above 0 we sample from
   ``softmax(logits / T)`` with no top-k/top-p truncation, which makes the shortcut exact
   rejection sampling: the result has the same distribution as the full pass.
2. KV reuse: the prompt is evaluated from the longest prefix already in the context, or, when
   longer, from the prefix saved for this producer after their previous turn (``_kvcache``).

Tried and dropped: drafting (prompt lookup over the prompt, the reply and recent replies, 4
tokens verified greedily in one batch). On this CPU a batch of 5 tokens costs about 3x one token
(27 ms vs 82 ms: the 151,936-row output layer is computed for every drafted position), 57% of
drafts were accepted, and generation went from 14.8 to 5.6 tokens/s; batched evaluation also
changed the reply on 5 of 6 prompts. A GPU or a larger model (where one decode is memory-bound)
would change that trade; measure again before enabling anything like it.
"""

from __future__ import annotations

import ctypes
import json
import random
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from agrochat.actors.inference._backend import ChatMessages, Completion
from agrochat.actors.inference._kvcache import KVStateCache, SavedState, common_prefix
from agrochat.errors import DeadlineExceeded, ModelUnavailable, Unprocessable
from agrochat.logs import get_logger
from agrochat.messages import expired

log = get_logger(__name__)

_SEQ = 0  # llama-cpp-python decodes every batch as sequence 0
# llama_token_data as numpy sees it: {int32 id; float logit; float p}.
_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


class _PromptCaptured(Exception):
    def __init__(self, tokens: list[int]) -> None:
        super().__init__("prompt captured")
        self.tokens = tokens


class _PromptCapture:
    """Stands in for the Llama when calling its chat handler, to get the exact prompt tokens
    ``create_chat_completion`` would evaluate (chat template, special tokens, BOS), whatever
    chat format is configured, without generating."""

    verbose = False

    def __init__(self, llama: Any) -> None:
        self._llama = llama

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llama, name)

    def create_completion(self, *, prompt: Any, **_: Any) -> Any:
        raise _PromptCaptured(list(prompt))


class _GrammarCheck:
    """Asks a grammar sampler about a few tokens instead of the whole vocabulary."""

    def __init__(self, lib: Any, sampler: Any, tiers: tuple[int, ...]) -> None:
        self._lib = lib
        self._sampler = sampler
        self._tiers = tiers
        size = max(tiers)
        self._data = (lib.llama_token_data * size)()
        self._view = np.frombuffer(self._data, dtype=_TOKEN_DATA)
        self._array = lib.llama_token_data_array(data=self._data, size=1, selected=-1, sorted=False)
        self._ref = ctypes.byref(self._array)

    def _apply(self, n: int) -> np.ndarray:
        self._array.size, self._array.selected, self._array.sorted = n, -1, False
        self._lib.llama_sampler_apply(self._sampler, self._ref)
        return self._view["logit"][:n]

    def allows(self, token: int) -> bool:
        self._view[0] = (token, 1.0, 0.0)
        return not np.isneginf(self._apply(1)[0])

    def best_allowed(self, logits: np.ndarray) -> int | None:
        """The highest-logit token the grammar allows, looking at the top k for growing k; None
        when none of the largest tier is allowed. Candidates are checked in descending logit
        order, so the first allowed one is exactly the argmax of the masked logits."""
        for k in self._tiers:
            k = min(k, logits.shape[0])
            top = np.argpartition(logits, -k)[-k:]
            top = top[np.argsort(-logits[top], kind="stable")]
            view = self._view[:k]
            view["id"] = top
            view["logit"] = 1.0
            view["p"] = 0.0
            allowed = ~np.isneginf(self._apply(k))
            if allowed.any():
                # Read the id back from the array: a sampler may reorder what it is given.
                return int(view["id"][int(np.argmax(allowed))])
        return None


class LlamaBackend:
    kind = "embedded"
    # Candidates checked against the grammar (best first) before the whole vocabulary: most
    # rejections are settled in the first tier; the forced letters of a JSON key the model
    # would not have written sit further down (measured: bench/inference.py).
    _TIERS = (512, 16384)

    def __init__(
        self,
        llama: Any,
        *,
        model_path: str,
        kv_cache_bytes: int = 256 << 20,
        fast_grammar: bool = True,
        reuse_kv: bool = True,
        seed: int | None = None,
    ) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self.llama = llama
        self.model_path = model_path
        self.fast_grammar = fast_grammar
        self.reuse_kv = reuse_kv
        self._rng = random.Random(seed)
        self.kv_cache = KVStateCache(capacity_bytes=kv_cache_bytes)
        self._grammars: OrderedDict[str, str] = OrderedDict()
        self._vocab = llama._model.vocab
        # Counters for the debug snapshot and the benchmark.
        self.grammar_checks = 0
        self.grammar_rejections = 0
        self.grammar_full_passes = 0
        self.restores = 0
        self.prefills = 0

    @classmethod
    def load(
        cls,
        model_path: str | Path,
        *,
        n_ctx: int,
        n_threads: int,
        chat_format: str = "",
        kv_cache_bytes: int = 256 << 20,
        **options: Any,
    ) -> LlamaBackend:
        """Load a GGUF; ModelUnavailable (naming the file) when it is missing or unreadable."""
        path = Path(model_path)
        if not path.is_file():
            raise ModelUnavailable(f"model file {path} does not exist")
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelUnavailable(f"llama-cpp-python is not installed: {exc}") from None
        started = time.perf_counter()
        try:
            llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                chat_format=chat_format or None,
                verbose=False,
            )
        except Exception as exc:  # llama.cpp reports a bad file as ValueError, or worse
            raise ModelUnavailable(f"cannot load model {path}: {exc}") from None
        log.info(
            "model loaded",
            model=str(path),
            n_ctx=n_ctx,
            threads=n_threads,
            chat_format=llama.chat_format,
            seconds=round(time.perf_counter() - started, 2),
        )
        return cls(llama, model_path=str(path), kv_cache_bytes=kv_cache_bytes, **options)

    # --- the Backend interface -------------------------------------------------------------

    def complete(
        self,
        messages: ChatMessages,
        *,
        schema: Mapping[str, Any] | None,
        max_tokens: int,
        temperature: float,
        cache_key: str | None,
        deadline: float | None = None,
    ) -> Completion:
        started = time.perf_counter()
        prompt = self.prompt_tokens(messages)
        n_ctx = self.llama.n_ctx()
        if len(prompt) >= n_ctx - 1:
            raise Unprocessable(
                f"the prompt is {len(prompt)} tokens; the model's context holds {n_ctx} "
                "(AGROCHAT_MODEL_CTX)",
                details={"prompt_tokens": len(prompt), "context": n_ctx},
            )
        max_tokens = max(1, min(max_tokens, n_ctx - len(prompt)))
        grammar = self.grammar_for(schema) if schema is not None else None
        try:
            reused = self._load_prompt(prompt, cache_key, deadline)
            tokens, finish_reason, first_at = self._decode(
                grammar=grammar, max_tokens=max_tokens, temperature=temperature, deadline=deadline
            )
        except BaseException:
            # An error or an abort mid-decode: the context may hold half a batch; start the
            # next request from a clean context rather than trust it.
            self.reset_context()
            raise
        if cache_key is not None and self.reuse_kv:
            self._save(cache_key)
        content = self.llama.detokenize(tokens).decode("utf-8", errors="ignore")
        return Completion(
            content=content,
            finish_reason=finish_reason,
            prompt_tokens=len(prompt),
            prompt_tokens_reused=reused,
            generated_tokens=len(tokens),
            time_to_first_token_s=first_at - started,
        )

    def prefill(self, messages: ChatMessages, cache_key: str) -> int:
        """Evaluate ``messages`` (a producer's conversation ending with the reply just sent)
        into the producer's saved state while the model is idle; returns tokens evaluated.

        The reply was generated as the tokens the grammar steered the model to (``"r" "ole"``),
        but the next turn's prompt spells the same text in the tokenizer's own way, so without
        this the whole previous reply is evaluated again on the producer's next message.
        """
        if not self.reuse_kv:
            return 0
        prompt = self.prompt_tokens(messages)
        if len(prompt) >= self.llama.n_ctx() - 1:
            return 0
        try:
            reused = self._load_prompt(prompt, cache_key, None)
        except BaseException:
            self.reset_context()
            raise
        self._save(cache_key)
        self.prefills += 1
        return len(prompt) - reused

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.kind,
            "model": self.model_path,
            "n_ctx": self.llama.n_ctx(),
            "chat_format": self.llama.chat_format,
            "fast_grammar": self.fast_grammar,
            "reuse_kv": self.reuse_kv,
            "context_tokens": int(self.llama.n_tokens),
            "kv_states": len(self.kv_cache),
            "kv_state_bytes": self.kv_cache.nbytes,
            "kv_state_capacity_bytes": self.kv_cache.capacity_bytes,
            "kv_restores": self.restores,
            "kv_prefills": self.prefills,
            "grammar_checks": self.grammar_checks,
            "grammar_rejections": self.grammar_rejections,
            "grammar_full_passes": self.grammar_full_passes,
        }

    def close(self) -> None:
        self.kv_cache.clear()
        self.llama.close()

    # --- prompt ----------------------------------------------------------------------------

    def prompt_tokens(self, messages: ChatMessages) -> list[int]:
        llama = self.llama
        # Llama resolves its chat handler this way in create_chat_completion (0.3.x).
        handler = (
            llama.chat_handler
            or llama._chat_handlers.get(llama.chat_format)
            or self._lib.llama_chat_format.get_chat_completion_handler(llama.chat_format)
        )
        try:
            handler(llama=_PromptCapture(llama), messages=[dict(m) for m in messages])
        except _PromptCaptured as captured:
            return captured.tokens
        raise RuntimeError(f"chat format {llama.chat_format!r} did not build a prompt")

    def grammar_for(self, schema: Mapping[str, Any]) -> str:
        """GBNF for a JSON schema, memoised (sessions send the same few schemas all day)."""
        key = json.dumps(schema, sort_keys=True)
        grammar = self._grammars.get(key)
        if grammar is None:
            from llama_cpp.llama_grammar import json_schema_to_gbnf

            # Keep the schema's property order: it is the order the model should write in.
            grammar = json_schema_to_gbnf(json.dumps(schema))
            self._grammars[key] = grammar
            if len(self._grammars) > 32:
                self._grammars.popitem(last=False)
        else:
            self._grammars.move_to_end(key)
        return grammar

    def _load_prompt(self, prompt: list[int], cache_key: str | None, deadline: float | None) -> int:
        """Evaluate ``prompt`` into the context, reusing what is there; returns tokens reused."""
        llama = self.llama
        reuse = 0
        if self.reuse_kv:
            reuse = common_prefix(llama.input_ids[: llama.n_tokens].tolist(), prompt)
            saved = self.kv_cache.get(cache_key) if cache_key is not None else None
            if saved is not None:
                saved_reuse = common_prefix(saved.tokens, prompt)
                if saved_reuse > reuse and self._restore(saved):
                    reuse = saved_reuse
        # At least one token is evaluated, so the logits belong to this prompt.
        reuse = min(reuse, len(prompt) - 1)
        # Llama.eval drops the KV cells from n_tokens on before decoding.
        llama.n_tokens = reuse
        for start in range(reuse, len(prompt), llama.n_batch):
            if expired(deadline):
                raise DeadlineExceeded("deadline passed while reading the prompt")
            llama.eval(prompt[start : start + llama.n_batch])
        return reuse

    # --- decoding --------------------------------------------------------------------------

    def _chain(self, temperature: float, grammar: str | None) -> Any:
        lib = self._lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if grammar is not None:
            sampler = lib.llama_sampler_init_grammar(self._vocab, grammar.encode("utf-8"), b"root")
            if not sampler:
                lib.llama_sampler_free(chain)
                raise Unprocessable("the JSON schema could not be turned into a grammar")
            lib.llama_sampler_chain_add(chain, sampler)
        if temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
        else:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(temperature))
            lib.llama_sampler_chain_add(
                chain, lib.llama_sampler_init_dist(self._rng.getrandbits(32))
            )
        return chain

    def _decode(
        self, *, grammar: str | None, max_tokens: int, temperature: float, deadline: float | None
    ) -> tuple[list[int], str, float]:
        lib = self._lib
        llama = self.llama
        ctx = llama._ctx.ctx
        free = self._chain(temperature, None) if grammar is None or self.fast_grammar else None
        full = self._chain(temperature, grammar) if grammar is not None else None
        checker = (
            _GrammarCheck(lib, lib.llama_sampler_chain_get(full, 0), self._TIERS)
            if full is not None and free is not None
            else None
        )
        greedy = temperature <= 0
        n_vocab = llama.n_vocab()
        tokens: list[int] = []
        finish_reason = "length"
        first_at = 0.0
        try:
            while len(tokens) < max_tokens:
                if expired(deadline):
                    raise DeadlineExceeded("deadline passed while generating")
                if full is None:
                    token = lib.llama_sampler_sample(free, ctx, -1)
                elif checker is None:
                    token = lib.llama_sampler_sample(full, ctx, -1)
                else:
                    token = lib.llama_sampler_sample(free, ctx, -1)
                    self.grammar_checks += 1
                    if checker.allows(token):
                        lib.llama_sampler_accept(full, token)
                    else:
                        self.grammar_rejections += 1
                        best = None
                        if greedy:
                            # The argmax of the masked logits is the best allowed token among
                            # the top few; checking those is far cheaper than the vocabulary.
                            logits = np.ctypeslib.as_array(
                                lib.llama_get_logits_ith(ctx, -1), shape=(n_vocab,)
                            )
                            best = checker.best_allowed(logits)
                        if best is not None:
                            token = best
                            lib.llama_sampler_accept(full, token)
                        else:
                            self.grammar_full_passes += 1
                            token = lib.llama_sampler_sample(full, ctx, -1)  # accepts too
                if not first_at:
                    first_at = time.perf_counter()
                if lib.llama_vocab_is_eog(self._vocab, token):
                    finish_reason = "stop"
                    break
                tokens.append(token)
                if len(tokens) < max_tokens:
                    llama.eval([token])
        finally:
            for chain in (free, full):
                if chain is not None:
                    lib.llama_sampler_free(chain)
        return tokens, finish_reason, first_at or time.perf_counter()

    # --- context state ---------------------------------------------------------------------

    def reset_context(self) -> None:
        """Forget the live context (the next prompt is evaluated from scratch)."""
        self.llama.n_tokens = 0
        memory = self._lib.llama_get_memory(self.llama._ctx.ctx)
        if memory is not None:
            self._lib.llama_memory_clear(memory, True)

    def reset(self) -> None:
        """Forget the live context and every saved producer state."""
        self.reset_context()
        self.kv_cache.clear()

    def _save(self, key: str) -> None:
        lib = self._lib
        ctx = self.llama._ctx.ctx
        size = lib.llama_state_seq_get_size(ctx, _SEQ)
        if size <= 0 or size > self.kv_cache.capacity_bytes:
            return
        buffer = bytearray(size)
        written = lib.llama_state_seq_get_data(
            ctx, (ctypes.c_uint8 * size).from_buffer(buffer), size, _SEQ
        )
        if written <= 0:
            return
        tokens = tuple(self.llama.input_ids[: self.llama.n_tokens].tolist())
        data = buffer if written == size else buffer[:written]
        self.kv_cache.put(key, SavedState(tokens=tokens, data=data))

    def _restore(self, saved: SavedState) -> bool:
        lib = self._lib
        data = saved.data if isinstance(saved.data, bytearray) else bytearray(saved.data)
        n = len(data)
        read = lib.llama_state_seq_set_data(
            self.llama._ctx.ctx, (ctypes.c_uint8 * n).from_buffer(data), n, _SEQ
        )
        if read == 0:
            log.warning("could not restore a saved KV state; evaluating the prompt in full")
            self.reset_context()
            return False
        self.llama.input_ids[: len(saved.tokens)] = saved.tokens
        self.llama.n_tokens = len(saved.tokens)
        self.restores += 1
        return True
