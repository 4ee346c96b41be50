"""Settings: QA_ environment, qa.toml, OPENAI_* compatibility, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from qa.locations import store_for
from qa.settings import DEFAULT_CORPUS, Settings, SettingsFileError, settings_problem

_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "QA_LLM_API_KEY", "QA_LLM_BASE_URL", "QA_TOP_K")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in _ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    s = Settings()
    assert s.corpus == DEFAULT_CORPUS == Path("seeds")
    assert s.store.parent == tmp_path / "data" / "qa" / "stores"
    assert s.store.name.startswith("seeds-")
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


def test_each_corpus_has_one_store_whatever_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The store is found from the corpus's absolute path: the same folder named from another
    directory (or through a relative path) finds the same store; another folder never does."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    (tmp_path / "a" / "docs").mkdir(parents=True)
    (tmp_path / "b" / "docs").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a")
    here = Settings(corpus=Path("docs")).store
    monkeypatch.chdir(tmp_path)
    assert Settings(corpus=Path("a/docs")).store == here == store_for(tmp_path / "a" / "docs")
    assert Settings(corpus=Path("b/docs")).store != here, "same name, another folder"
    assert Settings(corpus=Path("docs"), store=tmp_path / "mine").store == tmp_path / "mine"
    monkeypatch.setenv("QA_STORE", "")
    assert Settings(corpus=Path("a/docs")).store == here, "an empty QA_STORE means unset"


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


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf"])
def test_non_finite_numbers_are_refused_with_the_settings_name(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """NaN passes every bound check (nan < 0.66 is False: the answerer would never abstain)."""
    monkeypatch.setenv("QA_ABSTAIN_THRESHOLD", value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert settings_problem(caught.value).startswith(
        "invalid setting abstain_threshold (QA_ABSTAIN_THRESHOLD or qa.toml): "
        "Input should be a finite number"
    )
    with pytest.raises(ValidationError, match="finite"):
        Settings(llm_temperature=float("nan"), abstain_threshold=0.5)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"top_k = \n", "is not valid TOML: Invalid value (at line 1, column 9)"),
        (b"corpus = '\xff'\n", "is not UTF-8 text (invalid start byte)"),
        (None, "is not a file (the settings file qa.toml)"),
    ],
)
def test_a_broken_settings_file_is_named(
    tmp_path: Path, content: bytes | None, problem: str
) -> None:
    target = tmp_path / "qa.toml"  # the autouse fixture made tmp_path the working directory
    if content is None:
        target.mkdir()
    else:
        target.write_bytes(content)
    with pytest.raises(SettingsFileError) as caught:
        Settings()
    assert str(caught.value) == f"{target} {problem}"
