"""The Gradio app: chat with cited answers, a sources panel, the corpus and the settings.

``build_app(assistant)`` builds the Blocks; ``launch(app, ...)`` starts it with safe defaults;
``serve(settings, host, port)`` does both after syncing the corpus (``qa serve``).

Named API endpoints, for ``gradio_client.Client(url).predict(..., api_name=...)``:

- ``/ask`` (question) → ``{"text", "citations": [{"source","quote","start","end","page",...}],
  "abstained", ...}``: a stand-alone answer (``Answer.to_dict``).
- ``/chat`` (question) → the same dict, answered within the client's session, so follow-ups
  are resolved through its history; streams ``{"partial": true, "text": ...}`` first.
- ``/new_chat`` → forgets the session's conversation.
- ``/upload`` (files) → (report HTML, corpus HTML, None); ``/sync`` → (corpus HTML, report).
- ``/settings`` (answerer, top_k) → description of what is now in use.

Two answers are computed at once; a question that finds no free slot within ``ui_busy_wait_s``
ends with ``qa.ui.service.BUSY_MESSAGE`` (an error event for programs, a message in the chat),
never with an HTTP error or an open-ended wait.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
from starlette.middleware import Middleware

from qa.settings import Settings
from qa.store.health import StoreUnwritable
from qa.store.lock import StoreLocked
from qa.text import printable
from qa.ui import assets, render
from qa.ui.limits import BodyLimit
from qa.ui.service import (
    ANSWER_SLOTS,
    TOP_K_RANGE,
    Service,
    Session,
    question_problem,
    upload_message,
)
from qa.ui.uploads import MAX_UPLOAD_BYTES, allowed_extensions

if TYPE_CHECKING:
    from qa.assistant import Assistant

EXAMPLES = (
    "How long did the previous humanitarian pause last?",
    "Which road could convoys from Gaziantep take into eastern Aleppo?",
    "Where were the foreign diplomats briefed?",
)
QUEUE_MAX_SIZE = 64  # waiting events beyond this are refused ("queue is full")
ANSWER_CONCURRENCY = ANSWER_SLOTS  # answers computed at once (2 CPU cores)
# Answer events running at once: ANSWER_CONCURRENCY compute, the others wait for a slot inside
# the service, ui_busy_wait_s at most, then say the server is busy; kept well under Gradio's
# 40 worker threads so the rest of the UI stays responsive.
ANSWER_WORKERS = 24
# Every event that answers a question (typed, example, /ask, /chat) shares this one queue.
ANSWER_QUEUE: dict[str, Any] = {"concurrency_id": "answer", "concurrency_limit": ANSWER_WORKERS}
UPLOAD_FILES_PER_REQUEST = 8  # of the largest size; more smaller ones fit the same bound
STREAM_INTERVAL_S = 0.05  # at most ~20 UI updates a second while an answer streams
# Gradio 6.31's English strings lack "common.complete": its screen-reader status line would
# read the raw key after every upload, sync or settings change.
I18N = {"en": {"common.complete": "Done"}}

Outputs = tuple[Any, ...]


def build_app(assistant: Assistant, *, examples: tuple[str, ...] = EXAMPLES) -> gr.Blocks:
    """The chat UI over ``assistant`` (already synced); not launched."""
    service = Service(assistant)

    with gr.Blocks(title="qa — cited answers", delete_cache=(3600, 3600)) as app:
        state = gr.State(None)  # the session's Session, created on first use
        gr.Markdown("# qa — answers cited to your documents", elem_id="qa-title")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=360):
                    chatbot = gr.Chatbot(
                        elem_id="qa-chat",
                        show_label=False,
                        height=560,
                        render_markdown=False,  # messages are our escaped HTML
                        latex_delimiters=[],
                        sanitize_html=True,
                        allow_tags=False,
                        feedback_options=None,
                        buttons=["copy"],
                        placeholder="Ask about the documents. Every sentence of an answer "
                        "is cited; click a [n] to see the passage.",
                        examples=[{"text": q} for q in examples],
                    )
                    # Why a question was not asked; above the box, so a long paste can't hide it.
                    notice = gr.HTML("", elem_id="qa-notice")
                    question = gr.Textbox(
                        elem_id="qa-question",
                        show_label=False,
                        placeholder="Ask a question about the documents…",
                        submit_btn="Ask",
                        max_lines=8,  # a long paste scrolls inside the box
                        autofocus=True,  # no max_length: the browser would cut a long paste
                    )
                    new_chat = gr.Button("New chat", size="sm", elem_id="qa-new-chat")
                with gr.Column(scale=2, min_width=320):
                    sources = gr.HTML(
                        render.sources_html(render.Conversation()),
                        elem_id="qa-sources",
                        label="Sources",
                        show_label=True,
                        container=True,
                        padding=True,
                        max_height=640,
                    )
                    # "View in document": the sources panel's buttons fill this hidden box
                    # with "<turn>:<n>" and press the hidden button (qa.ui.assets.JS).
                    viewer = gr.HTML("", elem_id="qa-viewer", padding=False)
                    view_request = gr.Textbox(
                        elem_id="qa-view-request",
                        elem_classes="qa-hidden",
                        show_label=False,
                        container=False,
                    )
                    view_go = gr.Button("View", elem_id="qa-view-go", elem_classes="qa-hidden")
            with gr.Tab("Corpus", id="corpus"):
                files_view = gr.HTML(service.files_html(), elem_id="qa-files")
                with gr.Row():
                    resync = gr.Button(
                        "Re-sync the folder", elem_id="qa-resync", scale=0, min_width=200
                    )
                sync_msg = gr.Markdown(elem_id="qa-sync-report")
                upload = gr.File(
                    label=f"Add documents ({allowed_extensions()}; at most "
                    f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB each)",
                    file_count="multiple",
                    type="filepath",
                    elem_id="qa-upload",
                )
                upload_msg = gr.HTML(elem_id="qa-upload-msg")
            with gr.Tab("Settings", id="settings"):
                choices = service.answerer_choices()
                # A choice of one is no choice: say what is used and how to add an LLM. The
                # hidden radio still feeds the /settings endpoint.
                answerer = gr.Radio(
                    choices,
                    value=service.answerer_name,
                    label="Answerer",
                    info="extractive quotes the documents (no LLM); openai asks the configured "
                    "LLM server. Applies to everyone using this server.",
                    visible=len(choices) > 1,
                    elem_id="qa-answerer",
                )
                gr.Markdown(
                    service.answerer_note(), visible=len(choices) == 1, elem_id="qa-answerer-note"
                )
                top_k = gr.Slider(
                    *TOP_K_RANGE, step=1, value=service.top_k, label="Passages per question"
                )
                in_use = gr.Markdown(service.describe())

        # -- chat --------------------------------------------------------------------------
        def respond(text: str, session: Session | None) -> Iterator[Outputs]:
            session = service.session(session)
            problem = question_problem(text)
            if problem:  # not asked; the text stays in the box to be fixed
                yield gr.skip(), gr.skip(), session, gr.skip(), render.notice_html(problem)
                return
            text = text.strip()
            last = 0.0
            for turn in service.stream_turn(session, text):
                now = time.monotonic()
                if turn.answer is None and turn.error is None and now - last < STREAM_INTERVAL_S:
                    continue
                last = now
                done = turn.answer is not None or turn.error is not None
                panel = service.sources_html(session.conv) if done else gr.skip()
                yield render.messages(session.conv), panel, session, "", ""

        def respond_example(session: Session | None, evt: gr.SelectData) -> Iterator[Outputs]:
            value = evt.value if isinstance(evt.value, dict) else {}
            yield from respond(str(value.get("text", "")), session)

        def reset(session: Session | None) -> Outputs:
            session = service.session(session)
            session.reset()
            return [], service.sources_html(session.conv), session, "", ""

        chat_out = [chatbot, sources, state, question, notice]
        typed: dict[str, Any] = {
            "api_visibility": "private",
            "show_progress": "hidden",
            "trigger_mode": "once",
            **ANSWER_QUEUE,
        }
        question.submit(respond, [question, state], chat_out, **typed)
        chatbot.example_select(respond_example, [state], chat_out, **typed)
        new_chat.click(reset, [state], chat_out, api_name="new_chat", show_progress="hidden")
        chatbot.clear(reset, [state], chat_out, api_visibility="private", show_progress="hidden")

        def view(request: str, session: Session | None) -> Outputs:
            session = service.session(session)
            return service.view_html(session, request), session

        view_go.click(
            view,
            [view_request, state],
            [viewer, state],
            api_visibility="private",
            show_progress="minimal",
            concurrency_id="view",
            concurrency_limit=2,
        )

        # -- programs ----------------------------------------------------------------------
        def ask(question: str) -> dict[str, Any]:
            """A stand-alone answer: text, citations, abstained (plus flags, closest passages)."""
            try:
                return service.ask(question)
            except (ValueError, TypeError, RuntimeError) as exc:
                raise gr.Error(str(exc)) from exc

        gr.api(ask, api_name="ask", **ANSWER_QUEUE)

        def chat_api(text: str, session: Session | None) -> Iterator[Outputs]:
            session = service.session(session)
            for turn in service.stream_turn(session, (text or "").strip()):
                if turn.error is not None:
                    raise gr.Error(turn.error)
                if turn.answer is not None:
                    result = {**turn.answer.to_dict(), "partial": False}
                    yield result, session
                elif turn.partial:
                    partial = {"text": turn.partial, "citations": [], "abstained": False}
                    yield {**partial, "partial": True}, session

        api_question = gr.Textbox(visible=False)
        api_result = gr.JSON(visible=False)
        api_chat = gr.Button(visible=False)
        api_chat.click(
            chat_api,
            [api_question, state],
            [api_result, state],
            api_name="chat",
            **ANSWER_QUEUE,
        )

        # -- corpus ------------------------------------------------------------------------
        def do_sync(progress: gr.Progress = gr.Progress(track_tqdm=True)) -> Outputs:  # noqa: B008
            progress(0, desc="Scanning the folder")
            try:
                report = service.sync(progress=True)
            except (StoreUnwritable, StoreLocked) as exc:
                raise gr.Error(str(exc)) from exc
            return service.files_html(), _report_md(report.lines())  # the summary heads the report

        def do_upload(
            paths: list[str] | None,
            progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
        ) -> Outputs:
            files = [(Path(p), Path(p).name) for p in paths or []]
            progress(0, desc="Saving")
            try:
                results, report = service.add_files(files, progress=True)
            except (StoreUnwritable, StoreLocked) as exc:
                raise gr.Error(f"Nothing was added: {exc}") from exc
            summary = report.summary() if report else ""
            return upload_message(results, report), service.files_html(summary), None

        resync.click(do_sync, None, [files_view, sync_msg], api_name="sync", concurrency_id="index")
        upload.upload(
            do_upload,
            [upload],
            [upload_msg, files_view, upload],
            api_name="upload",
            concurrency_id="index",
            concurrency_limit=1,
        )

        # -- settings ----------------------------------------------------------------------
        def set_options(name: str, k: float) -> str:
            try:
                service.set_options(name, k)
            except (ValueError, TypeError) as exc:
                raise gr.Error(str(exc)) from exc
            return service.describe()

        gr.on(
            [answerer.change, top_k.release],
            set_options,
            [answerer, top_k],
            [in_use],
            api_name="settings",
            concurrency_id="index",
        )
    return app


def _report_md(lines: list[str]) -> str:
    """A sync report as a Markdown code block (file names are shown literally there)."""
    body = "\n".join(lines).replace("```", "'''")
    return f"```text\n{body}\n```"


def blocked_paths(settings: Settings) -> list[str]:
    """Paths the file routes must never serve: the store and files that may hold secrets."""
    paths = [settings.store, Path(".env"), Path("qa.toml"), settings.corpus / ".env"]
    return sorted({str(p.resolve()) for p in paths})


def body_limit(settings: Settings) -> Middleware:
    """The request-size bound for every route (``qa.ui.limits``): ``ui_max_request_bytes``,
    and up to ``UPLOAD_FILES_PER_REQUEST`` largest files on the upload route."""
    upload = UPLOAD_FILES_PER_REQUEST * MAX_UPLOAD_BYTES + 1024 * 1024  # plus the form's parts
    return Middleware(BodyLimit, limit=settings.ui_max_request_bytes, upload_limit=upload)


def launch(
    app: gr.Blocks,
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    block: bool = True,
    quiet: bool = True,
) -> str:
    """Start the server with safe defaults; returns its URL (blocks unless ``block=False``)."""
    app.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=ANSWER_CONCURRENCY)
    _, url, _ = app.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        prevent_thread_lock=True,
        quiet=quiet,
        auth=settings.ui_login,
        max_file_size=MAX_UPLOAD_BYTES,
        enable_monitoring=False,
        blocked_paths=blocked_paths(settings),
        footer_links=["api"],
        run_history=False,
        mcp_server=False,
        ssr_mode=False,
        state_session_capacity=1000,
        css=assets.CSS,
        js=assets.JS,
        i18n=gr.I18n(**I18N),
        app_kwargs={"middleware": [body_limit(settings)]},
    )
    if block:
        try:
            app.block_thread()
        finally:
            app.close()
    return str(url)


def serve(settings: Settings, host: str = "127.0.0.1", port: int | None = None) -> None:
    """``qa serve``: sync the corpus, then serve the chat UI until interrupted."""
    from qa.assistant import Assistant

    assistant = Assistant(settings)
    note = assistant.first_index_note()
    note = printable(note or f"indexing {assistant.corpus}")
    print(f"qa: {note}", file=sys.stderr, flush=True)
    try:
        report = assistant.sync(progress=sys.stderr.isatty())
        print(f"qa: {report.summary()}", file=sys.stderr, flush=True)
    except (StoreLocked, StoreUnwritable) as exc:  # another writer, a full disk, read-only
        print(f"qa: note: {printable(str(exc))}; serving the index as it is", file=sys.stderr)
    app = build_app(assistant)
    if host not in ("127.0.0.1", "localhost", "::1") and settings.ui_login is None:
        print(
            f"qa: warning: serving on {host} without a login; set QA_UI_AUTH=user:password",
            file=sys.stderr,
        )

    url = launch(app, settings, host=host, port=port, block=False)
    print(f"qa: chat UI running at {url}  (Ctrl-C to stop)", flush=True)
    try:
        app.block_thread()
    finally:
        app.close()
