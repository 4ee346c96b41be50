"""The local model through qa against the raw openai SDK, same server, same requests.

    python bench/llm_local.py [--out DIR] [--questions N] [--threads T] [--smoke] [--cache DIR]

Starts qa's local server (``qa.answerers.local``: llama.cpp with the packaged SmolLM2-135M,
greedy) and streams the eval suite's single-turn questions through an ``Assistant`` on a copy
of ``seeds/``. For each question, right after qa's answer, the raw SDK streams the very
request qa sent (recorded from qa's client) to its end. llama.cpp reuses the KV cache of
the previous prompt's common prefix, so a one-token request on another prompt runs before
each timed one, and each starts cold. Reported, paired: time to first
token and total answer time through qa and through the SDK, and the server process's own
peak memory (``VmHWM``) and that of this process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import openai
from common import CACHE, RESULTS, ROOT, own_memory_mb, percentile, report, table
from llm import ensure_seeds, questions

import qa

sys.path.insert(0, str(ROOT))
from qa.answerers import local


def ms(values: list[float]) -> dict[str, Any]:
    out = [v * 1000 for v in values]
    return {"median_ms": statistics.median(out), "p90_ms": percentile(out, 90), "max_ms": max(out)}


def raw_stream(client: openai.OpenAI, body: dict[str, Any]) -> tuple[float, float]:
    """Seconds to the first content delta and to the end, for one request."""
    started = time.perf_counter()
    first = None
    stream = client.chat.completions.create(**body, stream=True)
    with stream:
        for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
    return (first if first is not None else float("nan")), time.perf_counter() - started


def flush(client: openai.OpenAI, model: str) -> None:
    """Evict llama.cpp's cached prompt prefix with a one-token request on another prompt."""
    client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Say yes."}], max_tokens=1
    )


def server_peak_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.questions or (2 if args.smoke else 12)
    qs = questions()[: n + 1]
    cache = args.cache or CACHE / ("llm-local-smoke" if args.smoke else "llm-local")
    corpus = ensure_seeds(cache)
    server = local.start(threads=args.threads)
    try:
        a = qa.Assistant.from_folder(
            corpus,
            store=cache / "store",
            answerer="openai",
            llm_base_url=server.base_url,
            llm_model=local.MODEL_ALIAS,
            llm_fallback=False,
            llm_deadline_s=120,
            llm_timeout_s=120,
        )
        sent: list[dict[str, Any]] = []
        completions = a.answerer.llm.client.chat.completions  # type: ignore[attr-defined]
        create = completions.create

        def recording(**kwargs: Any) -> Any:
            sent.append({k: kwargs[k] for k in ("model", "messages", "temperature")})
            return create(**kwargs)

        completions.create = recording
        client = openai.OpenAI(base_url=server.base_url, api_key="bench", max_retries=0)
        rows: dict[str, list[float]] = {
            k: [] for k in ("qa_ttft", "qa_total", "raw_ttft", "raw_total")
        }
        for i, q in enumerate(qs):
            flush(client, local.MODEL_ALIAS)
            started = time.perf_counter()
            first = None
            for event in a.stream(q):
                if isinstance(event, str) and event and first is None:
                    first = time.perf_counter() - started
            total = time.perf_counter() - started
            flush(client, local.MODEL_ALIAS)
            raw_first, raw_total = raw_stream(client, sent[-1])
            if i == 0:
                continue  # warm-up
            rows["qa_ttft"].append(first if first is not None else float("nan"))
            rows["qa_total"].append(total)
            rows["raw_ttft"].append(raw_first)
            rows["raw_total"].append(raw_total)
        server_mb = server_peak_mb(server.process.pid)
    finally:
        server.stop()
    paired = {
        "ttft_overhead": ms(
            [x - y for x, y in zip(rows["qa_ttft"], rows["raw_ttft"], strict=True)]
        ),
        "total_overhead": ms(
            [x - y for x, y in zip(rows["qa_total"], rows["raw_total"], strict=True)]
        ),
    }
    problems = [
        f"{k}: a question with no text streamed"
        for k in ("qa_ttft", "raw_ttft")
        if any(v != v for v in rows[k])  # NaN: no content delta arrived
    ]
    return {
        "smoke": args.smoke,
        "valid": not problems,
        "problems": problems,
        "model": server.model.name,
        "threads": args.threads,
        "questions": len(rows["qa_total"]),
        **{k: ms(v) for k, v in rows.items()},
        **paired,
        "ratio_total_qa_over_raw": statistics.median(rows["qa_total"])
        / statistics.median(rows["raw_total"]),
        "server_peak_rss_mb": server_mb,
        "qa_process_peak_rss_mb": own_memory_mb()["VmHWM"],
    }


def render(res: dict[str, Any]) -> str:
    rows = [
        [what, res[key]["median_ms"], res[key]["p90_ms"], res[key]["max_ms"]]
        for key, what in (
            ("raw_ttft", "raw SDK: first token"),
            ("qa_ttft", "qa: first token shown"),
            ("ttft_overhead", "qa − raw (paired), first token"),
            ("raw_total", "raw SDK: whole answer"),
            ("qa_total", "qa: verified answer"),
            ("total_overhead", "qa − raw (paired), whole answer"),
        )
    ]
    head = (
        f"## Local model ({res['model']}, {res['threads'] or 'default'} threads): "
        f"{res['questions']} questions\n\n"
    )
    tail = (
        f"\n\nserver peak RSS {res['server_peak_rss_mb']:.0f} MiB; qa process peak RSS "
        f"{res['qa_process_peak_rss_mb']:.0f} MiB; qa/raw total (medians) "
        f"{res['ratio_total_qa_over_raw']:.2f}"
    )
    return head + table(["measure", "median ms", "p90 ms", "max ms"], rows) + tail


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for llm_local.json")
    p.add_argument("--smoke", action="store_true", help="2 questions")
    p.add_argument("--questions", type=int, help="measured questions (default 12)")
    p.add_argument("--threads", type=int, default=2, help="server threads (default 2)")
    p.add_argument("--cache", type=Path, help="cache folder (default bench/.cache/llm-local)")
    args = p.parse_args()
    res = run(args)
    report("llm_local", res, render(res), out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
