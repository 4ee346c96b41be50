"""Settings: QA_ environment, qa.toml, OPENAI_* compatibility, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from qa.settings import Settings

_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "QA_LLM_API_KEY", "QA_LLM_BASE_URL", "QA_TOP_K")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in _ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_offline() -> None:
    s = Settings()
    assert s.corpus == Path("seeds") and s.store == Path(".qa")
    assert not s.llm_configured and s.answerer_name == "extractive"
    assert s.chroma_url is None and s.embedder == "e5"


def test_openai_environment_switches_to_the_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    s = Settings()
    assert s.llm_configured and s.answerer_name == "openai"
    assert s.llm_base_url == "http://127.0.0.1:9/v1"
    assert Settings(answerer="extractive").answerer_name == "extractive"


def test_project_variables_win_over_openai_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-openai")
    monkeypatch.setenv("QA_LLM_API_KEY", "from-qa")
    key = Settings().llm_api_key
    assert key is not None and key.get_secret_value() == "from-qa"
    assert "from-qa" not in repr(Settings()), "the key is never printed"


def test_toml_file_then_environment_then_arguments(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "qa.toml").write_text('corpus = "docs"\ntop_k = 3\n', encoding="utf-8")
    assert Settings().corpus == Path("docs") and Settings().top_k == 3
    monkeypatch.setenv("QA_TOP_K", "4")
    assert Settings().top_k == 4
    assert Settings(top_k=5).top_k == 5


def test_bad_values_are_refused_clearly() -> None:
    with pytest.raises(ValidationError, match="chunk_overlap must be smaller"):
        Settings(chunk_size=100, chunk_overlap=100)
    with pytest.raises(ValidationError):
        Settings(top_k=0)
    with pytest.raises(ValidationError):
        Settings(unknown_field=1)  # type: ignore[call-arg]


def test_every_field_is_described() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, name
