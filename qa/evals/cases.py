"""Eval cases: YAML files of questions with expected facts, sources, or an expected abstention."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, model_validator


class Expectation(BaseModel):
    """One question of a case and what its answer must show."""

    question: str
    facts: list[list[str]] = Field(
        default_factory=list, description="each fact: acceptable phrasings, any one suffices"
    )
    sources: list[str] = Field(
        default_factory=list, description="files that may be cited; at least one must be"
    )
    abstain: bool = Field(False, description="the documents do not hold the answer")

    @property
    def scored(self) -> bool:
        """True when this turn has expectations (a turn may only set up a follow-up)."""
        return bool(self.facts or self.sources or self.abstain)

    @model_validator(mode="after")
    def _consistent(self) -> Expectation:
        if self.abstain and (self.facts or self.sources):
            raise ValueError("an abstain case lists no facts or sources")
        if any(not phrasings for phrasings in self.facts):
            raise ValueError("a fact needs at least one phrasing")
        return self


class Case(BaseModel):
    """A single question or a conversation (``turns``)."""

    id: str
    turns: list[Expectation]
    tags: list[str] = Field(default_factory=list)


def load_cases(path: Path) -> list[Case]:
    """Cases from a YAML file, or every ``*.yaml`` in a folder; ids must be unique.

    Expected sources are not required to exist: a removed file must show up as failing
    cases, not as a suite that no longer loads."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    cases: list[Case] = []
    for file in files:
        for raw in yaml.safe_load(file.read_text(encoding="utf-8")) or []:
            cases.append(_parse(raw, file))
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ValueError(f"duplicate eval case id {case.id!r}")
        seen.add(case.id)
    return cases


def _parse(raw: Any, file: Path) -> Case:
    if not isinstance(raw, dict) or "id" not in raw:
        raise ValueError(f"{file}: every case is a mapping with an id, got {raw!r}")
    raw = dict(raw)
    if "turns" not in raw:
        single = {k: raw.pop(k) for k in ("question", "facts", "sources", "abstain") if k in raw}
        raw["turns"] = [single]
    raw["turns"] = [
        {**t, "facts": [[str(p) for p in fact] for fact in t.get("facts", [])]}
        for t in raw["turns"]
    ]
    return Case.model_validate(raw)
