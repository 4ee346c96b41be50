"""Fresh subprocesses for the benches: the ``qa`` command, a hermetic environment, summaries."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import timed


def qa_command() -> list[str]:
    """The ``qa`` console script users run, else ``python -m qa.cli``."""
    script = Path(sys.executable).parent / "qa"
    return [str(script)] if script.exists() else [sys.executable, "-m", "qa.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without a developer's ``QA_*``/``OPENAI_*`` settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    return {**env, **extra}


def run_timed(
    cmd: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float = 600
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall seconds of ``cmd`` from spawn to exit, and its result; fails on a non-zero exit."""
    seconds, done = timed(
        lambda: subprocess.run(
            list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds, done


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of ``values`` (seconds), with every run kept."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": [round(v, 4) for v in values],
    }


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ask_api(url: str, question: str) -> dict[str, Any]:
    """``question`` through a running ``qa serve``'s ``/ask`` endpoint (Gradio's two-step
    call API): the answer's dict, or ``{"error": …}`` when the call did not complete."""
    import json
    import urllib.request

    body = json.dumps({"data": [question]}).encode()
    request = urllib.request.Request(
        f"{url}gradio_api/call/ask", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        event = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/ask/{event}", timeout=60) as response:
        stream = response.read().decode("utf-8")
    if "event: complete" not in stream:
        return {"error": stream[-300:]}
    data = stream.split("event: complete", 1)[1].split("data:", 1)[1].strip()
    return dict(json.loads(data)[0])
