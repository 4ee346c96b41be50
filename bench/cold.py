"""Cold start: wall time of ``qa ask --json "…"`` on a built index, and of ``qa serve`` until
the page answers 200.

    python bench/cold.py [--out DIR] [--smoke] [--runs N] [--serve-runs N]

A copy of ``seeds/`` and its own store live in ``bench/.cache/cold/`` (indexed once). Every
run is a fresh subprocess with a hermetic environment (no ``QA_*``/``OPENAI_*``, so the
extractive answerer and the default embedder, e5). Baselines of the same run, interleaved
with the measured runs: ``python -c pass`` and ``python -c "import qa"`` for ``qa ask``;
``python -c "import gradio"`` for ``qa serve``. One more ``qa ask`` under ``python -X
importtime`` gives the import cost by package and proves which heavy modules (torch,
sentence-transformers, gradio, transformers) the ``qa ask`` path never loads; a worker (this
script with ``--worker``) times the same steps in-process through the public API. Target:
median cold ``qa ask`` ≤ 2.5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import CACHE, RESULTS, ROOT, report, table, timed
from subproc import clean_env, qa_command, run_timed, summary

QUESTION = "How long did the previous humanitarian pause last?"
TARGET_ASK_S = 2.5
HEAVY = ("torch", "sentence_transformers", "gradio", "transformers")
_IMPORT = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")


def ensure_index(cache: Path, env: dict[str, str]) -> dict[str, Any]:
    """A copy of seeds/ with its own store, indexed once (redone when seeds/ changed)."""
    corpus, record = cache / "seeds", cache / "build.json"
    if not _same_tree(ROOT / "seeds", corpus):
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(ROOT / "seeds", corpus)
    if record.exists() and (cache / "store").is_dir():
        return {**json.loads(record.read_text()), "measured_this_run": False}
    cmd = [*qa_command(), "--store", str(cache / "store"), "index", str(corpus)]
    seconds, _ = run_timed(cmd, cwd=cache, env=env)
    built = {"seconds": seconds, "at": time.strftime("%Y-%m-%d %H:%M:%S")}
    record.write_text(json.dumps(built))
    return {**built, "measured_this_run": True}


def _same_tree(a: Path, b: Path) -> bool:
    if not b.is_dir():
        return False
    cmp = filecmp.dircmp(a, b)
    return not (cmp.diff_files or cmp.left_only or cmp.right_only)


def importtime(stderr: str) -> dict[str, Any]:
    """Import cost by top package (self times summed), who first pulled each one in, and the
    direct imports (by ``qa``'s code or at run time, not by another import) by cumulative time.
    """
    rows = [
        (int(m[1]) / 1e6, int(m[2]) / 1e6, len(m[3]) // 2, m[4])
        for m in map(_IMPORT.match, stderr.splitlines())
        if m
    ]
    by_pkg: dict[str, float] = {}
    first: dict[str, int] = {}
    for i, (self_s, _, _, name) in enumerate(rows):
        pkg = name.split(".")[0]
        by_pkg[pkg] = by_pkg.get(pkg, 0.0) + self_s
        first.setdefault(pkg, i)

    def chain(i: int) -> list[str]:
        """The importers of row ``i``, innermost first (children print before parents)."""
        out, depth = [], rows[i][2]
        for _, _, d, name in rows[i + 1 :]:
            if depth == 0:
                break
            if d < depth:
                out.append(name)
                depth = d
        return out

    top = sorted(by_pkg.items(), key=lambda kv: -kv[1])[:12]
    packages = []
    for pkg, seconds in top:
        via = [n for n in chain(first[pkg]) if n.split(".")[0] != pkg]
        packages.append({"package": pkg, "self_s": round(seconds, 4), "first_imported_by": via})
    direct = sorted((r for r in rows if r[2] == 0), key=lambda r: -r[1])[:10]
    names = {r[3] for r in rows}
    loaded = {h: any(n == h or n.startswith(h + ".") for n in names) for h in HEAVY}
    return {
        "total_import_s": round(sum(r[0] for r in rows), 4),
        "modules": len(rows),
        "packages": packages,
        "direct_imports": [{"module": r[3], "cumulative_s": round(r[1], 4)} for r in direct],
        "heavy_loaded": loaded,
        "onnxruntime_loaded": "onnxruntime" in names,
        "note": "python -X importtime inflates every figure; compare packages with each other",
    }


def worker(store: Path, folder: Path, question: str) -> None:
    """The steps of ``qa ask --json`` through the public API, timed one by one; prints JSON."""
    steps: dict[str, float] = {}
    mods = ("qa.cli", "qa.evals.command", "qa.assistant")  # what the CLI imports first
    steps["import_s"] = timed(lambda: [importlib.import_module(m) for m in mods])[0]
    import qa

    steps["construct_s"], assistant = timed(
        lambda: qa.Assistant(qa.Settings(store=store, corpus=folder))
    )
    steps["sync_s"] = timed(assistant.sync)[0]
    steps["first_retrieve_s"] = timed(lambda: assistant.retrieve(question))[0]
    steps["answer_s"], answer = timed(lambda: assistant.ask(question))
    json.dumps(answer.to_dict())
    heavy = [m for m in sys.modules if m.split(".")[0] in HEAVY]
    print(json.dumps({**steps, "total_s": sum(steps.values()), "heavy_modules": heavy}))


def serve_once(base: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> float:
    """Seconds from spawning ``qa serve`` until GET / answers 200; the server is then stopped."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    log = cwd / "serve.log"
    started = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*base, "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=err,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while time.perf_counter() - started < timeout:
                if proc.poll() is not None:
                    raise RuntimeError(f"qa serve exited {proc.returncode}:\n{log.read_text()}")
                try:
                    with opener.open(url, timeout=5) as page:
                        if page.status == 200:
                            return time.perf_counter() - started
                except OSError:
                    pass
                time.sleep(0.05)
            raise RuntimeError(f"qa serve did not answer in {timeout} s:\n{log.read_text()}")
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (it was started in its own session)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            if proc.poll() is None:
                os.killpg(proc.pid, sig)
                proc.wait(15)


def run(args: argparse.Namespace) -> dict[str, Any]:
    runs = args.runs or (1 if args.smoke else 7)
    serve_runs = args.serve_runs or (1 if args.smoke else 3)
    cache = args.cache or CACHE / ("cold-smoke" if args.smoke else "cold")
    env = clean_env()
    build = ensure_index(cache, env)
    qa_cmd = [*qa_command(), "--store", str(cache / "store")]
    ask = [*qa_cmd, "ask", "--json", "--folder", str(cache / "seeds"), QUESTION]
    py = sys.executable
    m: dict[str, list[float]] = {"python": [], "import_qa": [], "ask": []}
    steps: dict[str, list[float]] = {}
    problems = []
    me = [py, __file__, "--worker", "--cache", str(cache)]
    for _ in range(runs):
        got = json.loads(run_timed(me, cwd=cache, env=env)[1].stdout.splitlines()[-1])
        if got.pop("heavy_modules"):
            problems.append("heavy modules loaded by the in-process qa ask steps")
        for key, value in got.items():
            steps.setdefault(key, []).append(value)
        m["python"].append(run_timed([py, "-c", "pass"], cwd=cache, env=env)[0])
        m["import_qa"].append(run_timed([py, "-c", "import qa"], cwd=cache, env=env)[0])
        seconds, done = run_timed(ask, cwd=cache, env=env)
        m["ask"].append(seconds)
        answer = json.loads(done.stdout)
        if not answer.get("text") or not answer.get("citations") or answer.get("abstained"):
            problems.append(f"qa ask did not answer with a citation: {done.stdout[:300]}")
    head = ask if ask[0] == py else [py, *ask]
    traced = run_timed([head[0], "-X", "importtime", *head[1:]], cwd=cache, env=env)[1]
    imports = importtime(traced.stderr)
    if any(imports["heavy_loaded"].values()):
        problems.append(f"heavy modules on the qa ask path: {imports['heavy_loaded']}")
    m |= {"import_gradio": [], "serve": []}
    for _ in range(serve_runs):
        m["import_gradio"].append(run_timed([py, "-c", "import gradio"], cwd=cache, env=env)[0])
        m["serve"].append(
            serve_once([*qa_cmd, "serve", "--folder", str(cache / "seeds")], cache, env)
        )
    s = {k: summary(v) for k, v in m.items()}
    s |= {f"ask_step_{k}": summary(v) for k, v in steps.items()}
    med = {k: v["median"] for k, v in s.items()}
    return {
        "smoke": args.smoke,
        "question": QUESTION,
        "answer": {"text": answer.get("text"), "citations": len(answer.get("citations", []))},
        "build": build,
        "seconds": s,
        "ratios": {
            "ask_over_python": med["ask"] / med["python"],
            "ask_over_import_qa": med["ask"] / med["import_qa"],
            "ask_minus_import_qa_s": med["ask"] - med["import_qa"],
            "ask_minus_in_process_steps_s": med["ask"] - med["ask_step_total_s"],
            "serve_over_import_gradio": med["serve"] / med["import_gradio"],
            "serve_minus_import_gradio_s": med["serve"] - med["import_gradio"],
        },
        "targets": {"ask_target_s": TARGET_ASK_S, "ask_met": med["ask"] <= TARGET_ASK_S},
        "ask_imports": imports,
        "valid": not problems,
        "problems": problems,
    }


def render(res: dict[str, Any]) -> str:
    s = res["seconds"]
    py, iq = s["python"]["median"], s["import_qa"]["median"]

    def row(label: str, key: str, note: str = "") -> list[object]:
        v = s[key]
        ratio = f"{v['median'] / py:.0f}×"
        return [label, len(v["runs"]), v["median"], v["min"], v["max"], ratio, note]

    met = "met" if res["targets"]["ask_met"] else "MISSED"
    rows = [
        row("python -c pass", "python"),
        row('python -c "import qa"', "import_qa"),
        row(
            "qa ask --json",
            "ask",
            f"≤ {TARGET_ASK_S} s: {met}; {s['ask']['median'] / iq:.1f}× import qa",
        ),
        *(
            row(f"  in-process step: {k.removeprefix('ask_step_')}", k)
            for k in s
            if k.startswith("ask_step_")
        ),
        row('python -c "import gradio"', "import_gradio"),
        row(
            "qa serve until GET / = 200",
            "serve",
            f"−import gradio: {res['ratios']['serve_minus_import_gradio_s']:.2f} s",
        ),
    ]
    header = ["measure", "runs", "median s", "min s", "max s", "× python start", "note"]
    imp = res["ask_imports"]
    pk = [
        [p["package"], p["self_s"], " ← ".join(p["first_imported_by"][:4]) or "(direct)"]
        for p in imp["packages"]
    ]
    heavy = ", ".join(
        f"{k}: {'LOADED' if v else 'not loaded'}" for k, v in imp["heavy_loaded"].items()
    )
    text = "## Cold start\n\n" + table(header, rows)
    text += f"\n\n### `qa ask` imports (-X importtime, total {imp['total_import_s']:.2f} s, "
    text += f"{imp['modules']} modules)\n\n" + table(["package", "self s", "first imported by"], pk)
    direct = ", ".join(
        f"{d['module']} {d['cumulative_s']:.2f} s" for d in imp["direct_imports"][:6]
    )
    text += f"\n\nDirect imports (cumulative): {direct}"
    text += f"\n\nOn the `qa ask` path — {heavy}; onnxruntime: "
    text += "loaded" if imp["onnxruntime_loaded"] else "not loaded"
    return text + ("" if res["valid"] else "\n\nINVALID: " + "; ".join(res["problems"]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for cold.json")
    p.add_argument("--smoke", action="store_true", help="one run of each (CI)")
    p.add_argument("--runs", type=int, help="qa ask runs (default 7; smoke 1)")
    p.add_argument("--serve-runs", type=int, help="qa serve runs (default 3; smoke 1)")
    p.add_argument("--cache", type=Path, help="cache folder (default bench/.cache/cold)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.cache / "store", args.cache / "seeds", QUESTION)
        return 0
    res = run(args)
    report("cold", res, render(res), out=args.out)
    return 0 if res["valid"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
