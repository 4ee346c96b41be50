"""Shared test helpers: the real embedder (loaded once), the seed corpus, assistants over it."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path
from typing import Any

import qa
from qa.embed import DEFAULT_EMBEDDER, Embedder, create_embedder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@cache
def default_embedder() -> Embedder:
    """The real default embedder (e5), shared by every test in the session."""
    return create_embedder(DEFAULT_EMBEDDER)


def seeds_copy(tmp: Path) -> Path:
    """A private copy of the seed corpus (tests may edit it)."""
    target = tmp / "seeds"
    shutil.copytree(SEEDS, target)
    return target


def assistant(
    corpus: Path, store: Path, embedder: Embedder | None = None, **settings: Any
) -> qa.Assistant:
    """A synced assistant over ``corpus`` with its store in ``store``."""
    return qa.Assistant.from_folder(
        corpus, store=store, embedder=embedder or default_embedder(), **settings
    )
