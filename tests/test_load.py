"""Load: 20 concurrent ``gradio_client`` chats for 30 s against a live ``qa serve``.

The scripted LLM answers every request after 200 ms. Every chat must end in an answer or in
the service's "busy" message, none in an HTTP error or a hang; p95 latency stays bounded and
the server's resident memory stays flat. A second, short phase pushes past capacity (a slow
LLM): the chats that cannot get an answer slot are told so promptly instead of hanging.

``QATEST_LOAD_CLIENTS`` / ``QATEST_LOAD_SECONDS`` shrink it for local runs; CI runs 20 × 30 s.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from gradio_client import Client

from qa.ui.service import ANSWER_SLOTS, BUSY_MESSAGE
from tests.fake_llm import FakeLLM, Reply
from tests.test_ui_client import Server, run_server

CLIENTS = int(os.environ.get("QATEST_LOAD_CLIENTS", "20"))
SECONDS = float(os.environ.get("QATEST_LOAD_SECONDS", "30"))
LLM_DELAY_S = 0.2
BUSY_WAIT_S = 10.0  # the server's ui_busy_wait_s in this test
SLOW_LLM_S = 4.0  # phase 2: answers take this long, so most chats cannot get a slot in time
# A chat waits for one of ANSWER_SLOTS slots, behind at most CLIENTS - 1 others, each about
# one LLM reply and a little CPU: ~ CLIENTS / ANSWER_SLOTS x 0.35 s = 3.5 s at 20 clients.
P95_BOUND_S = 8.0
RSS_GROWTH_BOUND_MB = 64.0
REPLY = "The previous humanitarian pause in Aleppo lasted for ten hours on November 4 [1]."
QUESTIONS = (
    "How long did the previous humanitarian pause last?",
    "Who announced it?",
    "Where were the foreign diplomats briefed?",
)


@dataclass
class Outcome:
    """One chat call as a client saw it."""

    kind: str  # "ok", "busy" or "error"
    seconds: float
    detail: str = ""


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM(default=Reply(text=REPLY, delay_s=LLM_DELAY_S)) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLM) -> Iterator[Server]:
    with run_server(
        tmp_path_factory.mktemp("load"),
        QA_ANSWERER="openai",
        QA_LLM_BASE_URL=llm.base_url,
        QA_LLM_API_KEY="test-key",
        QA_LLM_MODEL="fake-model",
        QA_UI_BUSY_WAIT_S=str(BUSY_WAIT_S),
    ) as s:
        yield s


def chat(client: Client, question: str, limit_s: float) -> Outcome:
    started = time.monotonic()
    try:
        result = client.submit(question, api_name="/chat").result(timeout=limit_s)
    except Exception as exc:  # classified below: only the busy message is acceptable
        seconds = time.monotonic() - started
        kind = "busy" if BUSY_MESSAGE in str(exc) else "error"
        return Outcome(kind, seconds, f"{type(exc).__name__}: {exc}")
    seconds = time.monotonic() - started
    ok = isinstance(result, dict) and not result.get("partial") and result.get("text")
    return Outcome("ok" if ok else "error", seconds, "" if ok else repr(result))


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")  # pragma: no cover


def run_clients(
    clients: list[Client], body: Callable[[int, Client], list[Outcome]]
) -> list[Outcome]:
    with ThreadPoolExecutor(len(clients)) as pool:
        futures = [pool.submit(body, i, c) for i, c in enumerate(clients)]
        return [o for f in futures for o in f.result(timeout=SECONDS + 120)]


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def test_concurrent_chats_stay_fast_bounded_and_flat_in_memory(
    server: Server, llm: FakeLLM
) -> None:
    limit_s = BUSY_WAIT_S + 30 + 10  # busy wait + LLM deadline + slack: past this it hangs
    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = list(pool.map(lambda _: Client(server.url, verbose=False), range(CLIENTS)))
    pid = server.proc.pid
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            samples.append((time.monotonic(), rss_mb(pid)))

    end = time.monotonic() + SECONDS

    def converse(i: int, client: Client) -> list[Outcome]:
        out = []
        turn = i  # clients start at different points of the conversation
        while time.monotonic() < end and len(out) < 1000:
            if turn % len(QUESTIONS) == 0:
                client.predict(api_name="/new_chat")
            out.append(chat(client, QUESTIONS[turn % len(QUESTIONS)], limit_s))
            turn += 1
        return out

    sampler = threading.Thread(target=sample, daemon=True)
    requests_before = len(llm.requests)
    started = time.monotonic()
    sampler.start()
    try:
        outcomes = run_clients(clients, converse)
    finally:
        stop.set()
        sampler.join(timeout=5)
    elapsed = time.monotonic() - started

    ok = [o.seconds for o in outcomes if o.kind == "ok"]
    busy = [o for o in outcomes if o.kind == "busy"]
    errors = [o for o in outcomes if o.kind == "error"]
    warm = [rss for t, rss in samples if t - started >= min(5.0, SECONDS / 3)]
    growth = warm[-1] - warm[0] if warm else 0.0
    print(
        f"\nload: {CLIENTS} clients x {elapsed:.1f} s: {len(outcomes)} chats, {len(ok)} ok, "
        f"{len(busy)} busy, {len(errors)} errors; {len(llm.requests) - requests_before} LLM "
        f"requests; latency p50 {statistics.median(ok):.2f} s, p95 {p95(ok):.2f} s, max "
        f"{max(ok):.2f} s; RSS {warm[0] if warm else 0:.0f} -> {warm[-1] if warm else 0:.0f} MB "
        f"(growth {growth:+.1f} MB, peak {max(r for _, r in samples):.0f} MB)"
    )
    assert not errors, errors[:5]
    assert len(ok) >= CLIENTS * 2, "the server should have answered every client repeatedly"
    assert p95(ok) <= P95_BOUND_S
    assert growth <= RSS_GROWTH_BOUND_MB
    assert "Traceback" not in "".join(server.output)


def test_past_capacity_chats_are_told_busy_instead_of_hanging(server: Server, llm: FakeLLM) -> None:
    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = list(pool.map(lambda _: Client(server.url, verbose=False), range(CLIENTS)))
    llm.default = Reply(text=REPLY, delay_s=SLOW_LLM_S)
    limit_s = BUSY_WAIT_S + 30 + 10
    try:
        outcomes = run_clients(clients, lambda i, c: [chat(c, QUESTIONS[0], limit_s)])
    finally:
        llm.default = Reply(text=REPLY, delay_s=LLM_DELAY_S)
    ok = [o for o in outcomes if o.kind == "ok"]
    busy = [o for o in outcomes if o.kind == "busy"]
    errors = [o for o in outcomes if o.kind == "error"]
    print(
        f"\npast capacity: {len(ok)} ok, {len(busy)} busy, {len(errors)} errors; busy after "
        f"{min(o.seconds for o in busy):.1f}-{max(o.seconds for o in busy):.1f} s"
        if busy
        else f"\npast capacity: {len(ok)} ok, no busy, {len(errors)} errors"
    )
    assert not errors, errors[:5]
    assert busy, "with a slow LLM most chats cannot get a slot in time"
    # Answers go ANSWER_SLOTS at a time, so only a few fit in the busy wait.
    assert len(ok) <= ANSWER_SLOTS * (BUSY_WAIT_S // SLOW_LLM_S + 2)
    for o in busy:  # told promptly once the wait is over, never left hanging
        assert BUSY_WAIT_S - 0.5 <= o.seconds <= BUSY_WAIT_S + 5, o
