"""Eval cases: YAML files of questions with expected facts, sources, or an expected abstention."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    model_validator,
)


def _phrasings(value: Any) -> Any:
    """A fact written as one phrasing ("ten hours" or 412) is a list of one; numbers in a
    list of phrasings are their text."""
    if _scalar(value):
        return [str(value)]
    if isinstance(value, list):
        return [str(v) if _scalar(v) else v for v in value]
    return value


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


Phrasings = Annotated[list[StrictStr], BeforeValidator(_phrasings), Field(min_length=1)]


class Expectation(BaseModel):
    """One question of a case and what its answer must show."""

    model_config = ConfigDict(extra="forbid")

    question: StrictStr = Field(min_length=1)
    facts: list[Phrasings] = Field(
        default_factory=list, description="each fact: acceptable phrasings, any one suffices"
    )
    sources: list[StrictStr] = Field(
        default_factory=list, description="files that may be cited; at least one must be"
    )
    pages: list[Annotated[int, Field(strict=True, ge=1)]] = Field(
        default_factory=list,
        description="for a paged source (PDF): a citation of an expected source must start on "
        "one of these pages",
    )
    abstain: StrictBool = Field(False, description="the documents do not hold the answer")

    @property
    def scored(self) -> bool:
        """True when this turn has expectations (a turn may only set up a follow-up)."""
        return bool(self.facts or self.sources or self.abstain)

    @model_validator(mode="after")
    def _consistent(self) -> Expectation:
        if self.abstain and (self.facts or self.sources or self.pages):
            raise ValueError("an abstain case lists no facts, sources or pages")
        if self.pages and not self.sources:
            raise ValueError("pages are pages of the expected sources: list the sources too")
        return self


class Case(BaseModel):
    """A single question or a conversation (``turns``); at least one turn is checked."""

    model_config = ConfigDict(extra="forbid")

    id: StrictStr = Field(min_length=1)
    turns: list[Expectation] = Field(min_length=1)
    tags: list[StrictStr] = Field(default_factory=list)
    folder: StrictStr | None = Field(
        None,
        description="the corpus folder the case asks, relative to its YAML file (made "
        "absolute when loaded); unset = the folder ``qa eval`` is given (seeds/ by default)",
    )

    @model_validator(mode="after")
    def _checks_something(self) -> Case:
        if not any(t.scored for t in self.turns):
            raise ValueError("nothing to check: give facts, sources or abstain: true")
        return self


class BaselineCase(BaseModel):
    """What a baseline must say of each case (its other fields are kept, not checked)."""

    model_config = ConfigDict(extra="allow")

    id: StrictStr
    passed: StrictBool


class Baseline(BaseModel):
    """An ``qa eval`` result used as a gate."""

    model_config = ConfigDict(extra="allow")

    cases: list[BaselineCase] = Field(min_length=1)


def load_baseline(path: Path) -> dict[str, Any]:
    """A baseline file, checked: a JSON object whose ``cases`` each have an id and passed."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"baseline {path}: cannot be read as JSON: {exc}") from None
    try:
        Baseline.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"baseline {path}: {_problems(exc)}") from None
    return dict(raw)


def load_cases(path: Path) -> list[Case]:
    """Cases from a YAML file, or every ``*.yaml`` in a folder; ids must be unique. A case
    that does not fit the schema is an error naming the file, the case and the field.

    Expected sources are not required to exist: a removed file must show up as failing
    cases, not as a suite that no longer loads."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    cases: list[Case] = []
    for file in files:
        try:
            raw_cases = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ValueError(f"{file}: cannot be read as YAML: {exc}") from None
        if raw_cases is None:
            continue
        if not isinstance(raw_cases, list):
            raise ValueError(f"{file}: expected a list of cases, got {type(raw_cases).__name__}")
        parsed = [_parse(raw, file, n) for n, raw in enumerate(raw_cases, start=1)]
        for case in parsed:
            if case.folder is not None:
                case.folder = str((file.parent / case.folder).resolve())
        cases += parsed
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ValueError(f"duplicate eval case id {case.id!r}")
        seen.add(case.id)
    return cases


def _parse(raw: Any, file: Path, n: int) -> Case:
    if not isinstance(raw, dict) or "id" not in raw:
        raise ValueError(f"{file}: case {n} is not a mapping with an id: {raw!r}")
    name = f"{file}: case {raw['id']!r}"
    raw = dict(raw)
    if "turns" not in raw:
        single = {k: raw.pop(k) for k in Expectation.model_fields if k in raw}
        raw["turns"] = [single]
    try:
        return Case.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"{name}: {_problems(exc)}") from None


def _problems(exc: ValidationError) -> str:
    """Each problem as ``field.path: message``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'case'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors(include_url=False)
    )
