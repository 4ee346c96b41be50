"""“View in document” in a real browser (Debian's Chromium): the cited PDF page rendered
with the quoted characters highlighted, and the text view for a DOCX. The screenshot is kept
under ``artifacts/ui/`` (and, with ``UI_SCREENSHOTS=dir``, in ``dir`` for the docs)."""

from __future__ import annotations

import base64
import io
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests import documents as docs
from tests.test_ui_browser import ANSWER_TIMEOUT_MS, ask, open_page, shot, visible_turn
from tests.test_ui_client import Server, run_server

HIGHLIGHT = (255, 213, 0)  # qa.ingest.pdf's highlight colour, blended over white


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("documents-browser")
    corpus = tmp / "docs"
    docs.write_mixed(corpus)
    with run_server(tmp, corpus=corpus, QA_EMBEDDER="e5", QA_ANSWERER="extractive") as s:
        yield s


@pytest.fixture()
def page(tmp_path: Path, server: Server) -> Iterator[Page]:
    with open_page(server.url, tmp_path / "profile", 1400, 1100) as page:
        yield page


@pytest.mark.slow
def test_view_in_document_highlights_the_quote_on_the_rendered_pdf_page(page: Page) -> None:
    ask(page, "Who was elected warden of the Lamplighters' Guild?")
    cited = visible_turn(page).locator("li.qa-cite").first
    expect(cited.locator(".qa-file")).to_have_text("guild-report.pdf · p. 1")
    cited.locator("button.qa-view-btn").click()
    image = page.locator("#qa-viewer img.qa-page")
    expect(image).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#qa-viewer figcaption")).to_have_text("guild-report.pdf · p. 1")
    assert "highlighted" in (image.get_attribute("alt") or "")
    image.scroll_into_view_if_needed()
    shot(page, "view-in-document-pdf.png")
    fitted = image.bounding_box()
    image.click()  # full size, and back
    expect(image).to_have_class("qa-page qa-zoom")
    zoomed = image.bounding_box()
    assert fitted and zoomed and zoomed["width"] > fitted["width"] * 1.5
    image.click()
    expect(image).to_have_class("qa-page")
    if os.environ.get("UI_SCREENSHOTS"):
        image.screenshot(path=str(Path(os.environ["UI_SCREENSHOTS"]) / "view-in-document.png"))

    # The highlight covers the quoted lines and nothing else: yellow rows in the upper part
    # of the page (the quote is its second paragraph), none in the lower half.
    from PIL import Image

    src = image.get_attribute("src") or ""
    png = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB")
    width, height = png.size
    rows = [
        y
        for y in range(height)
        if any(_yellow(png.getpixel((x, y))) for x in range(0, width, 4))  # type: ignore[arg-type]
    ]
    assert rows, "no highlight drawn"
    assert max(rows) < height * 0.4 and min(rows) > height * 0.05
    lines = 1 + sum(1 for a, b in itertools.pairwise(rows) if b - a > 3)
    assert lines == 2  # the quoted sentence wraps over two lines of the A4 page


@pytest.mark.slow
def test_view_in_document_marks_the_quote_in_a_docx_text(page: Page) -> None:
    ask(page, "How long does the ferry crossing take?")
    cited = visible_turn(page).locator("li.qa-cite").first
    expect(cited.locator(".qa-file")).to_have_text("ferry-memo.docx")
    cited.locator("button.qa-view-btn").click()
    mark = page.locator("#qa-viewer .qa-doc-text mark")
    expect(mark).to_have_text(docs.FERRY_PARAGRAPHS[2], timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#qa-viewer .qa-doc-text")).to_contain_text(
        "Fare: Return | Adult: 7 shillings"
    )


def _yellow(pixel: tuple[int, int, int]) -> bool:
    r, g, b = pixel
    return r > 230 and g > 200 and b < 170
