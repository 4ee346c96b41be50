"""LLM path: time to first token through qa minus the test server's own delay.

    python bench/llm.py [--out DIR] [--smoke] [--questions N] [--delay-s S]

``tests/fake_llm.py`` (the scripted OpenAI-compatible server) runs in-process on 127.0.0.1
and waits ``--delay-s`` before every reply. An ``Assistant`` on a copy of ``seeds/``
(answerer ``openai``, store in ``bench/.cache/llm/``) streams the eval questions; TTFT is
from the ``assistant.stream(question)`` call to its first text delta. Baseline of the same
run, right after each question: the raw ``openai`` SDK streaming the very request qa sent
(same server, same delay) to its first content delta. qa's own overhead (retrieval, prompt
building, the stream's leak guard) is the paired difference. Two phases: ``burst`` (the reply
arrives at once) isolates retrieval and prompt building; ``paced`` (one 8-character delta
every ``--chunk-delay-s``) adds what qa's stream filter holds back before showing text.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import openai
import yaml
from common import CACHE, RESULTS, ROOT, percentile, report, table, timed

import qa

sys.path.insert(0, str(ROOT))
from tests.fake_llm import FakeLLM, Reply

REPLY = (
    "The previous humanitarian pause in Aleppo lasted ten hours, on November 4 [1]. "
    "Convoys were expected to use the Castello road [2]."
)
MODEL = "fake-model"


def questions() -> list[str]:
    """The single-turn questions of the eval suite, in file order."""
    cases = yaml.safe_load((ROOT / "evals" / "cases.yaml").read_text(encoding="utf-8"))
    return [str(c["question"]) for c in cases if "question" in c]


def qa_ttft(assistant: qa.Assistant, question: str) -> tuple[float, float, qa.Answer]:
    """Seconds to the first text delta and to the verified answer, and the answer."""
    started = time.perf_counter()
    first, answer = None, None
    for event in assistant.stream(question):
        if isinstance(event, qa.Answer):
            answer = event
        elif event and first is None:
            first = time.perf_counter() - started
    if answer is None or first is None:
        raise RuntimeError(f"no streamed answer for {question!r}")
    return first, time.perf_counter() - started, answer


def raw_ttft(client: openai.OpenAI, body: dict[str, Any]) -> float:
    """Seconds from the SDK call to its first content delta, for the request qa sent."""
    started = time.perf_counter()
    first = None
    stream = client.chat.completions.create(
        model=body["model"],
        messages=body["messages"],
        temperature=body.get("temperature"),
        stream=True,
    )
    with stream:
        for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
    if first is None:
        raise RuntimeError("the raw SDK stream had no content")
    return first


def stats(values: list[float], minus: float = 0.0) -> dict[str, Any]:
    """Milliseconds: median, p90, max (after subtracting ``minus`` seconds)."""
    ms = [(v - minus) * 1000 for v in values]
    return {
        "median_ms": statistics.median(ms),
        "p90_ms": percentile(ms, 90),
        "min_ms": min(ms),
        "max_ms": max(ms),
        "runs_ms": [round(v, 2) for v in ms],
    }


def phase(
    make: Callable[[], qa.Assistant],
    llm: FakeLLM,
    client: openai.OpenAI,
    qs: list[str],
    reply: Reply,
    warmup: int,
) -> dict[str, Any]:
    """Interleaved qa / raw SDK TTFTs over ``qs`` with a fresh assistant (no cached vectors)."""
    llm.default = reply
    assistant = make()
    for q in qs[:warmup]:
        qa_ttft(assistant, q)
        raw_ttft(client, llm.requests[-1].body)
    qa_s, raw_s, total_s, problems = [], [], [], []
    for q in qs[warmup:]:
        first, total, answer = qa_ttft(assistant, q)
        if answer.notice or not answer.answerer.startswith("openai"):
            problems.append(f"{q!r}: not an LLM answer ({answer.answerer}: {answer.notice})")
        qa_s.append(first)
        total_s.append(total)
        raw_s.append(raw_ttft(client, llm.requests[-1].body))
    delay = reply.delay_s
    return {
        "reply": {"delay_s": delay, "chunk_size": reply.chunk_size},
        "chunk_delay_s": reply.chunk_delay_s,
        "questions": len(qa_s),
        "qa_ttft": stats(qa_s),
        "raw_sdk_ttft": stats(raw_s),
        "qa_ttft_minus_delay": stats(qa_s, delay),
        "raw_sdk_ttft_minus_delay": stats(raw_s, delay),
        "qa_overhead": stats([a - b for a, b in zip(qa_s, raw_s, strict=True)]),
        "qa_answer_total": stats(total_s),
        "problems": problems,
    }


def ensure_seeds(cache: Path) -> Path:
    corpus = cache / "seeds"
    names = sorted(p.name for p in (ROOT / "seeds").iterdir())
    if not corpus.is_dir() or sorted(p.name for p in corpus.iterdir()) != names:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(ROOT / "seeds", corpus)
    return corpus


def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.questions or (3 if args.smoke else 24)
    warmup = 1 if args.smoke else 2
    cache = args.cache or CACHE / ("llm-smoke" if args.smoke else "llm")
    corpus = ensure_seeds(cache)
    qs = questions()[: n + warmup]
    delay = args.delay_s if args.delay_s is not None else (0.05 if args.smoke else 0.2)
    with FakeLLM(models=[MODEL]) as llm:
        settings: dict[str, Any] = {
            "store": cache / "store",
            "answerer": "openai",
            "llm_base_url": llm.base_url,
            "llm_api_key": "bench",
            "llm_model": MODEL,
            "llm_max_retries": 0,
        }
        build_s, first = timed(lambda: qa.Assistant.from_folder(corpus, **settings))
        embedder = first.embedder  # loaded once, shared by the fresh assistants below

        def make() -> qa.Assistant:
            return qa.Assistant.from_folder(corpus, embedder=embedder, **settings)

        client = openai.OpenAI(base_url=llm.base_url, api_key="bench", max_retries=0)
        burst = phase(make, llm, client, qs, Reply(text=REPLY, delay_s=delay), warmup)
        paced_reply = Reply(text=REPLY, delay_s=delay, chunk_delay_s=args.chunk_delay_s)
        paced = phase(make, llm, client, qs, paced_reply, warmup)
        fresh = make()
        for q in qs[:warmup]:
            fresh.retrieve(q)
        retrieve_s = [timed(partial(fresh.retrieve, q))[0] for q in qs[warmup:]]
    problems = burst["problems"] + paced["problems"]
    return {
        "smoke": args.smoke,
        "server_delay_s": delay,
        "questions": len(qs) - warmup,
        "warmup_questions": warmup,
        "assistant_build_s": build_s,
        "phases": {"burst": burst, "paced": paced},
        "retrieve_alone": stats(retrieve_s),
        "stream_holdback_chars": "LEAK_WINDOW + 1 (qa.injection.StreamFilter)",
        "valid": not problems,
        "problems": problems,
    }


def render(res: dict[str, Any]) -> str:
    rows: list[list[object]] = []
    for name, p in res["phases"].items():
        label = f"{name} (8 chars / {p['chunk_delay_s'] * 1000:g} ms)"
        for key, what in (
            ("raw_sdk_ttft", "raw openai SDK TTFT"),
            ("qa_ttft", "qa TTFT (stream → first delta)"),
            ("raw_sdk_ttft_minus_delay", "raw SDK TTFT − server delay"),
            ("qa_ttft_minus_delay", "qa TTFT − server delay"),
            ("qa_overhead", "qa − raw SDK (paired): qa's own overhead"),
        ):
            v = p[key]
            rows.append([label, what, v["median_ms"], v["p90_ms"], v["max_ms"]])
    r = res["retrieve_alone"]
    rows.append(["—", "assistant.retrieve() alone", r["median_ms"], r["p90_ms"], r["max_ms"]])
    head = (
        f"## LLM path: TTFT over {res['questions']} questions, "
        f"server delay {res['server_delay_s'] * 1000:g} ms\n\n"
    )
    text = head + table(["phase", "measure", "median ms", "p90 ms", "max ms"], rows)
    return text + ("" if res["valid"] else "\n\nINVALID: " + "; ".join(res["problems"]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for llm.json")
    p.add_argument("--smoke", action="store_true", help="3 questions, 50 ms delay (CI)")
    p.add_argument("--questions", type=int, help="measured questions (default 24; smoke 3)")
    p.add_argument("--delay-s", type=float, help="server delay before replying (default 0.2)")
    p.add_argument("--chunk-delay-s", type=float, default=0.02, help="paced phase: per delta")
    p.add_argument("--cache", type=Path, help="cache folder (default bench/.cache/llm)")
    args = p.parse_args()
    res = run(args)
    report("llm", res, render(res), out=args.out)
    return 0 if res["valid"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
