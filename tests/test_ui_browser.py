"""The chat UI in a real browser: Debian's headless Chromium driven by Playwright.

Chromium comes from apt (``chromium``; ``.ci/run`` installs it), never from ``playwright
install``. Screenshots are saved under ``artifacts/ui/`` (gitignored) as test artefacts.
Outside CI the test is skipped when /usr/bin/chromium is missing; in CI it must run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

import qa
from tests.helpers import ROOT
from tests.test_ui_client import Server, run_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "ui"
CHROMIUM_FLAGS = [
    # --headless and --user-data-dir are passed by Playwright (headless=True, user_data_dir).
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
ANSWER_TIMEOUT_MS = 30_000

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(
        "needs Chromium from Debian at /usr/bin/chromium (apt-get install -y chromium); "
        "it is required, not skipped, in CI",
        allow_module_level=True,
    )

if not os.environ.get("CI"):
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (dev extra)")

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

# A document trying to inject markup, images, links and template syntax into the page.
HOSTILE_DOC = (
    "# Lighthouse log\n\n"
    'The Kerrow lighthouse keeper <img src="http://evil.example/pixel.png"> logged '
    "![beacon](http://evil.example/b.png) 412 storms <script>document.title='owned'</script> "
    "in one winter [details](http://evil.example/x) {{7*7}} ${7*7}.\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(
        tmp_path_factory.mktemp("ui-browser"),
        {"lighthouse.md": HOSTILE_DOC},
        QA_ANSWERER="extractive",
    ) as s:
        yield s


@pytest.fixture()
def page(tmp_path: Path, server: Server) -> Iterator[Page]:
    hosts: set[str] = set()
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # an empty profile
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 950},
        )
        try:
            page = context.new_page()
            page.on("request", lambda r: hosts.add(_host(r.url)))
            page.goto(server.url)
            expect(page.locator("#qa-question textarea")).to_be_visible(timeout=30_000)
            yield page
        finally:
            context.close()
    # Offline-first: the page never reaches for fonts, scripts or telemetry elsewhere.
    assert hosts <= {"127.0.0.1"}, hosts


def _host(url: str) -> str:
    parsed = urlparse(url)
    return parsed.hostname or "" if parsed.scheme in ("http", "https", "ws", "wss") else "127.0.0.1"


def ask(page: Page, question: str) -> Any:
    """Type ``question``, send it, wait for its final answer; returns the answer's locator."""
    answers = page.locator("#qa-chat .qa-answer:not(.qa-streaming)")
    before = answers.count()
    page.locator("#qa-question textarea").fill(question)
    page.locator("#qa-question textarea").press("Enter")
    expect(answers).to_have_count(before + 1, timeout=ANSWER_TIMEOUT_MS)
    return answers.nth(before)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def visible_turn(page: Page) -> Any:
    return page.locator("#qa-sources section.qa-turn:not([hidden])")


def test_answer_markers_open_the_highlighted_passage(page: Page) -> None:
    answer = ask(page, "How long did the previous humanitarian pause last?")
    expect(answer).to_contain_text("ten hours")
    marker = answer.locator("a.qa-ref").first
    expect(marker).to_have_text("[1]")
    marker.click()
    cited = visible_turn(page).locator("li.qa-cite.qa-active")
    expect(cited).to_have_count(1)
    expect(cited.locator(".qa-file")).to_have_text("000_2aad95338d9cee2c.txt")
    expect(cited.locator("mark")).to_be_visible()
    expect(cited.locator("mark")).to_contain_text("lasted for ten hours on November 4")
    expect(cited.locator(".qa-ctx")).to_contain_text("Obviously, the humanitarian pauses")
    shot(page, "answer-with-sources.png")

    abstention = ask(page, "What is the capital of Australia?")
    expect(abstention).to_contain_text(qa.NOT_IN_DOCUMENTS)
    expect(abstention.locator("a.qa-ref")).to_have_count(1)  # "the closest passages"
    turn = visible_turn(page)
    expect(turn.locator(".qa-turn-q")).to_have_text("What is the capital of Australia?")
    expect(turn.locator(".qa-closest li")).to_have_count(3)
    shot(page, "abstention.png")

    # The first answer's marker still works: it selects that answer's sources again.
    marker.click()
    expect(visible_turn(page).locator(".qa-turn-q")).to_contain_text("humanitarian pause")
    expect(visible_turn(page).locator("li.qa-cite.qa-active mark")).to_be_visible()


def test_follow_up_and_new_chat(page: Page) -> None:
    first = ask(page, "Where were the foreign diplomats briefed?")
    expect(first).to_contain_text("diplomats accredited in Moscow")
    follow_up = ask(page, "Who briefed them?")
    expect(follow_up).to_contain_text("Russian Defense Ministry briefed")
    follow_up.locator("a.qa-ref").first.click()
    cited = visible_turn(page).locator("li.qa-cite.qa-active")
    expect(cited.locator(".qa-file")).to_have_text("003_10f63f72620b364d.txt")
    expect(cited.locator("mark")).to_be_visible()
    expect(page.locator("#qa-sources .qa-turn-btn")).to_have_count(2)
    shot(page, "follow-up.png")

    page.locator("#qa-new-chat").click()
    expect(page.locator("#qa-chat .qa-answer")).to_have_count(0)
    expect(page.locator("#qa-sources .qa-empty")).to_be_visible()
    # An example question from the empty chat is answered at once.
    page.get_by_text("Which road could convoys from Gaziantep take into eastern Aleppo?").click()
    expect(page.locator("#qa-chat .qa-answer:not(.qa-streaming)")).to_have_count(
        1, timeout=ANSWER_TIMEOUT_MS
    )


def test_document_markup_is_shown_as_text(page: Page) -> None:
    # Not "How many storms …": Punkt ends a sentence at the "!" of "![beacon]", so "412 storms"
    # falls into the next fragment and, under e5's threshold, that question abstains.
    answer = ask(page, "What did the Kerrow lighthouse keeper log?")
    # The answer drops the document's outside image (qa.injection); the sources panel below
    # still shows the verbatim passage, markup as text.
    expect(answer).to_contain_text("The Kerrow lighthouse keeper")
    expect(answer).not_to_contain_text("evil.example")
    answer.locator("a.qa-ref").first.click()
    cited = visible_turn(page).locator("li.qa-cite.qa-active")
    expect(cited.locator("mark")).to_contain_text("The Kerrow lighthouse keeper <img")
    context = cited.locator(".qa-ctx")
    for text in ("![beacon](http://evil.example/b.png)", "412 storms <script>", "${7*7}"):
        expect(context).to_contain_text(text)
    for panel in ("#qa-chat", "#qa-sources"):
        assert page.locator(f"{panel} img, {panel} script").count() == 0
        hrefs = page.locator(f"{panel} a[href]").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"
        )
        assert all(h.startswith("#") for h in hrefs), hrefs
    assert "owned" not in page.title()
