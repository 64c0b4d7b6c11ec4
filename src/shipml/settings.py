"""All configuration in one place: environment variables with the prefix ``SHIPML_``.

With nothing set, everything runs embedded under one home folder (``./var``): a SQLite database,
a SQLite job queue, MLflow on SQLite with local artifacts, Parquet datasets. Setting a URL moves
that part onto a real server. Each app keeps its own settings class beside its code (``SHIPML_<APP>_…``).
"""

from __future__ import annotations

import secrets
from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIPML_", extra="ignore")

    home: Path = Field(Path("var"), description="Folder holding every embedded store.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; unset = SQLite in home.")
    redis_url: str | None = Field(None, description="Redis URL for the job queue; unset = SQLite queue.")
    mlflow_uri: str | None = Field(None, description="MLflow tracking URI; unset = SQLite in home.")
    api_url: str = Field("http://127.0.0.1:8000", description="Where the UI finds the API.")
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = Field(1, ge=1, le=64, description="API processes sharing the port (each keeps its own "
                                                          "caches, loaded models and rate-limit counts)")
    access_log: bool = Field(False, description="log every request (metrics at /metrics count them anyway)")
    ui_port: int = 8501
    admin_token: str | None = Field(None, description="Bearer token for admin endpoints; generated if unset.")

    queue_name: str = "shipml"
    worker_threads: int = 2
    worker_periodic: bool = Field(True, description="run the periodic jobs' scheduler in this worker")
    job_heartbeat_seconds: float = 5.0
    job_stale_seconds: float = 30.0
    job_max_attempts: int = 2
    cheap_jobs_in_api: bool = Field(
        False, description="the API process runs a burst of cheap jobs it has just queued (shows predictions) itself, "
                           "instead of leaving them all to the worker; each job still runs once (off: no gain "
                           "measured on 2 cores, see benchmarks/README.md)")
    champion_poll_seconds: float = 5.0
    health_cache_seconds: float = 1.0
    version_check_seconds: float = Field(
        1.0, ge=0, description="how long an API process reuses a looked-up data version (latest snapshot, catalog "
                               "stamp) before asking the database again; 0 = every request")
    fetch_timeout_seconds: float = 5.0

    first_run_full_training: bool = Field(
        True, description="after an app's first champion (its quick candidates), compare every candidate in the "
                          "background")
    retrain_debounce_seconds: float = Field(
        30.0, ge=0, description="after new data is stored, wait this long (more data may follow) before one retrain")
    max_body_bytes: int = Field(2_000_000, ge=1024, description="largest request body the API accepts (413 above)")
    public_writes_per_minute: int = Field(120, ge=1, description="public writes (ratings, requests) per client")
    max_queued_jobs: int = Field(10_000, ge=1, description="queued jobs of one kind before new ones get 429")
    source_hosts: str = Field("", description="comma-separated hosts URL sources may use; empty = any public host")
    allow_private_sources: bool = Field(False, description="let URL sources reach private and loopback addresses")
    source_dirs: str = Field("", description="comma-separated folders API file sources must be under; "
                                             "empty = <home>/sources")
    max_source_bytes: int = Field(200_000_000, ge=1, description="largest source a URL may deliver")
    spark_master: str = Field("local[*]", description="Spark master URL for the scale-out paths")
    spark_driver_host: str | None = Field(
        None, description="the address executors reach the driver at (a cluster: this host's routable name or IP); "
                          "unset: 127.0.0.1 on local[...], else Spark's choice")
    spark_bind_address: str | None = Field(
        None, description="the address the driver listens on (e.g. 0.0.0.0 behind NAT); unset: the driver host")
    spark_driver_port: int | None = Field(None, ge=1, le=65535, description="the driver's RPC port (unset: any)")
    spark_block_manager_port: int | None = Field(
        None, ge=1, le=65535, description="the block managers' port, driver and executors (unset: any)")
    spark_java_options: str = Field(
        "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
        description="the driver's and executors' JVM options; the default (client JIT, serial collector) halves a "
                    "fresh session's CPU for our jobs, which move few rows in the JVM; empty: the JVM's defaults")
    spark_checkpoint: str | None = Field(
        None, description="where streaming checkpoints and state live; on a cluster a URI every node shares "
                          "(file:// on a shared mount, hdfs://, s3a://); unset on local[...]: under the home folder")

    @cached_property
    def resolved_home(self) -> Path:
        home = self.home.expanduser().resolve()
        home.mkdir(parents=True, exist_ok=True)
        return home

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.resolved_home / 'shipml.db'}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_uri or f"sqlite:///{self.resolved_home / 'mlflow.db'}"

    @property
    def artifacts_dir(self) -> Path:
        return self.resolved_home / "mlartifacts"

    @property
    def datasets_dir(self) -> Path:
        return self.resolved_home / "datasets"

    @property
    def queue_path(self) -> Path:
        return self.resolved_home / "queue.db"

    def token(self) -> str:
        """The admin token: from the environment, else read from (or generated into) the home folder."""
        return self.admin_token or self._stored_token

    @cached_property
    def _stored_token(self) -> str:
        """The token kept in the home folder (made on first use); read once per process (a new token needs a
        restart, as it would with the environment variable)."""
        path = self.resolved_home / "admin_token"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o600)
        return path.read_text().strip()

    def token_is_new(self) -> bool:
        return not self.admin_token and not (self.resolved_home / "admin_token").exists()


@lru_cache
def get_settings() -> Settings:
    return Settings()
