"""Re-sync: a no-op sync of an unchanged corpus of 10,000 small files; one edited file among them.

    python bench/resync.py [--out DIR] [--smoke] [--files N] [--repeats N] [--embedder NAME]

A seeded corpus (a few SQuAD v1.1 dev sentences per file, 20 sub-folders) and its store are
built once under ``bench/.cache/resync/``. Each measurement runs in a fresh subprocess: a
worker (this script with ``--worker``) timing ``import``, ``Assistant`` construction and
``assistant.sync()`` separately, and the ``qa index`` command's whole wall time. Baselines of
the same run: ``os.walk`` + ``stat`` of the same tree (the floor) and the full initial build
(or the cached build's recorded time, marked as such). Targets: no-op ≤ 1 s, one edit ≤ 2 s,
judged on the in-process ``assistant.sync()`` median.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from common import CACHE, DATA, RESULTS, ROOT, peak_rss_mb, report, table, timed
from subproc import clean_env, qa_command, run_timed, summary

FOLDERS = 20
TARGET_NOOP_S = 1.0
TARGET_EDIT_S = 2.0
_SUMMARY = re.compile(r"(\d+) added, (\d+) updated, (\d+) removed, (\d+) unchanged")


def sentences() -> tuple[str, list[str]]:
    """Realistic sentences: SQuAD v1.1 dev articles, else the project's seeds."""
    folder = DATA / "squad11_dev" / "docs"
    if not folder.is_dir():
        folder = ROOT / "seeds"
    out = []
    for path in sorted(folder.glob("*.txt")):
        for para in path.read_text(encoding="utf-8").splitlines():
            out += [s for s in re.split(r"(?<=[.!?])\s+", para) if 40 <= len(s) <= 300]
    return str(folder.relative_to(ROOT.parent)), out


def source_of(i: int) -> str:
    """Relative path of the i-th generated file."""
    return f"d{i % FOLDERS:02d}/note_{i:05d}.txt"


def ensure_corpus(cache: Path, files: int, seed: int) -> dict[str, Any]:
    """Generate the corpus once (seeded); a cache made with other parameters is rebuilt."""
    manifest = cache / "corpus.json"
    origin, pool = sentences()
    wanted = {"files": files, "folders": FOLDERS, "seed": seed, "sentences_from": origin}
    if manifest.exists() and json.loads(manifest.read_text())["params"] == wanted:
        return dict(json.loads(manifest.read_text()))
    shutil.rmtree(cache, ignore_errors=True)
    rng = random.Random(seed)
    size = 0
    for i in range(files):
        path = cache / "corpus" / source_of(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = " ".join(rng.sample(pool, rng.randint(2, 5))) + "\n"
        size += path.write_text(text, encoding="utf-8")
    info = {"params": wanted, "bytes": size, "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    manifest.write_text(json.dumps(info, indent=2))
    return info


def walk_stat(root: Path) -> int:
    """The floor of any re-sync: list the tree and ``stat`` every file."""
    n = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            os.stat(os.path.join(dirpath, name))
            n += 1
    return n


def worker(corpus: Path, store: Path, embedder: str, warm: Path | None = None) -> None:
    """In a fresh process: time the floor, the imports, construction and one sync; print JSON."""
    walk_s, walked = timed(lambda: walk_stat(corpus))
    import_s, _ = timed(lambda: importlib.import_module("qa.assistant"))
    import qa

    construct_s, assistant = timed(
        lambda: qa.Assistant.from_folder(corpus, store=store, sync=False, embedder=embedder)
    )
    sync_s, rep = timed(assistant.sync)
    counts = {k: len(v) for k, v in rep.to_dict().items() if isinstance(v, list)}
    out = {"walk_s": walk_s, "walked": walked, "import_s": import_s, "construct_s": construct_s}
    if warm is not None:  # a second edit in this now warm process (a server, an API user)
        original = warm.read_bytes()
        try:
            warm.write_bytes(original + b"One more sentence for the warm edit.\n")
            out["warm_edit_sync_s"], again = timed(assistant.sync)
            out["warm_edit_updated"] = len(again.updated)
        finally:
            warm.write_bytes(original)
            assistant.sync()
    out |= {"sync_s": sync_s, "counts": counts, "updated": rep.updated}
    out |= {"chunks_embedded": rep.chunks_embedded, "chunks_stored": assistant.store.count()}
    out |= {"embedder_class": type(assistant.embedder).__name__}
    print(json.dumps(out | {"peak_rss_mb": peak_rss_mb()}))


class Bench:
    """The corpus, its store and the two ways of syncing it (worker and CLI)."""

    def __init__(self, cache: Path, embedder: str) -> None:
        self.cache, self.embedder = cache, embedder
        self.corpus = cache / "corpus"
        self.store = cache / f"store-{embedder}"
        self.env = clean_env(QA_EMBEDDER=embedder)

    def sync_worker(self, warm: Path | None = None) -> dict[str, Any]:
        cmd = [sys.executable, __file__, "--worker", "--embedder", self.embedder]
        cmd += ["--corpus", str(self.corpus), "--store", str(self.store)]
        cmd += ["--warm", str(warm)] if warm is not None else []
        _, done = run_timed(cmd, cwd=self.cache, env=self.env, timeout=7200)
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    def sync_cli(self) -> tuple[float, dict[str, int]]:
        cmd = [*qa_command(), "--store", str(self.store), "index", str(self.corpus)]
        seconds, done = run_timed(cmd, cwd=self.cache, env=self.env)
        found = _SUMMARY.search(done.stdout)
        if found is None:
            raise RuntimeError(f"no summary in qa index output:\n{done.stdout[-500:]}")
        keys = ("added", "updated", "removed", "unchanged")
        return seconds, dict(zip(keys, map(int, found.groups()), strict=True))

    def build(self, files: int) -> dict[str, Any]:
        """The full initial build, timed, unless a build of this corpus is recorded."""
        record = self.cache / f"build-{self.embedder}.json"
        if record.exists() and self.store.exists():
            return {**json.loads(record.read_text()), "measured_this_run": False}
        shutil.rmtree(self.store, ignore_errors=True)
        got = self.sync_worker()
        if got["counts"]["added"] != files:
            raise RuntimeError(f"build added {got['counts']['added']} files, not {files}")
        built = {"seconds": got["construct_s"] + got["sync_s"], "sync_s": got["sync_s"]}
        built |= {"chunks": got["chunks_stored"], "at": time.strftime("%Y-%m-%d %H:%M:%S")}
        record.write_text(json.dumps(built, indent=2))
        return {**built, "measured_this_run": True}


def run(args: argparse.Namespace) -> dict[str, Any]:
    files = args.files or (20 if args.smoke else 10_000)
    repeats = args.repeats or (1 if args.smoke else 5)
    cache = args.cache or CACHE / ("resync-smoke" if args.smoke else "resync")
    info = ensure_corpus(cache, files, args.seed)
    bench = Bench(cache, args.embedder)
    build = bench.build(files)
    # Unmeasured: repairs a store left stale by a killed run.
    prepared = None if build["measured_this_run"] else bench.sync_worker()["counts"]
    pool = sentences()[1]
    m: dict[str, list[float]] = {}
    problems: list[str] = []

    def add(key: str, value: float) -> None:
        m.setdefault(key, []).append(value)

    rss, backend = 0.0, ""
    for r in range(repeats):
        noop = bench.sync_worker()
        rss, backend = max(rss, noop["peak_rss_mb"]), noop["embedder_class"]
        for key in ("walk_s", "import_s", "construct_s", "sync_s"):
            add(f"noop_{key}", noop[key])
        cli_s, cli_counts = bench.sync_cli()
        add("noop_cli_s", cli_s)
        if noop["counts"]["unchanged"] != files or cli_counts["unchanged"] != files:
            problems.append(f"repeat {r}: not a no-op: {noop['counts']}, {cli_counts}")
        target = bench.corpus / source_of((r * 7919 + 11) % files)
        original = target.read_bytes()
        try:
            target.write_bytes(original + pool[r % len(pool)].encode() + b"\n")
            edit = bench.sync_worker(warm=bench.corpus / source_of((r * 7919 + 12) % files))
            add("edit_sync_s", edit["sync_s"])
            add("warm_edit_sync_s", edit["warm_edit_sync_s"])
            if edit["warm_edit_updated"] != 1:
                problems.append(f"repeat {r}: warm edit updated {edit['warm_edit_updated']}")
            add("edit_construct_s", edit["construct_s"])
            target.write_bytes(original + pool[-1 - r % len(pool)].encode() + b"\n")
            cli_s, cli_counts = bench.sync_cli()
            add("edit_cli_s", cli_s)
            if edit["counts"]["updated"] != 1 or cli_counts["updated"] != 1:
                problems.append(f"repeat {r}: edit sync updated {edit['counts']}, {cli_counts}")
        finally:
            target.write_bytes(original)
            bench.sync_worker()  # back to the built state, unmeasured

    s = {k: summary(v) for k, v in m.items()}
    floor, built = s["noop_walk_s"]["median"], build["seconds"]
    ratios = {
        f"{k}_over_{base}": s[k]["median"] / value
        for k in ("noop_sync_s", "noop_cli_s", "edit_sync_s", "edit_cli_s")
        for base, value in (("floor", floor), ("build", built))
    }
    noop_s, edit_s = s["noop_sync_s"]["median"], s["edit_sync_s"]["median"]
    targets = {
        "measured_against": "median in-process assistant.sync(); CLI figures include interpreter "
        "start, imports and Assistant construction",
        "noop_target_s": TARGET_NOOP_S,
        "noop_met": noop_s <= TARGET_NOOP_S,
        "noop_cli_met": s["noop_cli_s"]["median"] <= TARGET_NOOP_S,
        "edit_target_s": TARGET_EDIT_S,
        "edit_met": edit_s <= TARGET_EDIT_S,
        "edit_cli_met": s["edit_cli_s"]["median"] <= TARGET_EDIT_S,
        "warm_edit_met": s["warm_edit_sync_s"]["median"] <= TARGET_EDIT_S,
    }
    corpus = {**info["params"], "bytes": info["bytes"], "path": str(bench.corpus)}
    embedder_note = f"default embedder 'minilm' (here {backend})"
    if args.embedder != "minilm":
        embedder_note = f"{args.embedder} ({backend}) instead of the default 'minilm'"
    return {
        "smoke": args.smoke,
        "corpus": corpus,
        "embedder": args.embedder,
        "embedder_note": embedder_note,
        "repeats": repeats,
        "build": build,
        "prepare_sync_counts": prepared,
        "seconds": s,
        "ratios": ratios,
        "targets": targets,
        "valid": not problems,
        "problems": problems,
        "worker_peak_rss_mb": rss,
    }


def render(res: dict[str, Any]) -> str:
    s, build = res["seconds"], res["build"]
    floor, built = s["noop_walk_s"]["median"], build["seconds"]
    t = res["targets"]

    def row(label: str, key: str, target: str = "") -> list[object]:
        med = s[key]["median"]
        return [label, med, s[key]["max"], f"{med / floor:.1f}×", f"{med / built:.2%}", target]

    def verdict(ok: bool, limit: float) -> str:
        return f"≤ {limit:g} s: {'met' if ok else 'MISSED'}"

    n = res["corpus"]["files"]
    rows = [
        row(f"floor: os.walk + stat ({n} files)", "noop_walk_s"),
        row("no-op: import qa.assistant", "noop_import_s"),
        row("no-op: Assistant construction", "noop_construct_s"),
        row("no-op: assistant.sync()", "noop_sync_s", verdict(t["noop_met"], TARGET_NOOP_S)),
        row("no-op: `qa index` CLI wall", "noop_cli_s", verdict(t["noop_cli_met"], 1.0)),
        row("one edit: Assistant construction", "edit_construct_s"),
        row("one edit: assistant.sync()", "edit_sync_s", verdict(t["edit_met"], TARGET_EDIT_S)),
        row("one edit: `qa index` CLI wall", "edit_cli_s", verdict(t["edit_cli_met"], 2.0)),
        row(
            "one edit, warm process: assistant.sync()",
            "warm_edit_sync_s",
            verdict(t["warm_edit_met"], TARGET_EDIT_S),
        ),
    ]
    how = "this run" if build["measured_this_run"] else f"cached, recorded {build['at']}"
    rows.append([f"full build ({build['chunks']} chunks; {how})", built, "", "", "100%", ""])
    head = f"## Re-sync: {n} files, embedder {res['embedder']}, {res['repeats']} repeats\n\n"
    note = "" if res["valid"] else "\n\nINVALID: " + "; ".join(res["problems"])
    header = ["measure", "median s", "max s", "× floor", "of full build", "target"]
    return head + table(header, rows) + note


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for resync.json")
    p.add_argument("--smoke", action="store_true", help="tiny corpus, one repeat (CI)")
    p.add_argument("--files", type=int, help="corpus size (default 10000; smoke 20)")
    p.add_argument("--repeats", type=int, help="repeats (default 5; smoke 1)")
    p.add_argument("--embedder", default="minilm", help="embedder name (default minilm)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", type=Path, help="cache folder (default bench/.cache/resync)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--warm", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.corpus, args.store, args.embedder, args.warm)
        return 0
    res = run(args)
    report("resync", res, render(res), out=args.out)
    return 0 if res["valid"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
