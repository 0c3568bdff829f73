"""Settings, read from SHUGU_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHUGU_", extra="ignore")

    data_dir: Path = Field(default=Path("shugu-data"), description="where shugu keeps its files")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: a SQLite file in the data dir"
    )
    max_upload_bytes: int = Field(default=8 * 1024**3, description="largest accepted upload")
    max_columns: int = Field(
        default=2000, ge=1, le=100_000,
        description="most columns a table may have; wider uploads are refused (422)",
    )
    max_json_bytes: int = Field(
        default=4 * 1024**2, ge=1024,
        description="largest request body of any API call but uploads (413 body_too_large)")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        default=None, description="URL the outside world reaches this server at"
    )
    token_ttl_days: int = Field(default=90, description="default lifetime of new API tokens")
    argon2_time_cost: int = Field(default=3, ge=1, description="argon2id passes")
    argon2_memory_kib: int = Field(default=65536, ge=8, description="argon2id memory (KiB)")
    argon2_parallelism: int = Field(default=4, ge=1, description="argon2id lanes")
    platform_uscc: str | None = Field(
        default=None, description="统一社会信用代码 of the platform operator (first start only)"
    )
    platform_name: str = "数谷数据交易平台"
    sharing_url_ttl_seconds: int = Field(
        default=900, ge=10, description="lifetime of signed Delta Sharing file URLs"
    )
    sth_interval_seconds: float = Field(
        default=60.0, description="how often the server signs a new ledger tree head (0: never)"
    )
    platform_fee_bp: int = Field(
        default=1000, ge=0, le=10_000,
        description="platform's share of a trade in basis points, unless its listing sets one",
    )
    public_notice_seconds: int = Field(
        default=5 * 86400, ge=0, description="length of a registration's public notice (公示)"
    )
    certificate_validity_days: int = Field(
        default=3 * 365, ge=1, description="validity of a registration certificate"
    )

    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    def resolved_database_url(self) -> str:
        url = self.database_url or f"sqlite:///{self.resolved_data_dir() / 'shugu.db'}"
        # psycopg 3 is the only PostgreSQL driver we ship.
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @property
    def tables_dir(self) -> Path:
        return self.resolved_data_dir() / "tables"

    @property
    def uploads_dir(self) -> Path:
        return self.resolved_data_dir() / "uploads"

    @property
    def keys_dir(self) -> Path:
        return self.resolved_data_dir() / "keys"

    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


# A syntactically valid code for the platform operator of a fresh install; set your own.
DEFAULT_PLATFORM_USCC = "91330108MA2H0UG01"
