"""Settings from ``FITSYNC_*`` environment variables (and an optional ``.env`` file)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FITSYNC_", env_file=".env", extra="ignore")

    # Stores. Unset URLs mean "start the embedded store under data_dir".
    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = Field(default_factory=lambda: Path.home() / ".fitsync")
    redis_prefix: str = "fitsync:"
    # Time series: InfluxDB (v1 HTTP API, e.g. http://127.0.0.1:8086/fitsync) when set,
    # PostgreSQL otherwise.
    influx_url: str | None = None
    db_pool_size: int = 10

    # Security. Unset secret_key means "generate one and keep it in data_dir".
    secret_key: str | None = None
    jwt_issuer: str = "fitsync"
    jwt_audience: str = "fitsync-api"
    access_token_minutes: int = 15
    refresh_token_days: int = 7
    # argon2id, OWASP's minimum: 19 MiB memory, 2 iterations, 1 lane.
    argon2_memory_kib: int = 19 * 1024
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    login_max_failures_account: int = 5
    login_max_failures_ip: int = 30
    login_window_seconds: int = 900

    # HTTP
    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 25 * 1024 * 1024  # watch files (POST /progress/activities)
    public_url: str = "http://127.0.0.1:8000"

    # Notifications. Unset SMTP/SMS URLs mean "record to the dev outbox table instead".
    smtp_url: str | None = None  # smtp://user:pw@host:587?starttls=true, smtps://host:465
    smtp_from: str = "FitSync <no-reply@fitsync.invalid>"
    smtp_timeout_seconds: float = 10.0
    vapid_private_key: str | None = None  # PEM; generated once into data_dir when unset
    vapid_subject: str = "mailto:operator@fitsync.invalid"
    sms_url: str | None = None  # Twilio-compatible: https://ACCOUNT_SID:AUTH_TOKEN@host
    sms_from: str | None = None
    notifications_retention_days: int = 180

    # In-process worker (outbox relay, event consumers, scheduled jobs).
    run_worker: bool = True
    relay_interval_seconds: float = 0.5
    billing_job_seconds: float = 900.0  # how often the worker looks for due renewals

    # Billing: a Stripe-compatible card processor (unset: only manual payments).
    billing_card_api_url: str | None = None
    billing_card_api_key: str | None = None
    billing_card_webhook_secret: str | None = None

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept (0600) in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process created it first
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_urlsafe(48))
        key = path.read_text().strip()
        self.secret_key = key
        return key
