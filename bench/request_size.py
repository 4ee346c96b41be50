"""Memory of ``qa serve`` under oversized API requests, with and without the body bound.

    python bench/request_size.py [--out DIR] [--smoke] [--posts N] [--mb M]

Starts ``qa serve`` twice over a copy of ``seeds/`` (the hashing embedder: the model is not
what is measured), once with ``QA_UI_MAX_REQUEST_BYTES`` at 1 GiB (the bound out of the way:
how the server behaved before it had one) and once with the default (512 KiB). Each gets
``--posts`` POSTs of an ``--mb`` MB JSON body to ``/gradio_api/call/ask``, four at a time,
then one ordinary question. Reported per server: RSS before, peak RSS (VmHWM) and RSS after,
status codes, and whether the question was still answered. Target: with the bound, peak RSS
grows by less than 10 % of what it grows without it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import CACHE, RESULTS, ROOT, report, table
from subproc import ask_api, clean_env, free_port, qa_command

UNBOUNDED = 1 << 30
QUESTION = "How long did the previous humanitarian pause last?"


def _memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of ``pid``, in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M))
    return {key: int(value) / 1024 for key, value in found.items()}


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, ConnectionError) as exc:  # the server closed early
        return 0 if "reset" in str(exc).lower() or "broken" in str(exc).lower() else -1


def _ask(url: str) -> bool:
    return "ten hours" in ask_api(url, QUESTION).get("text", "")


def measure(corpus: Path, store: Path, bound: int | None, posts: int, mb: float) -> dict[str, Any]:
    """One server: memory before, peak and after the oversized POSTs."""
    port = free_port()
    extra = {"QA_EMBEDDER": "hashing", "QA_STORE": str(store), "PYTHONUNBUFFERED": "1"}
    if bound is not None:
        extra["QA_UI_MAX_REQUEST_BYTES"] = str(bound)
    cmd = [*qa_command(), "serve", "--port", str(port), "--folder", str(corpus), "--offline"]
    proc = subprocess.Popen(
        cmd, cwd=corpus.parent, env=clean_env(**extra), stdout=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "running at" in line:
                break
        time.sleep(1.0)
        before = _memory(proc.pid)
        body = json.dumps({"data": ["x" * int(mb * 1024 * 1024)]}).encode()
        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(lambda _: _post(f"{url}gradio_api/call/ask", body), range(posts)))
        time.sleep(2.0)
        after = _memory(proc.pid)
        answered = _ask(url)
        return {
            "bound_bytes": bound or "default (512 KiB)",
            "rss_before_mb": before["VmRSS"],
            "peak_rss_mb": after["VmHWM"],
            "rss_after_mb": after["VmRSS"],
            "peak_growth_mb": after["VmHWM"] - before["VmRSS"],
            "status_codes": {str(c): codes.count(c) for c in sorted(set(codes))},
            "still_answers": answered,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--cache", type=Path, default=CACHE / "request_size")
    parser.add_argument("--smoke", action="store_true", help="3 POSTs of 2 MB")
    parser.add_argument("--posts", type=int, default=40)
    parser.add_argument("--mb", type=float, default=30.0)
    args = parser.parse_args()
    posts, mb = (3, 2.0) if args.smoke else (args.posts, args.mb)
    shutil.rmtree(args.cache, ignore_errors=True)
    corpus = args.cache / "seeds"
    shutil.copytree(ROOT / "seeds", corpus)
    index = [*qa_command(), "--store", str(args.cache / "store"), "index", str(corpus)]
    subprocess.run(index, env=clean_env(QA_EMBEDDER="hashing"), check=True, capture_output=True)
    unbounded = measure(corpus, args.cache / "store", UNBOUNDED, posts, mb)
    bounded = measure(corpus, args.cache / "store", None, posts, mb)
    ratio = bounded["peak_growth_mb"] / max(unbounded["peak_growth_mb"], 1.0)
    problems = [] if bounded["still_answers"] else ["the bounded server stopped answering"]
    rows = [
        [
            r["bound_bytes"],
            r["rss_before_mb"],
            r["peak_rss_mb"],
            r["rss_after_mb"],
            json.dumps(r["status_codes"]),
            r["still_answers"],
        ]
        for r in (unbounded, bounded)
    ]
    text = f"## qa serve under {posts} POSTs of {mb:g} MB to /gradio_api/call/ask\n\n" + table(
        ["body bound", "RSS before MiB", "peak RSS MiB", "RSS after MiB", "status", "answers"],
        rows,
    )
    text += f"\n\npeak growth with the bound / without: {ratio:.3f} (target < 0.1)"
    report(
        "request_size",
        {
            "smoke": args.smoke,
            "posts": posts,
            "mb": mb,
            "runs": [unbounded, bounded],
            "ratios": {"peak_growth_bounded_over_unbounded": ratio},
            "targets": {"peak_growth_ratio_below": 0.1, "met": ratio < 0.1},
            "valid": not problems,
            "problems": problems,
        },
        text,
        out=args.out,
    )


if __name__ == "__main__":
    main()
