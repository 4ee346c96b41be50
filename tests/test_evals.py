"""The eval suite: case loading, deterministic scoring, the answer cache and the baseline gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import qa
from qa.embed import HashingEmbedder
from qa.evals.cases import Expectation, load_baseline, load_cases
from qa.evals.run import AnswerCache, EvalRun, regressions, run_cases
from qa.evals.score import Record, has_phrase, score_turn
from qa.ingest import read_document
from tests import documents as docs
from tests.fake_llm import FakeLLM, Reply
from tests.helpers import ROOT, SEEDS, seeds_copy

PAUSE = "000_2aad95338d9cee2c.txt"
QUOTE = "The previous humanitarian pause in Aleppo lasted for ten hours on November 4."


def _citation(source: str = PAUSE, quote: str = QUOTE) -> dict[str, object]:
    start = (SEEDS / source).read_text(encoding="utf-8").find(quote)
    return {"source": source, "quote": quote, "start": start, "end": start + len(quote), "score": 1}


def test_phrases_match_ignoring_case_and_accents() -> None:
    assert has_phrase("Une nouvelle pause a eu lieu à ALEP", "a alep")
    assert has_phrase("Les États-Unis", "etats-unis")
    assert not has_phrase("ten hours", "eleven hours")


def test_the_committed_cases_load_and_cover_what_the_suite_promises() -> None:
    cases = load_cases(ROOT / "evals")
    assert len(cases) >= 40
    assert sum(len(c.turns) > 1 for c in cases) >= 5
    assert sum(any(t.abstain for t in c.turns) for c in cases) >= 5
    assert sum(c.id.startswith("fr-") for c in cases) >= 5
    assert sum(c.id.startswith("en-fr-") for c in cases) >= 5
    for case in cases:
        for turn in case.turns:
            for source in turn.sources:
                assert (SEEDS / source).is_file(), (case.id, source)


def test_bad_case_files_are_refused(tmp_path: Path) -> None:
    dup = tmp_path / "dup.yaml"
    dup.write_text("- {id: a, question: q, abstain: true}\n- {id: a, question: r, abstain: true}\n")
    with pytest.raises(ValueError, match="duplicate"):
        load_cases(dup)
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text("- {id: b, question: q, abstain: true, facts: [[x]]}\n")
    with pytest.raises(ValueError, match="abstain"):
        load_cases(mixed)


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("- {id: s, question: q, facts: ten hours}", "case 's': turns.0.facts: Input should be a valid list"),  # noqa: E501
        ("- {id: n, question: q}", "case 'n': case: nothing to check: give facts, sources or abstain: true"),  # noqa: E501
        ("- {id: t, turns: []}", "case 't': turns: List should have at least 1 item"),
        ("- {id: u, turns: [3]}", "case 'u': turns.0: Input should be a valid dictionary"),
        ("- {id: f, question: q, facts: [[]]}", "case 'f': turns.0.facts.0: Value should have at least 1 item"),  # noqa: E501
        ("- {id: x, question: q, fact: [[a]]}", "case 'x': fact: Extra inputs are not permitted"),
        ("- {id: a, question: q, abstain: maybe}", "case 'a': turns.0.abstain: Input should be a valid boolean"),  # noqa: E501
        ("- {id: [", "cannot be read as YAML"),
        ("id: alone", "expected a list of cases, got dict"),
        ("- just text", "case 1 is not a mapping with an id"),
    ],
)  # fmt: skip
def test_a_case_that_does_not_fit_the_schema_is_named(
    tmp_path: Path, yaml_text: str, problem: str
) -> None:
    """A string where a list of facts belongs (once 9 one-letter facts that all passed), a case
    that checks nothing, an empty conversation, a turn that is a number, a misspelt field and
    broken YAML are refused, naming the file, the case and the field."""
    target = tmp_path / "cases.yaml"
    target.write_text(yaml_text + "\n", encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        load_cases(target)
    assert str(caught.value).startswith(f"{target}: "), caught.value
    assert problem in str(caught.value), caught.value


def test_single_phrasings_and_numbers_are_accepted_as_facts(tmp_path: Path) -> None:
    target = tmp_path / "cases.yaml"
    target.write_text("- {id: k, question: q, facts: [ten hours, [412, four hundred]]}\n")
    [case] = load_cases(target)
    assert case.turns[0].facts == [["ten hours"], ["412", "four hundred"]]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{}", "cases: Field required"),
        ("[]", "Input should be a valid dictionary"),
        ('{"cases": "x"}', "cases: Input should be a valid list"),
        ('{"cases": [{"id": "a"}]}', "cases.0.passed: Field required"),
        ("{not json", "cannot be read as JSON"),
    ],
)
def test_a_baseline_that_does_not_fit_is_refused(
    tmp_path: Path, content: str, problem: str
) -> None:
    """Once `{}` meant "no regressions" and other shapes gave tracebacks."""
    target = tmp_path / "baseline.json"
    target.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        load_baseline(target)
    assert str(caught.value).startswith(f"baseline {target}: ") and problem in str(caught.value)


@pytest.mark.parametrize("name", ["baseline.json", "baseline-smollm2.json"])
def test_the_committed_baselines_load_and_cover_every_case(name: str) -> None:
    verdicts = {c["id"] for c in load_baseline(ROOT / "evals" / name)["cases"]}
    assert verdicts == {c.id for c in load_cases(ROOT / "evals")}


def test_the_mixed_format_cases_fit_their_generated_documents(tmp_path: Path) -> None:
    """evals/mixed/docs is what tests/documents.py generates (text compared: zip and PDF
    bytes carry timestamps), and every case names a file there and has a baseline verdict."""
    mixed = ROOT / "evals" / "mixed"
    for generated in docs.write_mixed(tmp_path):
        committed = read_document(mixed / "docs" / generated.name)
        assert committed.text == read_document(generated).text, generated.name
        assert committed.pages == read_document(generated).pages
    cases = load_cases(mixed / "cases.yaml")
    names = {p.name for p in (mixed / "docs").iterdir()}
    assert {s for c in cases for t in c.turns for s in t.sources} == names
    verdicts = {c["id"] for c in load_baseline(mixed / "baseline.json")["cases"]}
    assert verdicts == {c.id for c in cases}


def seed_text(source: str) -> str | None:
    path = SEEDS / source
    return path.read_text(encoding="utf-8") if path.is_file() else None


def test_a_paged_source_must_be_cited_on_an_expected_page() -> None:
    expect = Expectation(question="q", facts=[["ten hours"]], sources=[PAUSE], pages=[2])
    on_1 = {**_citation(), "page": 1}
    score = score_turn(expect, Record(QUOTE, [on_1], False, [PAUSE]), seed_text)
    assert score.problems == ["no expected source cited on page 2"]
    assert score.cited_pages == [f"{PAUSE}:1"]
    on_2 = {**_citation(), "page": 2}
    assert score_turn(expect, Record(QUOTE, [on_2], False, [PAUSE]), seed_text).passed
    with pytest.raises(ValueError, match="list the sources too"):
        Expectation(question="q", facts=[["x"]], pages=[1])


def test_score_reports_found_and_missed_facts_and_citation_precision() -> None:
    expect = Expectation(
        question="q", facts=[["ten hours"], ["Castello"]], sources=[PAUSE, "x.txt"]
    )
    record = Record(QUOTE + " [1]", [_citation()], False, [PAUSE, "004_ad1b6a9a081ab1cf.txt"])
    score = score_turn(expect, record, seed_text)
    assert score.found == ["ten hours"] and score.missed == ["Castello"]
    assert score.citation_precision == 1.0 and score.citation_recall == 0.5
    assert score.hit_at_k == 1.0 and score.mrr == 1.0
    assert not score.passed and "missed: Castello" in score.problems


def test_an_answer_that_kept_no_passage_scores_no_retrieval_hit() -> None:
    expect = Expectation(question="q", facts=[["ten hours"]], sources=[PAUSE])
    score = score_turn(expect, Record(qa.NOT_IN_DOCUMENTS, [], True, []), seed_text)
    assert score.hit_at_k == 0.0 and score.mrr == 0.0
    assert "abstained" in score.problems and not score.passed


def test_a_quote_off_its_offsets_fails_the_case() -> None:
    citation = _citation()
    citation["start"] = int(citation["start"]) + 1  # type: ignore[call-overload]
    expect = Expectation(question="q", facts=[["ten hours"]], sources=[PAUSE])
    score = score_turn(expect, Record(QUOTE, [citation], False, [PAUSE]), seed_text)
    assert not score.quotes_verbatim and not score.passed


def test_abstention_expectations() -> None:
    expect = Expectation(question="q", abstain=True)
    assert score_turn(expect, Record(qa.NOT_IN_DOCUMENTS, [], True, []), seed_text).passed
    answered = score_turn(expect, Record(QUOTE, [_citation()], False, [PAUSE]), seed_text)
    assert not answered.passed and answered.problems == ["answered instead of abstaining"]


def test_regressions_are_cases_that_passed_before_and_fail_now() -> None:
    baseline = {"cases": [{"id": "a", "passed": True}, {"id": "b", "passed": False}]}
    now = EvalRun({}, [])
    now.cases = [
        type("C", (), {"id": "a", "passed": False, "turns": []})(),  # type: ignore[list-item]
        type("C", (), {"id": "b", "passed": False, "turns": []})(),  # type: ignore[list-item]
    ]
    assert regressions(baseline, now) == [("a", "failed")]
    assert regressions(baseline, EvalRun({}, [])) == [("a", "case no longer in the suite")]


def test_cached_answers_are_reused(tmp_path: Path) -> None:
    assistant = qa.Assistant.from_folder(SEEDS, store=tmp_path / "s", embedder=HashingEmbedder())
    cases = load_cases(ROOT / "evals" / "cases.yaml")[:3]
    cache = AnswerCache(tmp_path / "cache")
    first = run_cases(assistant, cases, cache=cache)
    calls = []
    original = assistant.ask
    assistant.ask = lambda *a, **k: calls.append(a) or original(*a, **k)  # type: ignore[method-assign]
    second = run_cases(assistant, cases, cache=cache)
    assert calls == []
    assert [c.passed for c in first.cases] == [c.passed for c in second.cases]
    run_cases(assistant, cases, cache=cache, repetition=1)
    assert len(calls) == 3, "another repetition is answered afresh"


@pytest.mark.slow
def test_the_gate_bites_when_a_seed_file_is_removed(tmp_path: Path) -> None:
    corpus = seeds_copy(tmp_path)
    (corpus / "002_85c3a7959f85f010.txt").unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "QA_"))}
    out = subprocess.run(
        [sys.executable, "-m", "qa.cli", "--store", str(tmp_path / "store"), "eval",
         "--folder", str(corpus), "--cases", str(ROOT / "evals"),
         "--baseline", str(ROOT / "evals" / "baseline.json"), "--out", str(tmp_path / "r.json")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    assert "castello-road" in out.stdout.split("FAIL:")[1]
    result = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert {"prompts", "answerer", "embedder", "corpus_hash", "git_commit"} <= result["meta"].keys()
    # A tolerance as large as the regressions passes the gate, still listing them (answers
    # come from the eval cache this time); one fewer fails it.
    regressed = len(out.stdout.split("FAIL:")[1].strip().splitlines()) - 1
    for tolerance, verdict in [
        (regressed, f"within the tolerance of {regressed}"),
        (regressed - 1, "FAIL"),
    ]:
        again = subprocess.run(
            [*out.args, "--tolerance", str(tolerance)],
            capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
        assert again.returncode == (verdict == "FAIL"), again.stdout + again.stderr
        assert f"{verdict}: {regressed} case(s) passed in" in again.stdout
        assert "castello-road" in again.stdout.split(f"{verdict}: ")[1]


def _fake_llm_assistant(llm: FakeLLM, tmp_path: Path, **settings: Any) -> qa.Assistant:
    """An Assistant on seeds/ answering through the scripted server, no retries."""
    return qa.Assistant.from_folder(
        SEEDS,
        store=tmp_path / "s",
        embedder=HashingEmbedder(),
        answerer="openai",
        llm_base_url=llm.base_url,
        llm_api_key="k",
        llm_model="fake-model",
        llm_max_retries=0,
        **settings,
    )


def test_eval_runs_through_the_configured_llm(tmp_path: Path) -> None:
    cases_file = tmp_path / "cases.yaml"
    cases_file.write_text(
        "- id: pause\n"
        "  question: How long did the previous humanitarian pause last?\n"
        "  facts: [[ten hours]]\n"
        "  sources: [000_2aad95338d9cee2c.txt]\n"
        "- id: none\n"
        "  question: What is the capital of Australia?\n"
        "  abstain: true\n",
        encoding="utf-8",
    )
    with FakeLLM(default=Reply(text=qa.NOT_IN_DOCUMENTS)) as llm:
        assistant = _fake_llm_assistant(llm, tmp_path)
        result = run_cases(assistant, load_cases(cases_file))
        assert len(llm.requests) == 2
    assert result.meta["answerer"] == "openai" and result.meta["model"] == "fake-model"
    assert [c.passed for c in result.cases] == [False, True]


def test_an_llm_failure_fails_its_turn_and_the_run_goes_on(tmp_path: Path) -> None:
    cases_file = tmp_path / "cases.yaml"
    cases_file.write_text(
        "- id: none\n  question: What is the capital of Australia?\n  abstain: true\n"
        "- id: none-fr\n  question: Quelle est la capitale du Canada ?\n  abstain: true\n",
        encoding="utf-8",
    )
    with FakeLLM(default=Reply(text=qa.NOT_IN_DOCUMENTS)) as llm:
        assistant = _fake_llm_assistant(llm, tmp_path, llm_fallback=False)
        llm.push(Reply(status=500, text="overloaded"))
        cache = AnswerCache(tmp_path / "cache")
        first = run_cases(assistant, load_cases(cases_file), cache=cache)
        again = run_cases(assistant, load_cases(cases_file), cache=cache)
        assert len(llm.requests) == 3, "the failed turn is asked again, the other is cached"
    assert [c.passed for c in first.cases] == [False, True]
    [turn] = first.cases[0].turns
    assert turn.problems[0].startswith("LLM failed: ") and "500" in turn.problems[0]
    assert [c.passed for c in again.cases] == [True, True]
    assert first.totals["answered_by"] == {"failed": 1, "openai:fake-model": 1}
