"""Prompts are plain files beside this module (``qa/prompts/*.txt``, package data), or in the
``prompts_dir`` setting's folder, loaded by name as llama-index ``PromptTemplate``s."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.schema import Passage

# The one sentence an answer gives when the documents do not hold the answer. The prompts
# receive it as {not_found}; tests and the abstention check use this constant.
NOT_IN_DOCUMENTS = "The documents do not contain the answer to this question."


def load_prompt(name: str, prompts_dir: Path) -> Any:
    """``prompts_dir/NAME.txt`` as a ``PromptTemplate``; a clear error if it is missing."""
    from llama_index.core.prompts import PromptTemplate

    if not name.replace("_", "").isalnum():
        raise ValueError(f"invalid prompt name {name!r}")
    path = prompts_dir / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"prompt {name!r} not found: {path}")
    return PromptTemplate(path.read_text(encoding="utf-8"))


def render(name: str, prompts_dir: Path, **values: str) -> str:
    """Fill prompt ``name``; ``not_found`` is always supplied."""
    template = load_prompt(name, prompts_dir)
    return str(template.format(not_found=NOT_IN_DOCUMENTS, **values))


def format_sources(passages: Sequence[Passage]) -> str:
    """Number the passages and fence each one; their text is escaped so no document can
    open or close a source block, or pose as instructions outside one."""
    blocks = []
    for n, p in enumerate(passages, start=1):
        body = html.escape(p.chunk.text, quote=False)
        name = html.escape(p.chunk.source)
        blocks.append(f'<source id="{n}" file="{name}">\n{body}\n</source>')
    return "\n\n".join(blocks)


def prompt_hashes(prompts_dir: Path) -> dict[str, str]:
    """sha256 of every prompt file, for eval records and answer caches."""
    import hashlib

    return {
        p.stem: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(prompts_dir.glob("*.txt"))
    }
