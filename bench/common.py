"""Shared helpers for the benches: timing, percentiles, peak RSS, machine notes, output.

Every bench prints a markdown table and writes ``bench/results/<name>.json`` holding its
figures, the baseline measured in the same run, their ratio, and notes on the machine.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
CACHE = BENCH / ".cache"
DATA = ROOT.parent / "shared" / "benchmarks"


def smoke_corpus(
    docs: Path, rows: list[dict[str, Any]], target: Path, files: int = 2
) -> tuple[Path, list[dict[str, Any]]]:
    """For ``--smoke``: the first ``files`` documents copied into ``target``, and the
    questions (``rows``) about them."""
    keep = sorted(docs.glob("*.txt"))[:files]
    target.mkdir(parents=True, exist_ok=True)
    for path in keep:
        shutil.copy(path, target / path.name)
    names = {path.name for path in keep}
    return target, [r for r in rows if Path(r["source_file"]).name in names]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``fn`` took, and what it returned."""
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1])


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    In a child process this starts at the parent's peak (the fork's copy survives the exec):
    measure a child with ``own_memory_mb()["VmHWM"]`` instead."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_memory_mb() -> dict[str, float]:
    """This process's own ``VmRSS`` and ``VmHWM`` (peak since exec or ``reset_peak()``), MiB."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux: the peak so far stands in for both
        return {"VmRSS": peak_rss_mb(), "VmHWM": peak_rss_mb()}
    found = re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M)
    return {k: int(v) / 1024 for k, v in found}


def reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux: ``5`` to ``/proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "load_1min_at_start": load,
        "git_commit": _git_commit(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        return out.stdout.strip() or None
    except OSError:
        return None


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def report(name: str, result: dict[str, Any], text: str, *, out: Path = RESULTS) -> Path:
    """Print ``text`` and write ``result`` (plus machine notes) to ``out/<name>.json``."""
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    payload = {"bench": name, "argv": sys.argv[1:], "machine": machine(), **result}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path
