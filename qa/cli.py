"""The ``qa`` command: ``qa index``, ``ask``, ``chat``, ``serve``, ``eval`` and ``llm serve``."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import qa  # applies the offline environment first
from qa.terminal import escaped_print as _print
from qa.terminal import print_streamed
from qa.text import printable

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.sync import SyncReport

EXIT_LOCKED = 3  # another process is writing to the store
EXIT_DAMAGED = 4  # the store is damaged: `qa index --rebuild`
EXIT_UNWRITABLE = 5  # the store's disk is full, or the store is read-only
SWITCH_WAIT_S = 0.5  # a rebuild's switch (renames in one folder) is over by then
FOLDER_HELP = "corpus folder (default: the folder last given to qa, else the project's seeds/)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qa`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    from pydantic import ValidationError

    from qa.settings import settings_problem
    from qa.store.health import StoreDamaged, StoreUnwritable
    from qa.store.lock import StoreLocked

    try:
        with _local_llm(args):
            return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except StoreLocked as exc:
        _print(f"qa: error: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except StoreDamaged as exc:
        _print(f"qa: error: {exc}", file=sys.stderr)
        return EXIT_DAMAGED
    except StoreUnwritable as exc:
        _print(f"qa: error: {exc}", file=sys.stderr)
        return EXIT_UNWRITABLE
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        _print(f"qa: error: {settings_problem(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        damage = _store_damage(args, exc)
        if damage is not None:
            _print(f"qa: error: {damage}", file=sys.stderr)
            return EXIT_UNWRITABLE if isinstance(damage, StoreUnwritable) else EXIT_DAMAGED
        if not isinstance(exc, (FileNotFoundError, ValueError, KeyError, RuntimeError, OSError)):
            raise
        _print(f"qa: error: {exc}", file=sys.stderr)
        return 2


def _swapped_under_us(args: argparse.Namespace, folder: Path | None, exc: Exception) -> bool:
    """Whether a Chroma error while opening the embedded store came from a rebuild switching
    its index in meanwhile (it holds the writer lock). If so, this process's Chroma system on
    the store is dropped and, after a moment for the switch to finish, True is returned."""
    import time

    from qa.store import close_client
    from qa.store.lock import writer_busy

    if not type(exc).__module__.startswith("chromadb"):
        return False
    settings = _settings(args, folder)
    if settings.chroma_url or not writer_busy(settings.store):
        return False
    with contextlib.suppress(Exception):  # its files moved: stopping it may fail too
        close_client(settings.store)
    time.sleep(SWITCH_WAIT_S)
    return True


def _store_damage(args: argparse.Namespace, exc: Exception) -> Exception | None:
    """After Chroma or SQLite failed: a ``StoreUnwritable`` when the store's disk is full or
    it is read-only, else probe the embedded store: a ``StoreDamaged`` if it is damaged."""
    import sqlite3

    from qa.store import health

    if not (isinstance(exc, sqlite3.DatabaseError) or type(exc).__module__.startswith("chromadb")):
        return None
    try:
        settings = _settings(args, getattr(args, "folder", None))
    except Exception:  # pragma: no cover - the settings were valid a moment ago
        return None
    if settings.chroma_url:
        return None
    unwritable = health.storage_problem(settings.store, exc)
    if unwritable is not None:  # a full disk or a read-only store is not damage
        return unwritable
    reason = health.diagnose(settings.store)
    return health.StoreDamaged(health.chroma_dir(settings.store), reason) if reason else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Question answering over a folder of documents, with citations."
    )
    parser.add_argument(
        "--store",
        type=Path,
        help="store folder (default: ~/.local/share/qa/stores/<folder>-<hash>, or QA_STORE)",
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    index = sub.add_parser("index", help="build or update the index of a folder")
    index.add_argument("folder", nargs="?", type=Path, help=FOLDER_HELP)
    index.add_argument("--folder", dest="folder_option", type=Path, help="the same as FOLDER")
    index.add_argument("--json", action="store_true", help="print the sync report as JSON")
    mode = index.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="check the store for damage (exit 4 if damaged)"
    )
    mode.add_argument(
        "--rebuild",
        action="store_true",
        help="move the store's Chroma folder aside (kept as chroma.damaged-*) and index anew",
    )
    index.set_defaults(run=_index)

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--folder", type=Path, help=FOLDER_HELP)
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--offline", action="store_true", help="use the extractive answerer")
    ask.set_defaults(run=_ask)

    chat = sub.add_parser("chat", help="multi-turn chat in the terminal")
    chat.add_argument("--folder", type=Path, help=FOLDER_HELP)
    chat.add_argument("--offline", action="store_true", help="use the extractive answerer")
    chat.set_defaults(run=_chat)

    serve = sub.add_parser("serve", help="the chat UI in the browser (Gradio)")
    serve.add_argument("--folder", type=Path, help=FOLDER_HELP)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: first free from 7860)")
    serve.add_argument("--offline", action="store_true", help="use the extractive answerer")
    serve.set_defaults(run=_serve)

    llm = sub.add_parser("llm", help="qa's local LLM server (llama.cpp with SmolLM2)")
    llm_sub = llm.add_subparsers(required=True, metavar="ACTION")
    llm_serve = llm_sub.add_parser(
        "serve", help="start llama.cpp's OpenAI-compatible server on 127.0.0.1 until Ctrl-C"
    )
    llm_serve.add_argument("--model", type=Path, help="a GGUF file (default: packaged SmolLM2)")
    llm_serve.add_argument("--port", type=int, help="port (default: a free one)")
    llm_serve.add_argument("--ctx", type=int, default=4096, help="context window in tokens")
    llm_serve.add_argument("--threads", type=int, help="CPU threads (default: llama.cpp's)")
    llm_serve.set_defaults(run=_llm_serve, local_llm=False)

    stores = sub.add_parser("stores", help="list the stores of every folder indexed")
    stores.add_argument(
        "--prune", action="store_true", help="remove the stores whose folder is gone"
    )
    stores.add_argument("--yes", action="store_true", help="prune without asking")
    stores.add_argument("--json", action="store_true", help="print the list as JSON")
    stores.set_defaults(run=_stores, local_llm=False)

    from qa.evals import command as eval_command

    evals = eval_command.add_parser(sub)
    # The eval cases are written for seeds/: never the folder last indexed.
    evals.set_defaults(run=lambda a: eval_command.run(a, _settings(a, a.folder)), last_folder=False)
    return parser


@contextlib.contextmanager
def _local_llm(args: argparse.Namespace) -> Iterator[None]:
    """With ``llm_local`` (and not ``--offline``), the command runs with qa's local LLM
    server started for it (its URL and model in this process's environment), stopped after."""
    if not getattr(args, "local_llm", True) or getattr(args, "offline", False):
        yield
        return
    settings = qa.Settings()
    if not settings.llm_local:
        yield
        return
    from qa.answerers import local

    print("qa: starting the local LLM server …", file=sys.stderr, flush=True)
    server = local.start(
        settings.llm_local_model, ctx=settings.llm_local_ctx, threads=settings.llm_local_threads
    )
    saved = {k: os.environ.get(k) for k in ("QA_LLM_BASE_URL", "QA_LLM_MODEL")}
    os.environ.update(QA_LLM_BASE_URL=server.base_url, QA_LLM_MODEL=local.MODEL_ALIAS)
    try:
        yield
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _llm_serve(args: argparse.Namespace) -> int:
    """``qa llm serve``: run the local server until interrupted; print how to use it."""
    from qa.answerers import local

    server = local.start(args.model, port=args.port, ctx=args.ctx, threads=args.threads)
    try:
        _print(f"qa: local LLM server ({server.model.name}) at {server.base_url}")
        _print("use it from another shell with:")
        for line in server.settings_lines():
            _print(f"  export {line}")
        _print("(Ctrl-C stops it)", flush=True)
        server.process.wait()
        return 1  # it stopped by itself
    finally:
        server.stop()


def _settings(args: argparse.Namespace, folder: Path | None) -> qa.Settings:
    """Settings with the command line's overrides (folder, --store, --offline) applied.

    Unless the command says otherwise (``qa eval``), a folder named here is remembered, and
    when none is named (nor ``QA_CORPUS`` / ``qa.toml``'s ``corpus``) the last one is used.
    """
    from qa.locations import forget_folder, remember_folder, remembered_folder

    overrides: dict[str, object] = {}
    if args.store:
        overrides["store"] = args.store
    if folder is not None:
        overrides["corpus"] = folder
    if getattr(args, "offline", False):
        overrides["answerer"] = "extractive"
    settings = qa.Settings(**overrides)  # type: ignore[arg-type]
    if not getattr(args, "last_folder", True):
        return settings
    if folder is not None:
        if folder.is_dir():
            remember_folder(folder)
    elif "corpus" not in settings.model_fields_set:
        last = remembered_folder()
        if last is not None and last != settings.corpus.resolve():
            if last.is_dir():
                settings = qa.Settings(**{**overrides, "corpus": last})  # type: ignore[arg-type]
            else:
                forget_folder()
                print(
                    f"qa: the folder last given, {printable(str(last))}, is gone; using "
                    f"{printable(str(settings.corpus))}",
                    file=sys.stderr,
                )
    return settings


def _build(args: argparse.Namespace, folder: Path | None) -> Assistant:
    return qa.Assistant(_settings(args, folder))


def _assistant(args: argparse.Namespace, folder: Path | None, *, progress: bool) -> Assistant:
    """An assistant whose index is brought up to date first; changes are reported on stderr.

    While another process is writing to the store, it answers from the index as it is.
    """
    from qa.store.health import StoreUnwritable
    from qa.store.lock import StoreLocked

    try:
        assistant = _build(args, folder)
        note = None if assistant.read_only is not None else assistant.first_index_note()
    except Exception as exc:
        if not _swapped_under_us(args, folder, exc):
            raise
        # ``qa index --rebuild`` switched its new index in while this one was being opened:
        # open the store again, on a fresh Chroma system.
        assistant = _build(args, folder)
        note = None if assistant.read_only is not None else assistant.first_index_note()
    if assistant.read_only is not None:
        _print(f"qa: note: {assistant.read_only}", file=sys.stderr)
        return assistant
    if note:
        _print(f"qa: {note}", file=sys.stderr, flush=True)
        progress = sys.stderr.isatty()
    try:
        report = assistant.sync(progress=progress)
    except StoreLocked as exc:
        _print(f"qa: note: {exc}; answering from the index as it is", file=sys.stderr)
        return assistant
    except StoreUnwritable as exc:
        _print(f"qa: note: {exc}", file=sys.stderr)
        return assistant
    if report.changed:
        _print(f"qa: {assistant.corpus}: {report.summary()}", file=sys.stderr)
    return assistant


def _index(args: argparse.Namespace) -> int:
    from qa.store import health
    from qa.store.lock import writer_lock

    if args.folder and args.folder_option and args.folder != args.folder_option:
        raise ValueError("give the folder once: as FOLDER or as --folder")
    args.folder = args.folder or args.folder_option
    settings = _settings(args, args.folder)
    if (args.check or args.rebuild) and settings.chroma_url:
        raise ValueError("--check and --rebuild work on the embedded store, not a Chroma server")
    if not settings.chroma_url:
        unwritable = health.unwritable_store(settings.store)
        if unwritable is not None:  # indexing, checking (Chroma writes on open), rebuilding
            raise unwritable
    if args.check:
        with writer_lock(settings.store):  # opening the store may write (Chroma backfills)
            reason = health.diagnose(settings.store)
        if reason:  # a full disk makes the probe fail too: that is not damage
            raise health.storage_problem(settings.store) or health.StoreDamaged(
                health.chroma_dir(settings.store), reason
            )
        _print(f"index at {health.chroma_dir(settings.store)} is sound")
        return 0
    with writer_lock(settings.store):
        if args.rebuild:
            report, assistant = _rebuild(settings)
        else:
            assistant = qa.Assistant(settings)
            note = assistant.first_index_note()
            if note:
                _print(f"qa: {note}", file=sys.stderr, flush=True)
            report = assistant.sync(progress=sys.stderr.isatty())
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print(f"indexed {assistant.corpus} into {assistant.store.name}")
        _print("\n".join(report.lines()))
    return 0


def _rebuild(settings: qa.Settings) -> tuple[SyncReport, Assistant]:
    """``qa index --rebuild`` (the caller holds the writer lock): index anew in a folder beside
    the store, then switch it in and bump the store's change marker. Until the switch, other
    processes answer from the old index (or say it is damaged), never from a half-built one."""
    from qa.store import close_client, generation, health

    built = settings.store / f".rebuild-{os.getpid()}"
    shutil.rmtree(built, ignore_errors=True)
    aside = qa.Assistant(settings.model_copy(update={"store": built}))
    _print(f"qa: building a new index of {aside.corpus} beside the old one", file=sys.stderr)
    report = aside.sync(progress=sys.stderr.isatty())
    close_client(built)
    moved = health.switch_in(settings.store, built)
    generation.bump(settings.store)
    if moved is not None:
        _print(f"moved the old index aside to {moved}", file=sys.stderr)
    return report, qa.Assistant(settings, embedder=aside.embedder)


def _ask(args: argparse.Namespace) -> int:
    assistant = _assistant(args, args.folder, progress=False)
    if args.json:
        result = {**assistant.ask(args.question).to_dict(), "folder": str(assistant.corpus)}
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    print_streamed(assistant.stream(args.question))
    return 0


def _chat(args: argparse.Namespace) -> int:
    assistant = _assistant(args, args.folder, progress=sys.stderr.isatty())
    chat = assistant.chat()
    _print(f"Ask about the documents in {assistant.corpus}.")
    _print("Empty line or Ctrl-D to quit; /new starts over.")
    while True:
        try:
            question = input("\n> ").strip()
        except EOFError:
            _print()
            return 0
        if not question:
            return 0
        if question == "/new":
            chat.reset()
            _print("(new conversation)")
            continue
        print_streamed(chat.stream(question))


def _serve(args: argparse.Namespace) -> int:
    from qa.ui import serve

    serve(_settings(args, args.folder), host=args.host, port=args.port)
    return 0


def _stores(args: argparse.Namespace) -> int:
    """``qa stores``: each store's folder, size and last use; ``--prune`` removes the stores
    whose folder is gone (asking first on a terminal)."""
    import time

    from qa.locations import stores_dir
    from qa.store import listing

    entries = listing.stores()
    if not entries:
        print(f"qa: no stores under {printable(str(stores_dir()))}", file=sys.stderr)
    if args.json:
        rows = [
            {"store": str(e.path), "folder": str(e.folder) if e.folder else None,
             "bytes": e.size, "last_used": e.last_used, "gone": e.gone}
            for e in entries
        ]  # fmt: skip
        print(json.dumps(rows, indent=2))
    else:
        for e in entries:
            state = "gone" if e.gone else ("?" if e.folder is None else "")
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_used))
            folder = e.folder or "(folder unknown)"
            _print(f"{e.size / 2**20:9.1f} MiB  {when}  {state:4}  {folder}")
            _print(f"{'':33}{e.path}")
    if not args.prune:
        return 0
    gone = [e for e in entries if e.gone]
    if not gone:
        print("qa: no store's folder is gone; nothing to prune", file=sys.stderr)
        return 0
    total = sum(e.size for e in gone) / 2**20
    if not args.yes and sys.stdin.isatty():
        reply = input(f"remove {len(gone)} stores ({total:.1f} MiB) whose folder is gone? [y/N] ")
        if reply.strip().lower() not in ("y", "yes"):
            return 1
    for e in gone:
        listing.remove(e)
        _print(f"qa: removed {e.path} (its folder {e.folder} is gone)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
