"""A store of N chunks, end to end: cold ``qa ask``, warm asks, peak RSS, one-edit re-sync, disk.

    python bench/scale.py --chunks 100000
    python bench/scale.py --chunks 1000 --smoke

The store is built once (cached in ``bench/.cache/scale/N``) the way a sync stores it, by
``bench/query.py``'s builder: files of real English sentences from the SQuAD/XQuAD documents,
chunks with offsets and sentence spans, and real vectors of the default embedder (each chunk's
vector is the normalised mean of its sentences' vectors, each pool sentence embedded once).
Every measure runs in a fresh process, as a user meets it:

- cold ask: ``qa ask QUESTION --offline`` wall time, median of 5 (different questions), and
  the largest peak RSS of those processes (``wait4``);
- warm ask: one process opens the assistant, asks 20 warm-up questions, then times 200
  SQuAD questions through ``Assistant.ask`` (p50, p95);
- one-edit re-sync: one file's last chunk rewritten, then ``qa index`` timed; the file is
  put back and synced again (untimed), so the cached store stays as built; the same edit in
  the warm process (``Assistant.sync``), then a second edit of another file there;
- disk: the store folder's size.

The last line printed is the summary the issue asks for:
``scale: N chunks; cold qa ask median X s; warm ask p50 Y ms; p95 Z ms; peak RSS R MiB;
one-edit resync E s; disk D MiB``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, DATA, RESULTS, own_memory_mb, percentile, report, table, timed
from query import build, pool_vectors, sentence_pool

COLD_RUNS = 5
WARMUP = 20


def questions(n: int) -> list[str]:
    """``n`` SQuAD 1.1 dev questions, seeded."""
    rows = [json.loads(x) for x in (DATA / "squad11_dev/questions.jsonl").open()]
    return [r["question"] for r in random.Random(0).sample(rows, n)]


def qa_command(folder: Path, *args: str) -> list[str]:
    """``qa --store STORE ARGS`` with this interpreter's ``qa`` script."""
    script = Path(sys.executable).with_name("qa")
    return [str(script), "--store", str(folder / "store"), *args]


def run_timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB, from ``wait4``) and stdout of one fresh process."""
    env = os.environ | {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            tail = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {tail}")
        return seconds, usage.ru_maxrss / 1024, out.read().decode()


def cold_asks(folder: Path, qs: list[str]) -> dict[str, Any]:
    """``qa ask --offline`` in fresh processes: wall times and peak RSS."""
    times, rss = [], []
    for q in qs[:COLD_RUNS]:
        seconds, peak, _ = run_timed(
            qa_command(folder, "ask", q, "--folder", str(folder / "corpus"), "--offline")
        )
        times.append(seconds)
        rss.append(peak)
    return {
        "cold_ask_s": times,
        "cold_ask_median_s": statistics.median(times),
        "cold_peak_rss_mb": max(rss),
    }


def warm(folder: Path, qs: list[str], smoke: bool) -> dict[str, Any]:
    """(child process) open the assistant, warm up, time ``ask`` per question."""
    import qa

    open_s, assistant = timed(
        lambda: qa.Assistant.from_folder(folder / "corpus", sync=False, store=folder / "store")
    )
    first_s, _ = timed(lambda: assistant.ask(qs[0]))
    for q in qs[1 : WARMUP + 1]:
        assistant.ask(q)
    asked = [timed(lambda q=q: assistant.ask(q)) for q in qs[WARMUP + 1 :]]
    times = [seconds for seconds, _ in asked]
    kept = assistant.store.lexical.sentence_count()
    answers = {q: answer.to_dict() for q, (_, answer) in zip(qs[WARMUP + 1 :], asked, strict=True)}
    paired = embedding_sentences(assistant, answers) if kept else {}
    # What grows with the store: retrieval alone (query embedding, Chroma's HNSW, the lexical
    # index, fetching the kept chunks), and the query embedding it includes.
    retriever = assistant.retriever
    retrieval = [timed(lambda q=q: retriever.retrieve(q))[0] for q in qs[WARMUP + 1 :]]
    embed = [timed(lambda q=q: assistant.embedder.embed_query([q]))[0] for q in qs[WARMUP + 1 :]]
    pool = sentence_pool(limit=300 if smoke else None)
    resync_warm = one_edit_warm(assistant, folder, pool)
    # A second edit, of another file, in the same process.
    resync_again = one_edit_warm(assistant, folder, pool, at=0.25)
    return {
        "chunks": assistant.store.count(),
        "embedder": assistant.embedder.name,
        "sentence_vectors": kept,
        **paired,
        "open_s": open_s,
        "first_ask_s": first_s,
        "warm_questions": len(times),
        "warm_p50_ms": 1000 * percentile(times, 50),
        "warm_p95_ms": 1000 * percentile(times, 95),
        "retrieval_p50_ms": 1000 * percentile(retrieval, 50),
        "retrieval_p95_ms": 1000 * percentile(retrieval, 95),
        "query_embed_p50_ms": 1000 * percentile(embed, 50),
        "resync_warm_s": resync_warm,
        "resync_warm_again_s": resync_again,
    }


def embedding_sentences(assistant: Any, answers: dict[str, Any]) -> dict[str, Any]:
    """(a store with sentence vectors) The same questions again, in the same process, with the
    evidence's sentences embedded per question instead of read (its caches emptied first):
    the baseline of the same run. Also how many answers came out the same as ``answers``."""
    evidence = assistant.evidence
    read, evidence.stored_vectors = evidence.stored_vectors, None
    evidence.forget_vectors()
    times, same = [], 0
    for q, before in answers.items():
        seconds, answer = timed(lambda q=q: assistant.ask(q))
        times.append(seconds)
        same += answer.to_dict() == before
    evidence.stored_vectors = read
    evidence.forget_vectors()
    return {
        "embedding_sentences_p50_ms": 1000 * percentile(times, 50),
        "embedding_sentences_p95_ms": 1000 * percentile(times, 95),
        "answers_same": same,
        "answers_compared": len(answers),
    }


def phases(folder: Path, question: str) -> list[dict[str, Any]]:
    """(child process) Where a cold ask's time and memory go: what ``qa ask`` does, step by
    step, with the seconds of each step and the resident memory after it."""
    steps: list[dict[str, Any]] = []

    def step(name: str, fn: Any) -> Any:
        seconds, value = timed(fn)
        memory = own_memory_mb()
        steps.append({"phase": name, "s": seconds, "rss_mb": memory["VmRSS"],
                      "peak_mb": memory["VmHWM"]})  # fmt: skip
        return value

    qa = step("import qa", lambda: __import__("qa"))
    settings = qa.Settings(corpus=folder / "corpus", store=folder / "store", answerer="extractive")
    assistant = step("open the store", lambda: qa.Assistant(settings))
    step("no-op sync (scan the folder)", assistant.sync)
    step("load the embedder, embed the question", lambda: assistant.evidence.vectors([question]))
    step("first retrieval (Chroma loads its index)", lambda: assistant.retriever.retrieve(question))
    step("answer (evidence, citations)", lambda: assistant.ask(question))
    return steps


def edited(folder: Path, pool: list[str], at: float = 0.5) -> tuple[Path, bytes, str]:
    """The file one edit rewrites (``at``: where in the sorted list), its bytes, and its text
    with the last chunk replaced."""
    files = sorted((folder / "corpus").rglob("*.txt"))
    path = files[int(len(files) * at)]
    original = path.read_bytes()
    lines = original.decode("utf-8").split("\n")
    rng = random.Random(len(files))
    lines[-2] = " ".join(pool[rng.randrange(len(pool))] for _ in range(7))
    return path, original, "\n".join(lines)


def put_back(path: Path, original: bytes) -> None:
    path.write_bytes(original)
    os.utime(path, ns=(time.time_ns(), time.time_ns()))


def synced_by_qa(path: Path, original: bytes, sync: Any) -> None:
    """Have ``path``'s chunks be the ones a sync of it makes: the builder wrote chunks of its
    own (10 per file), which a sync of the file would not find again; so the file is changed
    and put back, each time followed by ``sync()``. Untimed."""
    path.write_bytes(original + b"\n")
    sync()
    put_back(path, original)
    sync()


def one_edit(folder: Path, pool: list[str]) -> dict[str, Any]:
    """Rewrite the last chunk of one file, time ``qa index`` (a fresh process: interpreter,
    imports, store open, sync); then put the file back."""
    path, original, text = edited(folder, pool)
    index = qa_command(folder, "index", str(folder / "corpus"), "--json")
    synced_by_qa(path, original, lambda: run_timed(index))
    try:
        path.write_text(text, encoding="utf-8")
        seconds, _, out = run_timed(index)
        sync = json.loads(out)
    finally:
        put_back(path, original)
        run_timed(index)
    return {"resync_s": seconds, "resync_updated": sync["updated"],
            "resync_chunks_embedded": sync["chunks_embedded"],
            "resync_chunks_reused": sync.get("chunks_reused", 0)}  # fmt: skip


def one_edit_warm(assistant: Any, folder: Path, pool: list[str], at: float = 0.5) -> float:
    """The same edit synced by a process that has the store open (``qa serve``, the API)."""
    path, original, text = edited(folder, pool, at)
    synced_by_qa(path, original, assistant.sync)
    try:
        path.write_text(text, encoding="utf-8")
        seconds, report = timed(assistant.sync)
        assert report.updated == [path.relative_to(folder / "corpus").as_posix()], report
    finally:
        put_back(path, original)
        assistant.sync()
    return float(seconds)


def disk_mb(folder: Path) -> float:
    """Size of the files under ``folder`` in MiB."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def run(args: argparse.Namespace) -> dict[str, Any]:
    cache = CACHE / ("scale-smoke" if args.smoke else "scale")
    folder = cache / (f"{args.chunks}-sentences" if args.sentence_vectors else str(args.chunks))
    pool = sentence_pool(limit=300 if args.smoke else None)
    vectors = pool_vectors(pool, CACHE / ("query-smoke" if args.smoke else "query"))
    built = folder / "scale-build.json"
    if not built.exists() or stopped(folder):
        before = json.loads(built.read_text()) if built.exists() else {}
        seconds, _ = timed(
            lambda: build(args.chunks, folder, pool, vectors, sentences=args.sentence_vectors)
        )
        # Once, before any reader: a store written without a sync is brought up to date here.
        run_timed(qa_command(folder, "index", str(folder / "corpus")))
        times = {"store_build_s": seconds}
        if before:  # a stopped build, gone on with: the time of both parts
            times = {"store_build_s": before["store_build_s"] + seconds,
                     "store_build_parts_s": [before["store_build_s"], seconds]}  # fmt: skip
        built.write_text(json.dumps(times))
    qs = questions(WARMUP + 1 + args.questions)
    res: dict[str, Any] = {"chunks_requested": args.chunks, **json.loads(built.read_text())}
    res |= cold_asks(folder, qs[::-1])
    keep(folder, res)
    child = [sys.executable, __file__, "--chunks", str(args.chunks), "--warm", str(folder),
             "--questions", str(args.questions)] + (["--smoke"] if args.smoke else [])  # fmt: skip
    res |= child_json(child, "the warm measure")
    keep(folder, res)
    res["cold_phases"] = cold_phases(folder, qs[-1])
    keep(folder, res)
    res |= one_edit(folder, pool)
    res["disk_mb"] = disk_mb(folder / "store")
    return res


def stopped(folder: Path) -> bool:
    """Whether the store's build was stopped before it had all its chunks."""
    done = folder / "built.json"
    return done.exists() and "stopped" in json.loads(done.read_text())


def keep(folder: Path, res: dict[str, Any]) -> None:
    """What is measured so far, in ``folder/measured.json``: a long run stopped keeps it."""
    (folder / "measured.json").write_text(json.dumps(res, indent=1))


def cold_phases(folder: Path, question: str) -> list[dict[str, Any]]:
    """``phases`` in a fresh process."""
    child = [sys.executable, __file__, "--phases", str(folder), "--question", question]
    steps: list[dict[str, Any]] = child_json(child, "the phases measure")
    return steps


def child_json(cmd: list[str], what: str) -> Any:
    """Run a measuring child process; the JSON of its last line."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(res: dict[str, Any]) -> str:
    return (
        f"scale: {res['chunks_requested']} chunks; "
        f"cold qa ask median {res['cold_ask_median_s']:.2f} s; "
        f"warm ask p50 {res['warm_p50_ms']:.1f} ms; p95 {res['warm_p95_ms']:.1f} ms; "
        f"peak RSS {res['cold_peak_rss_mb']:.0f} MiB; one-edit resync {res['resync_s']:.2f} s; "
        f"disk {res['disk_mb']:.0f} MiB"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--chunks", type=int, default=100_000)
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--smoke", action="store_true", help="a tiny pool and 10 questions")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--tag", default="", help="suffix of the results file (e.g. 'before')")
    p.add_argument(
        "--sentence-vectors",
        action="store_true",
        help="a store whose sync keeps sentence vectors (QA_SENTENCE_VECTORS), measured with it",
    )
    p.add_argument("--warm", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--phases", type=Path, help="print a cold ask's steps on this built store")
    p.add_argument("--question", default="What year did the harbour close?")
    args = p.parse_args()
    if args.phases:
        print(json.dumps(phases(args.phases, args.question)))
        return 0
    if args.smoke:
        args.questions = min(args.questions, 10)
    if args.warm:
        qs = questions(WARMUP + 1 + args.questions)
        print(json.dumps(warm(args.warm, qs, args.smoke)))
        return 0
    # For this process and every measured child (the setting is on by default).
    os.environ["QA_SENTENCE_VECTORS"] = "true" if args.sentence_vectors else "false"
    res = run(args)
    header = ["chunks", "cold qa ask median s", "warm p50 ms", "warm p95 ms",
              "peak RSS MiB", "one-edit resync s", "disk MiB", "store build s"]  # fmt: skip
    keys = ["chunks", "cold_ask_median_s", "warm_p50_ms", "warm_p95_ms", "cold_peak_rss_mb",
            "resync_s", "disk_mb", "store_build_s"]  # fmt: skip
    row = [res[key] for key in keys]
    name = f"scale-{args.chunks}" + ("-sentences" if args.sentence_vectors else "")
    name += f"-{args.tag}" if args.tag else ""
    report("scale-smoke" if args.smoke else name, res, table(header, [row]), out=args.out)
    print(summary(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
