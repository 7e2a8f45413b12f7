"""Settings: one prefixed pydantic-settings class, read once per process."""

from __future__ import annotations

import secrets
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONTROLROOM_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{ROOT / 'controlroom.db'}",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///file.db or "
        "postgresql+asyncpg://user@host/db",
    )
    redis_url: str | None = Field(
        default=None, description="redis://host:port/db; unset runs the in-memory bus"
    )
    redis_namespace: str = Field(
        default="cr",
        pattern=r"^[A-Za-z0-9_.-]{1,32}$",
        description="prefix of every Redis key, so several deployments can share one Redis",
    )
    secret_key: str = Field(
        default="",
        description="signs session cookies; unset generates one per process (demo only)",
    )
    host: str = Field(default="127.0.0.1", description="address serve/demo bind to")
    port: int = Field(default=8000, ge=1, le=65535, description="port serve/demo listen on")
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated Origins allowed to open the WebSocket; "
        "empty allows only the server's own origin",
    )
    live_retention: int = Field(
        default=20_000,
        ge=100,
        description="deltas kept per event for console resume before a resync is needed",
    )
    batch_interval_ms: int = Field(
        default=25,
        ge=5,
        le=50,
        description="the hub sends each console at most one frame per interval",
    )
    console_queue_frames: int = Field(
        default=200, ge=4, description="frames a console may lag before it gets a resync"
    )
    ws_compression: bool = Field(default=False, description="permessage-deflate on WebSockets")
    session_hours: int = Field(default=12, ge=1, description="how long a login lasts")
    cookie_secure: bool = Field(default=False, description="mark the session cookie Secure")
    max_text_length: int = Field(
        default=2000, ge=16, description="longer platform text is truncated and flagged"
    )
    worker_batch: int = Field(
        default=500, ge=1, description="ingest entries a pipeline worker takes per read"
    )
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="CPU niceness a worker process takes, so on a shared machine the "
        "people-facing serve process (REST, fan-out) runs first; the pipeline batches anyway",
    )
    audience_ip_votes_per_10s: int = Field(
        default=300,
        ge=1,
        description="audience-page votes and upvotes one IP address may send per 10 s "
        "(per API process); raise it when many voters share one address",
    )
    public_url: str | None = Field(
        default=None,
        description="the address the audience reaches this server at (https://live.example.org), "
        "for the audience link and its QR code; by default the address of the request",
    )
    audience_snapshot_s: float = Field(
        default=1.0,
        ge=0,
        description="how long each API process reuses what every audience page shows "
        "(event, poll, approved questions) before reading it again",
    )
    frontend_dist: Path = Field(
        default=ROOT / "frontend" / "dist", description="built console served at /"
    )
    log_level: str = Field(default="info", description="debug, info, warning, error")

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and value.strip() == "":
            return None
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("use redis://host:port/db (or rediss://, unix://)")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("use one of debug, info, warning, error")
        return value.lower()

    def effective_secret(self) -> str:
        return self.secret_key or _process_secret()


@lru_cache
def _process_secret() -> str:
    return secrets.token_urlsafe(32)


class ConfigError(SystemExit):
    """Bad configuration: exits with a message naming each variable to fix."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = ["Control Room cannot start: fix these settings."]
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            lines.append(f"  CONTROLROOM_{field.upper()}: {err['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise ConfigError(2) from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()
