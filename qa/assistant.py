"""The Python API: ``Assistant`` (index + retrieve + answer) and ``Chat`` (multi-turn)."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from chromadb.errors import ChromaError

from qa.answerers import Answerer, Turn, create_answerer
from qa.embed import Embedder, create_embedder, replace_surrogates
from qa.evidence import Evidence
from qa.ingest import (
    Chunker,
    Document,
    UnreadableFile,
    read_document,
    scan_corpus,
)
from qa.retrieve import HybridRetriever
from qa.schema import Answer, Passage
from qa.settings import Settings
from qa.stale import stale_sources
from qa.store import ChunkStore, FileState, collection_name, generation, open_client, reopen_client
from qa.store.health import StoreUnwritable, ensure_sound, storage_problem, unwritable_store
from qa.store.listing import record_folder
from qa.store.lock import StoreLocked, writer_busy, writer_lock
from qa.store.mirror import catch_up
from qa.sync import SyncReport, sync_corpus
from qa.text import TermStats

MAX_QUESTION_CHARS = 4000
DOCUMENTS_KEPT = 16  # extracted texts kept in memory for quoting and viewing


class Assistant:
    """Answers questions about one corpus folder, citing every sentence."""

    def __init__(
        self, settings: Settings | None = None, *, embedder: Embedder | None = None
    ) -> None:
        self.settings = settings or Settings()
        self.corpus = self.settings.corpus.resolve()
        if not self.corpus.is_dir():
            raise FileNotFoundError(f"corpus folder not found: {self.settings.corpus}")
        self.embedder = embedder or create_embedder(self.settings.embedder, self.settings)
        store_dir = self.settings.store
        self.read_only: StoreUnwritable | None = None  # set when the store cannot be written
        self._snapshot: tempfile.TemporaryDirectory[str] | None = None
        if not self.settings.chroma_url:
            ensure_sound(store_dir)  # headers only: a damaged HNSW file can segfault
            problem = unwritable_store(store_dir)
            if problem is not None and problem.kind == "read-only":
                # Chroma writes whenever it opens a store: query a private copy instead.
                self.read_only = problem
                self._snapshot = tempfile.TemporaryDirectory(prefix="qa-read-only-")
                store_dir = Path(self._snapshot.name) / "store"
                shutil.copytree(self.settings.store, store_dir, symlinks=True)
        self._store_dir = store_dir
        self._refresh_lock = threading.Lock()
        self.store = self._open_store(fresh=False)
        if not self.settings.chroma_url and self.read_only is None:
            record_folder(store_dir, self.corpus)  # for `qa stores`
        self._generation = self._read_generation()
        self.chunker = Chunker(self.settings.chunk_size, self.settings.chunk_overlap)
        self.evidence = Evidence(
            self.embedder,
            TermStats(()),
            chunk_vectors=self._chunk_vectors,
            stored_vectors=lambda texts: self.store.sentence_vectors(texts),
        )
        self.answerer: Answerer = create_answerer(
            self.settings.answerer_name, self.settings, self.evidence
        )
        self._retriever: HybridRetriever | None = None
        # The answerer that learnt its corpus and the retriever it learnt it through.
        self._calibrated: tuple[Answerer, HybridRetriever] | None = None
        self.last_sync: SyncReport | None = None
        self._documents: dict[tuple[str, str], Document] = {}  # (source, file_hash) → read
        self._documents_lock = threading.Lock()

    def _open_store(self, *, fresh: bool) -> ChunkStore:
        """This corpus's collection; ``fresh``: on a new Chroma system (another process
        changed the store since it was opened)."""
        if self.settings.chroma_url:
            client = open_client(self._store_dir, self.settings.chroma_url)
        elif fresh:
            ensure_sound(self._store_dir)
            client = reopen_client(self._store_dir)
        else:
            client = open_client(self._store_dir, None)
        name = collection_name(self.corpus, self.embedder.name)
        return ChunkStore(
            client,
            name,
            embedder_name=self.embedder.name,
            dim=self.embedder.dim,
            manifest=self._store_dir / "manifests" / f"{name}.sqlite",
            lexical=self._store_dir / "lexical" / f"{name}.sqlite",
            reopen=None if self.settings.chroma_url else partial(reopen_client, self._store_dir),
        )

    def _read_generation(self) -> str:
        """The store's change token: the marker file, or on a Chroma server the collection's
        metadata (clients on other machines share no folder)."""
        if self.settings.chroma_url:
            return self.store.remote_generation()
        return generation.read(self.settings.store)

    def _local_token(self) -> str | None:
        """The change token of an embedded store as this view loaded it (None on a Chroma
        server: another client's write killed midway never clears this client's mark)."""
        return None if self.settings.chroma_url else self._generation

    def _bump_generation(self) -> str:
        if self.settings.chroma_url:
            return self.store.bump_remote_generation()
        return generation.bump(self.settings.store)

    def refresh(self) -> bool:
        """Follow a change another process made to the store (``qa.store.generation``): when its
        marker moved and no writer holds the lock, open the store afresh and drop the
        retriever; while a writer is at work, keep answering from the view we have. True when
        the view was renewed. Cheap when nothing changed: one small file read (one request to
        a Chroma server)."""
        if self.read_only is not None:
            return False
        current = self._read_generation()
        if current == self._generation:
            return False
        with self._refresh_lock:
            if current == self._generation:
                return False
            if self.settings.chroma_url:
                # The server always answers with its latest state; the file states cached
                # here may predate the other client's write.
                self.store.forget_files()
            elif writer_busy(self.settings.store):
                return False
            else:
                self.store = self._open_store(fresh=True)
            self._retriever = None
            self._generation = current
        return True

    @classmethod
    def from_folder(
        cls,
        folder: str | Path = "seeds",
        *,
        sync: bool = True,
        progress: bool = False,
        embedder: Embedder | str | None = None,
        **settings: Any,
    ) -> Assistant:
        """An assistant over ``folder``, its index built or brought up to date first.

        Keyword arguments override fields of ``Settings`` (e.g. ``top_k=4``); ``embedder`` is
        an ``Embedder`` instance or a registered embedder name.
        """
        if isinstance(embedder, str):
            settings["embedder"], embedder = embedder, None
        assistant = cls(Settings(corpus=Path(folder), **settings), embedder=embedder)
        if sync:
            assistant.sync(progress=progress)
        return assistant

    def first_index_note(self) -> str | None:
        """What a first sync with this embedder is about to do, or None when the index exists.

        Indexes are kept per embedder, so after a change of embedder (the default moved from
        MiniLM to e5) the first sync embeds every document once: say so, and name the indexes
        of other embedders that remain usable."""
        if self.store.count() or not scan_corpus(self.corpus)[0]:
            return None
        note = (
            f"building the {self.embedder.name} index of {self.corpus} "
            "(first use of this embedder with this folder: every document is embedded once)"
        )
        others = self.store.siblings()
        if others:
            note += f"; existing indexes of other embedders are kept: {', '.join(others)}"
        return note

    def sync(self, *, progress: bool = False) -> SyncReport:
        """Index new and edited files, drop deleted ones; unchanged files cost nothing.

        Holds the store's writer lock throughout: raises ``qa.store.lock.StoreLocked`` at once when
        another process is syncing the same store, and ``qa.store.health.StoreUnwritable`` when the
        store's disk is full or the store is read-only (the index is left as it was).
        """
        if self.read_only is not None:
            raise self.read_only
        try:
            with writer_lock(self.settings.store):
                if self._read_generation() != self._generation:
                    # Another process wrote since we opened it: write on a fresh view.
                    if self.settings.chroma_url:
                        self.store.forget_files()
                    else:
                        self.store = self._open_store(fresh=True)
                    self._retriever = None
                    self._generation = self._read_generation()
                # A lexical index behind the store (a killed sync, an older version, another
                # client of a Chroma server) is brought up to date first.
                caught_up = catch_up(self.store, self._local_token(), progress=progress)
                report = sync_corpus(
                    self.corpus,
                    self.store,
                    self.embedder,
                    self.chunker,
                    progress=progress,
                    sentence_vectors=self.settings.sentence_vectors,
                )
                if report.changed or caught_up:
                    self._generation = self._bump_generation()
                if not self.settings.chroma_url:
                    # Every write of this sync kept the lexical index in step.
                    self.store.lexical.mark_verified(self._generation)
        except Exception as exc:
            if self.settings.chroma_url or isinstance(exc, StoreLocked):
                raise
            problem = storage_problem(self.settings.store, exc)
            if problem is not None:
                raise problem from exc
            raise
        if report.changed or caught_up:
            self._retriever = None
        self.last_sync = report
        return report

    @property
    def retriever(self) -> HybridRetriever:
        """The hybrid retriever over the current store content (rebuilt after changes)."""
        if self._retriever is None:
            if not writer_busy(self.settings.store):
                # Cheap when the lexical index is current (one row read when marked verified,
                # else two file lists compared); a sync at work does it itself.
                catch_up(self.store, self._local_token())
            self._retriever = HybridRetriever(self.store, self.embedder, self.settings.top_k)
            self.evidence.term_stats = self._retriever.term_stats
            if self.evidence.corpus_languages != self._retriever.corpus_languages:
                self.evidence.corpus_languages = self._retriever.corpus_languages
                self.evidence.forget_languages()
        return self._retriever

    def _chunk_vectors(self, ids: Sequence[str]) -> dict[str, Any]:
        """Stored chunk vectors for the evidence scores (the retriever keeps them in memory)."""
        return self.retriever.chunk_vectors(ids)

    def files(self) -> list[FileState]:
        """The indexed files, sorted by path."""
        self.refresh()
        return sorted(self.store.files().values(), key=lambda f: f.source)

    def document(self, source: str) -> Document:
        """The indexed file ``source`` as it was read: its text (every citation's offsets point
        into it) and, for paged formats, where each page starts. KeyError when ``source`` is
        not indexed; ``UnreadableFile`` when its text was not kept and the file has changed."""
        self.refresh()
        state = self.store.files().get(source)
        if state is None:
            raise KeyError(f"{source!r} is not indexed")
        key = (source, state.file_hash)
        with self._documents_lock:
            doc = self._documents.get(key)
        if doc is None:
            doc = self.store.document(source, state.file_hash)
        if doc is None:  # indexed before texts were kept, or on another machine: read it again
            doc = read_document(self.corpus / source)
            if doc.file_hash != state.file_hash:
                raise UnreadableFile(f"{source} changed after it was indexed; index it again")
        with self._documents_lock:
            self._documents[key] = doc
            while len(self._documents) > DOCUMENTS_KEPT:
                self._documents.pop(next(iter(self._documents)))
        return doc

    def source_text(self, source: str) -> str:
        """The text of indexed file ``source`` as it was read, so that
        ``source_text(c.source)[c.start:c.end] == c.quote`` for every citation ``c`` (for
        ``.txt``/``.md`` files: the file's text)."""
        return self.document(source).text

    def retrieve(self, query: str, top_k: int | None = None) -> list[Passage]:
        """The passages hybrid retrieval finds for ``query``, in retrieval order, each scored
        on the evidence scale (``Passage.score``)."""
        retriever = self.retriever
        if retriever.empty or not query.strip():
            return []
        # Embedded through the evidence cache, so the answerer reuses this query vector.
        vector = self.evidence.vectors([query])[0]
        lang = self.evidence.language(query)
        passages = retriever.retrieve(query, query_vector=vector, top_k=top_k, lang=lang)
        rate = getattr(self.answerer, "rate", self.evidence.rate)  # the answerer's own scale
        return list(rate(query, passages))

    def ask(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        """Answer one question (``history`` resolves follow-ups)."""
        for event in self.stream(question, history):
            if isinstance(event, Answer):
                return event
        raise RuntimeError("answerer produced no answer")  # pragma: no cover

    def stream(self, question: str, history: Sequence[Turn] = ()) -> Iterator[str | Answer]:
        """Text deltas as they are generated, then the final, verified ``Answer``."""
        question = clean_question(question)
        self.refresh()
        self.calibrate()
        query = self.answerer.query_for(question, history)
        for event in self.answerer.stream(question, self.retrieve(query), history):
            if isinstance(event, Answer):
                event = self._quotes_as_on_disk(event, query, history)
            yield event

    def calibrate(self) -> None:
        """Let an answerer that learns from its corpus (``calibrate``: the extractive one
        asks it off-topic questions) do so, once per state of the store."""
        calibrate = getattr(self.answerer, "calibrate", None)
        retriever = self.retriever
        done = self._calibrated
        if calibrate is None or retriever.empty:
            return
        if done is not None and done[0] is self.answerer and done[1] is retriever:
            return

        def passages(probe: str) -> list[Passage]:
            vector = self.evidence.vectors([probe])[0]
            return retriever.retrieve(probe, query_vector=vector)

        try:
            calibrate(passages)
        except ChromaError:
            # Another process is rewriting the store under this view (a rebuild): the
            # answerer keeps what it knew and learns the corpus at a later question.
            return
        self._calibrated = (self.answerer, retriever)

    def _quotes_as_on_disk(self, answer: Answer, query: str, history: Sequence[Turn]) -> Answer:
        """``answer`` when every quote is at its offsets in its file as it is now. Otherwise a
        file changed after it was indexed: answer again once the store has followed (another
        process re-indexed it), else withhold the answer and say which file to re-index."""
        changed = stale_sources(self.corpus, answer)
        if changed and self.refresh():
            passages = self.retrieve(query)
            events = self.answerer.stream(answer.question, passages, history)
            answer = next(e for e in events if isinstance(e, Answer))
            changed = stale_sources(self.corpus, answer)
        if not changed:
            return answer
        names = ", ".join(changed)
        message = (
            f"{names} changed after it was indexed, so its passages cannot be quoted; index "
            "it again (qa index, or Re-sync in the chat UI) and ask again"
        )
        return replace(
            answer,
            text=f"The answer is withheld: {message}.",
            citations=[],
            sentences=[],
            abstained=True,
            notice=message,
        )

    def chat(self) -> Chat:
        """A conversation that remembers its turns."""
        return Chat(self)


class Chat:
    """A multi-turn conversation over an ``Assistant``."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.history: list[Turn] = []

    def ask(self, question: str) -> Answer:
        """Answer ``question`` in the context of the previous turns."""
        answer = self.assistant.ask(question, self.history)
        self.history.append(Turn(question, answer))
        return answer

    def stream(self, question: str) -> Iterator[str | Answer]:
        """Like ``Assistant.stream``; the final answer joins the history."""
        for event in self.assistant.stream(question, self.history):
            if isinstance(event, Answer):
                self.history.append(Turn(question, event))
            yield event

    def reset(self) -> None:
        """Forget the conversation."""
        self.history.clear()


def clean_question(question: str) -> str:
    """The question stripped, undecodable characters (lone surrogates from bytes that were not
    UTF-8, in argv or a request) replaced by U+FFFD and NUL bytes dropped; ValueError (the
    message users see) when it is empty or too long."""
    if not isinstance(question, str):
        raise TypeError("question must be a string")
    question = replace_surrogates(question).replace("\x00", "").strip()
    if not question:
        raise ValueError("question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"question is longer than {MAX_QUESTION_CHARS} characters")
    return question
