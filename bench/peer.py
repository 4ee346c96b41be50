"""Peer benchmark: qa vs stock LlamaIndex on public QA sets (SQuAD, PIAF, XQuAD).

    python bench/peer.py --data ../shared/benchmarks --set squad11_dev --limit 2000

Both systems index the set's documents with the same embedder (qa's default). Stock
LlamaIndex is ``VectorStoreIndex.from_documents`` over Chroma with ``SentenceSplitter``
defaults (1024-token chunks, overlap 200) and top-k 2; its "answer" is its top chunk cut to
60 words (``MAX_WORDS``, the extractive answer's own limit). Indexes are kept in
``bench/.cache`` so a rerun only answers.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

import qa
from qa.text import fold

SETS = {
    "squad11_dev": ("docs", "questions.jsonl"),
    "squad20_dev": ("docs", "questions.jsonl"),
    "piaf": ("docs", "questions.min5words.jsonl"),
    "xquad": ("docs_en", "questions.es_q_en_docs.jsonl"),
    "xquad_de": ("docs_en", "questions.de_q_en_docs.jsonl"),
}
FOLDERS = {"xquad_de": "xquad"}  # sets that share another set's documents
MAX_WORDS = 60  # an answer this long or shorter may hold the gold (the answer's own limit)
_MARKER = re.compile(r"\s*\[\d+\]")


def contains_gold(text: str, answers: list[str]) -> bool:
    folded = fold(text)
    return any(fold(a) in folded for a in answers if a.strip())


def short_enough(text: str) -> bool:
    return len(_MARKER.sub("", text).split()) <= MAX_WORDS


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counted half."""
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def load_questions(folder: Path, name: str, limit: int | None, seed: int) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (folder / name).open(encoding="utf-8")]
    if limit and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    return rows


def ours(
    docs: Path,
    cache: Path,
    rows: list[dict[str, Any]],
    docs_prefix: str,
    answers: Path | None = None,
) -> dict[str, Any]:
    """Our assistant: hybrid retrieval + extractive answerer (each answer written to
    ``answers`` as a JSON line when given: text, citations, passages; for before/after diffs)."""
    started = time.perf_counter()
    assistant = qa.Assistant.from_folder(docs, store=cache / "ours", progress=True)
    index_s = time.perf_counter() - started
    m: dict[str, list[float]] = {
        k: [] for k in ("hit1", "hit5", "mrr", "answer", "cited", "verbatim")
    }
    scores_ans: list[float] = []
    scores_unans: list[float] = []
    abstain_right = abstain_wrong = unans_total = 0
    started = time.perf_counter()
    written = answers.open("w", encoding="utf-8") if answers else None
    for row in rows:
        gold = row["source_file"].removeprefix(docs_prefix)
        answer = assistant.ask(row["question"])
        if written is not None:
            record = {
                "question": row["question"],
                "text": answer.text,
                "citations": [c.to_dict() for c in answer.citations],
                "passages": [[p.chunk.id, round(p.score, 6)] for p in answer.passages],
            }
            written.write(json.dumps(record, ensure_ascii=False) + "\n")
        answerable = row.get("answerable", True)
        confidence = getattr(answer, "confidence", None) or 0.0  # absent before 7c9cdbf+1
        (scores_ans if answerable else scores_unans).append(confidence)
        if not answerable:
            unans_total += 1
            abstain_right += answer.abstained
            continue
        abstain_wrong += answer.abstained
        ranks = [
            i
            for i, p in enumerate(answer.passages)
            if p.chunk.source == gold and contains_gold(p.chunk.text, row["answers"])
        ]
        m["hit1"].append(bool(ranks) and ranks[0] < 1)
        m["hit5"].append(bool(ranks) and ranks[0] < 5)
        m["mrr"].append(1.0 / (ranks[0] + 1) if ranks else 0.0)
        m["answer"].append(short_enough(answer.text) and contains_gold(answer.text, row["answers"]))
        m["cited"].append(gold in {c.source for c in answer.citations})
        m["verbatim"].append(all(_verbatim(docs, c) for c in answer.citations))
    if written is not None:
        written.close()
    result = {k: float(np.mean(v)) if v else None for k, v in m.items()}
    result |= {"index_s": round(index_s, 1), "answer_s": round(time.perf_counter() - started, 1)}
    result["answered"] = len(m["answer"])
    if unans_total:
        abstained = abstain_right + abstain_wrong
        result["abstain_precision"] = abstain_right / abstained if abstained else None
        result["abstain_recall"] = abstain_right / unans_total
        # AUROC for detecting unanswerables: a lower confidence should mean unanswerable.
        result["abstain_auroc"] = roc_auc(-np.array(scores_unans), -np.array(scores_ans))
    return result


def stock(docs: Path, cache: Path, rows: list[dict[str, Any]], docs_prefix: str) -> dict[str, Any]:
    """Stock LlamaIndex: VectorStoreIndex over Chroma, SentenceSplitter defaults, top-k 2."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from qa.embed import DEFAULT_EMBEDDER, create_embedder
    from qa.embed.llamaindex import LlamaIndexEmbedding

    embed_model = LlamaIndexEmbedding(create_embedder(DEFAULT_EMBEDDER))
    client = chromadb.PersistentClient(
        path=str(cache / "stock"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", embed_model.model_name)[:40]
    collection = client.get_or_create_collection(f"stock-{slug}", embedding_function=None)
    store = ChromaVectorStore(chroma_collection=collection)
    started = time.perf_counter()
    if collection.count() == 0:
        documents = SimpleDirectoryReader(str(docs), filename_as_id=True).load_data()
        index = VectorStoreIndex.from_documents(
            documents,
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=embed_model,
            transformations=[SentenceSplitter()],
            show_progress=True,
        )
    else:
        index = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
    index_s = time.perf_counter() - started
    retriever = index.as_retriever(similarity_top_k=5)
    m: dict[str, list[float]] = {k: [] for k in ("hit1", "hit2", "hit5", "mrr", "answer", "cited")}
    started = time.perf_counter()
    for row in rows:
        if not row.get("answerable", True):
            continue
        gold = row["source_file"].removeprefix(docs_prefix)
        hits = retriever.retrieve(row["question"])
        files = [Path(h.node.metadata.get("file_path", "")).name for h in hits]
        ranks = [
            i
            for i, (f, h) in enumerate(zip(files, hits, strict=True))
            if f == Path(gold).name and contains_gold(h.node.get_content(), row["answers"])
        ]
        m["hit1"].append(bool(ranks) and ranks[0] < 1)
        m["hit2"].append(bool(ranks) and ranks[0] < 2)
        m["hit5"].append(bool(ranks) and ranks[0] < 5)
        m["mrr"].append(1.0 / (ranks[0] + 1) if ranks else 0.0)
        top = " ".join(hits[0].node.get_content().split()[:MAX_WORDS]) if hits else ""
        m["answer"].append(contains_gold(top, row["answers"]))
        m["cited"].append(bool(files) and files[0] == Path(gold).name)
    result = {k: float(np.mean(v)) if v else None for k, v in m.items()}
    result |= {"index_s": round(index_s, 1), "answer_s": round(time.perf_counter() - started, 1)}
    return result


def _verbatim(docs: Path, c: qa.Citation) -> bool:
    return (docs / c.source).read_text(encoding="utf-8")[c.start : c.end] == c.quote


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/benchmarks"))
    parser.add_argument("--set", choices=sorted(SETS), required=True)
    parser.add_argument("--limit", type=int, help="seeded sample of this many questions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("bench/.cache"))
    parser.add_argument("--skip-stock", action="store_true")
    parser.add_argument("--label", default="", help="tag for this run (e.g. before/after)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--answers", type=Path, help="also write each answer here (JSON lines)")
    args = parser.parse_args()

    folder = args.data / FOLDERS.get(args.set, args.set)
    docs_name, questions = SETS[args.set]
    rows = load_questions(folder, questions, args.limit, args.seed)
    cache = args.cache / FOLDERS.get(args.set, args.set)
    prefix = f"{docs_name}/"
    result: dict[str, Any] = {
        "set": args.set,
        "questions_file": questions,
        "questions": len(rows),
        "unanswerable": sum(not r.get("answerable", True) for r in rows),
        "seed": args.seed,
        "label": args.label,
        "ours": ours(folder / docs_name, cache, rows, prefix, args.answers),
    }
    if not args.skip_stock:
        result["stock"] = stock(folder / docs_name, cache, rows, prefix)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"peer-{args.set}{'-' + args.label if args.label else ''}.json"
    (args.out / name).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
