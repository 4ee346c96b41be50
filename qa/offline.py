"""Keep every library off the network: local tiktoken cache, no hub lookups, no telemetry.

Imported first by ``qa/__init__``; only sets environment variables (never overrides a user's)
and imports nothing heavy.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

_FLAGS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "DO_NOT_TRACK": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # no "Loading weights … 103/103" bars from transformers
    "TRANSFORMERS_VERBOSITY": "error",
}


def model_cache_dir() -> Path:
    """Where one-time local model files are kept: ``$XDG_CACHE_HOME/qa/models``, else
    ``~/.cache/qa/models`` (setting ``model_cache`` overrides it)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "qa" / "models"


def llama_index_static_dir() -> Path | None:
    """``llama_index/core/_static``: the tiktoken and NLTK caches llama-index-core ships."""
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "_static"


def apply() -> None:
    """Set the offline environment variables that are not already set."""
    for key, value in _FLAGS.items():
        os.environ.setdefault(key, value)
    static = llama_index_static_dir()
    if static is not None:
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(static / "tiktoken_cache"))
        os.environ.setdefault("NLTK_DATA", str(static / "nltk_cache"))
