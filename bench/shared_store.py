"""A server answering while another process re-indexes edited files: consistency under load.

    python bench/shared_store.py [--out DIR] [--smoke] [--seconds S] [--rate Q]

``qa serve`` over a copy of ``seeds/`` plus two files, ``gauge.txt`` and ``meter.txt``, whose
numbers change together: in round k both say k. A writer process rewrites both (a line
prepended each round, so every offset moves) and runs ``qa index`` in a loop, while a client
asks the server ``--rate`` questions a second about both files (``--pause`` seconds between
rounds: while a file is edited and not yet indexed, its answers are withheld). Every answer
is checked: no error; every quote equal to its file's text at its offsets in the version of
that round; the two files' numbers in one answer from the same round (the old state or the
new, never a mix).
The hashing embedder: the model is not what is measured.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import CACHE, RESULTS, ROOT, report, table
from subproc import ask_api, clean_env, free_port, qa_command

QUESTION = "What did the gauge and the meter read in the last round?"
NUMBER = re.compile(r"read (\d+) ")


def version(name: str, k: int) -> str:
    """The text of ``gauge.txt`` or ``meter.txt`` in round ``k`` (longer every round)."""
    unit = "litres" if name == "gauge.txt" else "volts"
    what = "gauge" if name == "gauge.txt" else "meter"
    head = "".join(f"Round {i} was logged.\n" for i in range(k))
    return f"{head}In the last round the {what} read {k} {unit} at the dam.\n"


def _ask(url: str) -> dict[str, Any]:
    return ask_api(url, QUESTION)


def check(answer: dict[str, Any], rounds: dict[str, list[str]], now: range) -> list[str]:
    """What is wrong with one answer: a quote not at its offsets in its file as it was while
    the question was answered (rounds ``now``), or numbers from two rounds."""
    problems, seen = [], set()
    for c in answer.get("citations", []):
        texts = rounds.get(c["source"])
        if texts is None:
            continue  # a seed file: never edited
        found = [k for k in now if texts[k][c["start"] : c["end"]] == c["quote"]]
        if not found:
            problems.append(
                f"{c['source']}: quote not at {c['start']}-{c['end']} in the file as it was "
                f"(rounds {now.start}-{now.stop - 1})"
            )
        number = NUMBER.search(c["quote"])
        if number:
            seen.add(int(number.group(1)))
    if len(seen) > 1:
        problems.append(f"numbers from rounds {sorted(seen)} in one answer")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--cache", type=Path, default=CACHE / "shared_store")
    parser.add_argument("--smoke", action="store_true", help="10 s")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=10.0, help="questions a second")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between rounds")
    args = parser.parse_args()
    seconds = 10.0 if args.smoke else args.seconds
    shutil.rmtree(args.cache, ignore_errors=True)
    corpus, store = args.cache / "seeds", args.cache / "store"
    shutil.copytree(ROOT / "seeds", corpus)
    rounds: dict[str, list[str]] = {"gauge.txt": [], "meter.txt": []}
    for name in rounds:
        rounds[name].append(version(name, 0))
        (corpus / name).write_text(rounds[name][0], encoding="utf-8")
    env = clean_env(QA_EMBEDDER="hashing", PYTHONUNBUFFERED="1")
    index = [*qa_command(), "--store", str(store), "index", str(corpus)]
    subprocess.run(index, env=env, check=True, capture_output=True)

    port = free_port()
    serve = [*qa_command(), "--store", str(store), "serve", "--port", str(port), "--offline"]
    server = subprocess.Popen(
        [*serve, "--folder", str(corpus)], env=env, stdout=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}/"
    results: list[dict[str, Any]] = []
    stop = threading.Event()
    reindexed = 0
    written = 0  # the round whose text is on disk

    def writer() -> None:
        nonlocal reindexed, written
        k = 0
        while not stop.is_set():
            k += 1
            for name in rounds:
                rounds[name].append(version(name, k))
            written = k  # from here on, a file may hold round k
            for name in rounds:
                (corpus / name).write_text(rounds[name][k], encoding="utf-8")
            done = subprocess.run(index, env=env, capture_output=True, text=True)
            reindexed += done.returncode == 0
            stop.wait(args.pause)

    try:
        assert server.stdout is not None
        for line in server.stdout:
            if "running at" in line:
                break

        def timed_ask() -> dict[str, Any]:
            first = written
            answer = _ask(url)
            return {**answer, "rounds": (max(first - 1, 0), written)}

        thread = threading.Thread(target=writer)
        thread.start()
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            futures = []
            n = 0
            while time.monotonic() - started < seconds:
                futures.append(pool.submit(timed_ask))
                n += 1
                time.sleep(max(0.0, started + n / args.rate - time.monotonic()))
            for future in futures:
                try:
                    results.append(future.result())
                except Exception as exc:  # an HTTP failure counts as an error
                    results.append({"error": repr(exc)})
        elapsed = time.monotonic() - started
        stop.set()
        thread.join()
    finally:
        server.terminate()
        server.wait(timeout=30)

    errors = [r["error"] for r in results if "error" in r]
    answered = [r for r in results if "error" not in r]
    withheld = [r for r in answered if r.get("abstained") and r.get("notice")]
    wrong = [
        (r["text"][:80], p)
        for r in answered
        for p in check(r, rounds, range(r["rounds"][0], r["rounds"][1] + 1))
    ]
    cited = [r for r in answered if r.get("citations")]
    problems = [f"{len(errors)} errors"] if errors else []
    problems += [f"{len(wrong)} answers off their offsets or mixed"] if wrong else []
    rows = [
        ["questions asked", len(results)],
        ["questions a second", len(results) / elapsed],
        ["re-index rounds by the other process", reindexed],
        ["errors", len(errors)],
        ["answers with citations", len(cited)],
        ["answers withheld (file changed, not yet indexed)", len(withheld)],
        ["quotes off their offsets or rounds mixed", len(wrong)],
    ]
    text = f"## A server asked {args.rate:g}/s for {seconds:g} s while re-indexing\n\n"
    text += table(["figure", "value"], rows)
    report(
        "shared_store",
        {
            "smoke": args.smoke,
            "seconds": seconds,
            "rate": args.rate,
            "figures": {str(r[0]): r[1] for r in rows},
            "error_samples": errors[:5],
            "wrong_samples": wrong[:5],
            "valid": not problems,
            "problems": problems,
        },
        text,
        out=args.out,
    )


if __name__ == "__main__":
    main()
