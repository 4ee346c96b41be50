"""The chat UI in a real browser: Debian's headless Chromium driven by Playwright.

Chromium comes from apt (``chromium``; ``.ci/run`` installs it), never from ``playwright
install``. Screenshots are saved under ``artifacts/ui/`` (gitignored) as test artefacts; with
``UI_SCREENSHOTS=dir`` the documentation's screenshots (e5 embedder, 1280x900) go to ``dir``
(not QA_…: tests/conftest.py clears every QA_* variable).
Outside CI the test is skipped when /usr/bin/chromium is missing; in CI it must run.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

import qa
from qa.assistant import MAX_QUESTION_CHARS
from qa.ui.render import QUESTION_SHOWN_CHARS
from tests.helpers import ROOT
from tests.test_ui_client import PAUSE_Q, Server, run_server

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
    pytest.importorskip("axe_playwright_python", reason="pip install axe-playwright-python (dev)")

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from gradio_client import Client  # noqa: E402
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

# axe-core impacts that fail the accessibility pass. No rule is excluded: Gradio's own
# low-contrast grey is overridden in qa.ui.assets.CSS.
AXE_FAILING = {"serious", "critical"}
TAG = re.compile(r"<[A-Za-z/!]")  # the start of HTML markup

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
    with open_page(server.url, tmp_path / "profile", 1400, 950) as page:
        yield page


@contextlib.contextmanager
def open_page(url: str, profile: Path, width: int, height: int) -> Iterator[Page]:
    """The chat UI at ``url`` in a fresh Chromium profile, loaded and ready for a question."""
    hosts: set[str] = set()
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),  # an empty profile
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height},
        )
        try:
            page = context.new_page()
            page.on("request", lambda r: hosts.add(_host(r.url)))
            page.goto(url)
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


def axe_problems(page: Page) -> list[str]:
    """The serious and critical axe-core violations of the page as it is now."""
    violations = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in AXE_FAILING
    ]


def test_empty_and_over_long_questions_say_why(page: Page) -> None:
    notice = page.locator("#qa-notice .qa-notice")
    box = page.locator("#qa-question textarea")
    expect(notice).to_have_count(0)
    page.locator("#qa-question").get_by_role("button", name="Ask").click()  # an empty box
    expect(notice).to_have_text("⚠ Type a question first.")
    expect(notice).to_be_in_viewport()

    long = "word " * (MAX_QUESTION_CHARS // 4)  # pasted whole: the box does not cut it
    box.fill(long)
    box.press("Enter")
    expect(notice).to_contain_text(f"question is longer than {MAX_QUESTION_CHARS} characters")
    expect(notice).to_contain_text(f"this one has {len(long.strip()):,}")
    expect(notice).to_be_in_viewport()
    expect(box).to_have_value(long)  # kept, to be shortened
    box.fill("  ")
    box.press("Enter")
    expect(notice).to_have_text("⚠ Type a question first.")
    expect(page.locator("#qa-chat .qa-q")).to_have_count(0)  # nothing was asked

    # A long question that may be asked is answered; the sources panel shows it cut.
    question = f"{PAUSE_Q} " + "Answer from the documents only, please. " * 8
    ask(page, question)
    expect(notice).to_have_count(0)
    heading = visible_turn(page).locator(".qa-turn-q")
    expect(heading).to_contain_text(PAUSE_Q)
    shown = heading.inner_text()
    assert shown.endswith("…") and len(shown) <= QUESTION_SHOWN_CHARS + 1 < len(question)


def test_accessibility_of_chat_corpus_and_settings(page: Page, server: Server) -> None:
    ask(page, PAUSE_Q)
    messages = page.locator('#qa-chat [aria-label*="\'s message: "]')
    expect(messages).to_have_count(2)
    # Gradio puts each message's content in its aria-label: ours is HTML, read as plain text.
    expect(messages.nth(1)).to_have_attribute(
        "aria-label", re.compile(r"^bot's message: The previous humanitarian pause .* \[1\]$")
    )
    labels = messages.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    assert labels[0] == f"user's message: {PAUSE_Q}"
    assert not [label for label in labels if TAG.search(label)], labels
    assert axe_problems(page) == []

    page.get_by_role("tab", name="Corpus").click()
    # Gradio's screen-reader status line: every text it shows is recorded.
    page.evaluate(
        """() => {
        window.qaStatus = [];
        new MutationObserver(() => document.querySelectorAll("[role=status]").forEach(
          (e) => e.textContent.trim() && window.qaStatus.push(e.textContent.trim())
        )).observe(document.body, {subtree: true, childList: true, characterData: true});
      }"""
    )
    doc = server.corpus.parent / "okapi notes.txt"
    doc.write_text("The okapi sanctuary at Epulu was founded in 1952.\n", encoding="utf-8")
    page.locator("#qa-upload input[type=file]").set_input_files(str(doc))
    expect(page.locator("#qa-upload-msg")).to_contain_text("added and indexed")
    page.wait_for_function("() => window.qaStatus.includes('Done')", timeout=15_000)
    statuses = page.evaluate("window.qaStatus")
    assert not [s for s in statuses if re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", s)], statuses

    (server.corpus / doc.name).unlink()
    resync = page.locator("#qa-resync")
    resync.click()
    expect(page.locator("#qa-sync-report")).to_contain_text("okapi notes.txt")
    expect(page.locator("#qa-files")).not_to_contain_text("okapi notes.txt")
    assert "1 removed" in page.locator("#qa-sync-report").inner_text()
    assert page.locator("body").inner_text().count("chunks embedded") == 1  # the summary, once
    nowrap, overflow = resync.evaluate(
        "e => [getComputedStyle(e).whiteSpace, e.scrollWidth > e.clientWidth]"
    )
    assert (nowrap, overflow) == ("nowrap", False)  # one line, and it fits
    shot(page, "corpus.png")
    assert axe_problems(page) == []

    page.get_by_role("tab", name="Settings").click()
    # No LLM here: what is used and how to configure one, not a choice of one.
    note = page.locator("#qa-answerer-note")
    expect(note).to_contain_text("extractive")
    expect(note).to_contain_text("QA_LLM_BASE_URL")
    expect(note).to_contain_text("restart qa serve")
    expect(page.get_by_role("radio")).to_have_count(0)
    expect(page.locator("#qa-answerer")).to_have_count(0)
    shot(page, "settings.png")
    assert axe_problems(page) == []
    # The /settings endpoint still takes (answerer, top-k).
    top_k = qa.Settings.model_fields["top_k"].default
    described = Client(server.url, verbose=False).predict("extractive", top_k, api_name="/settings")
    assert "`extractive`" in described and f"(top-k):** {top_k}" in described


@pytest.mark.skipif(
    not os.environ.get("UI_SCREENSHOTS"), reason="UI_SCREENSHOTS=dir writes the docs' screenshots"
)
def test_documentation_screenshots(tmp_path: Path) -> None:
    out = Path(os.environ["UI_SCREENSHOTS"])
    out.mkdir(parents=True, exist_ok=True)
    with (
        run_server(tmp_path, QA_ANSWERER="extractive", QA_EMBEDDER="e5") as server,
        open_page(server.url, tmp_path / "profile", 1280, 900) as page,
    ):
        answer = ask(page, PAUSE_Q)
        expect(answer).to_contain_text("ten hours")
        answer.locator("a.qa-ref").first.click()
        expect(visible_turn(page).locator("li.qa-cite.qa-active mark")).to_be_visible()
        page.screenshot(path=str(out / "answer.png"))
        # A span of two sentences: the second holds the place, both are highlighted.
        span = ask(page, "Where were the foreign diplomats briefed?")
        expect(span).to_contain_text("Patriot Park")
        span.locator("a.qa-ref").first.click()
        expect(visible_turn(page).locator("li.qa-cite.qa-active mark")).to_contain_text(
            "Patriot Park"
        )
        page.screenshot(path=str(out / "answer-span.png"))
        abstention = ask(page, "What is the capital of Australia?")
        expect(abstention).to_contain_text(qa.NOT_IN_DOCUMENTS)
        expect(visible_turn(page).locator(".qa-closest li")).to_have_count(3)
        page.screenshot(path=str(out / "abstention.png"))
        page.get_by_role("tab", name="Settings").click()
        expect(page.locator("#qa-answerer-note")).to_be_visible()
        page.screenshot(path=str(out / "settings.png"))
