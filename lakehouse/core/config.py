"""Typed configuration: Hydra composes `conf/`, these dataclasses validate it.

Only the entry point loads configuration; everything else receives a `Config`.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.errors import HydraException
from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lakehouse.core.storage import folder_exists

CONF_DIR_ENV = "LAKEHOUSE_CONF_DIR"
# engine=connect: the server's bearer token, never kept in configuration.
CONNECT_TOKEN_ENV = "LAKEHOUSE_CONNECT_TOKEN"


def storage_errors() -> tuple[type[Exception], ...]:
    """What boto3 raises when a bucket, region, endpoint or credential is wrong (uploads wrap
    ClientError in boto3's own S3UploadFailedError), for `except storage_errors():`.

    Only from boto3 and botocore once imported: an error of a library no code has imported
    cannot have been raised, and importing boto3 (a third of a second) only to name its
    errors would slow every command that never touches S3.
    """
    errors: list[type[Exception]] = []
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is not None:
        errors += [botocore.BotoCoreError, botocore.ClientError]
    boto3 = sys.modules.get("boto3.exceptions")
    if boto3 is not None:
        errors.append(boto3.Boto3Error)
    return tuple(errors)


def has_aws() -> bool:
    """Whether boto3 (the aws extra) is installed, found without importing it."""
    try:
        return importlib.util.find_spec("boto3") is not None
    except ImportError:  # a finder that refuses it (the install test hides it that way)
        return False


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key and the fix."""


# The kinds a setting chooses from. String enums: `config.engine.name == EngineName.sail` holds, and
# they print and digest as their plain values.
class EngineName(StrEnum):
    sail = "sail"
    spark = "spark"
    connect = "connect"  # any Spark Connect server: Sail in cluster mode, Spark 4, Databricks


class S3Connector(StrEnum):
    s3a = "s3a"  # Hadoop's connector (open-source Spark)
    native = "native"  # the cluster reads s3:// itself (EMR, Databricks)


class StorageKind(StrEnum):
    local = "local"
    s3 = "s3"


class CatalogKind(StrEnum):
    local = "local"
    glue = "glue"


ENGINES = tuple(EngineName)
STORAGE_KINDS = tuple(StorageKind)
CATALOG_KINDS = tuple(CatalogKind)

# What to say when a value is none of its kind's: the line after `key='value'`.
NOT_A_CHOICE = {
    "engine.name": f" is not an engine: choose one of {', '.join(EngineName)} (for example "
    "engine=sail, or engine=connect engine.remote=sc://host:port)",
    "engine.s3_connector": ": choose s3a (open-source Spark) or native (EMR, Databricks: the "
    "cluster already reads s3://)",
    "storage.kind": f" is not supported: choose one of {', '.join(StorageKind)} (for example "
    "storage=local)",
    "catalog.kind": f" is not supported: choose one of {', '.join(CatalogKind)} (for example "
    "catalog=glue)",
}


@dataclass
class EngineConfig:
    name: EngineName = MISSING
    app_name: str = "stedi-lakehouse"
    # Used by engine=connect only: the server's URL, sc://host:port with Spark Connect's
    # ;use_ssl=true and other parameters. Its token is a secret: LAKEHOUSE_CONNECT_TOKEN.
    remote: str = ""
    # Used by engine=spark only: the master URL, and extra Spark properties.
    master: str = "local[*]"
    conf: dict[str, str] = field(default_factory=dict)
    # Offline clusters: jar paths/URLs for delta-spark, delta-storage (and hadoop-aws); when
    # set, no Maven coordinates are added.
    jars: list[str] = field(default_factory=list)
    # How s3:// is read on engine=spark: "s3a" (Hadoop connector) or "native" (EMR, Databricks).
    s3_connector: S3Connector = S3Connector.s3a
    # engine=sail: memory (MB) its joins, sorts and aggregations may hold before spilling to
    # disk; 0: no limit (fastest). A limit also makes joins sort-merge joins, which can spill.
    memory_limit_mb: int = 0
    # engine=sail: further options from Sail's configuration reference, nested by their dotted
    # names, e.g. {execution: {batch_size: 16384}}; set as SAIL_* variables when it starts.
    sail: dict[str, Any] = field(default_factory=dict)


@dataclass
class StorageConfig:
    kind: StorageKind = MISSING
    # storage=s3 only. Credentials are not configuration: they come from the AWS chain.
    bucket: str | None = None
    region: str | None = None
    endpoint_url: str | None = None


@dataclass
class CatalogConfig:
    kind: CatalogKind = MISSING
    # catalog=glue only.
    region: str | None = None
    endpoint_url: str | None = None
    database_prefix: str = ""
    engine_catalog: bool = False
    # A Glue table of the same name that points at another location (another warehouse with
    # the same database prefix) stops the run, unless this is true: then it is pointed here.
    take_over_tables: bool = False


@dataclass
class PathsConfig:
    landing: str = MISSING
    warehouse: str = MISSING


# Salts that appeared in this project's configuration: never a secret.
PUBLIC_SALTS = ("stedi-lakehouse-default-salt",)


@dataclass
class PrivacyConfig:
    # Keep only readings taken at or after the customer's research-consent time.
    consent_cutoff: bool = True
    # Mixed into the pseudonymous customer key so it cannot be rebuilt from an email alone;
    # `auto`: a random secret kept with the warehouse (`lakehouse.core.secrets`).
    pseudonym_salt: str = MISSING


@dataclass
class RunConfig:
    # How long a run waits for another run on the same warehouse to finish before failing.
    lock_timeout_seconds: float = 60.0
    # S3 warehouses: a run's lease expires this long after its last renewal (a killed run
    # blocks others at most this long).
    lease_seconds: float = 60.0
    # `run --watch`: a changed landing file must keep its size and time this long before a
    # run reads it, so a file still being written is not read half (renamed files settle at
    # once; this is what a writer that appends in place is given between writes).
    watch_settle_seconds: float = 0.5
    # `run --watch` on S3 (no change notifications): list the landing zone this often. Also
    # how soon a watcher tries again after another process held the warehouse.
    watch_poll_seconds: float = 2.0


@dataclass
class MaintenanceConfig:
    # At the end of a run, compact a table whose current version reads more files than this
    # (0: never). Incremental runs add a few small files per changed table each time.
    compact_above_files: int = 64
    # Bronze writes one data file per this many MB of newly landed JSON (0: one per landing
    # file). Many small deliveries would otherwise become as many small files.
    landing_mb_per_bronze_file: int = 512


@dataclass
class IngestConfig:
    # A landing file that is a link to a file outside the landing zone is skipped (and named
    # in the run summary) unless this is true.
    follow_outside_links: bool = False


@dataclass
class TablesConfig:
    # The silver readings tables mark deleted rows (a withdrawn consent) in deletion vectors
    # instead of rewriting the files that hold them: consent changes cost what they delete, not
    # the table's size. Their readers need Delta's deletionVectors feature (every engine the
    # lakehouse runs on has it; deltalake's to_pandas does not), and a table keeps needing it
    # once it has it. The gold tables never use them.
    deletion_vectors: bool = True


@dataclass
class QualityConfig:
    # A folder of `<schema>.<table>.rules.yaml` files replacing the rules shipped beside those
    # tables' DDL (`silver/sql/<table>.rules.yaml`, ...); empty: the shipped rules.
    rules_dir: str = ""
    # `lakehouse status` exits 1 when a source's newest landed file is older than this many
    # hours (0: no limit).
    max_source_age_hours: float = 0.0


@dataclass
class Config:
    engine: EngineConfig = field(default_factory=EngineConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    run: RunConfig = field(default_factory=RunConfig)
    maintenance: MaintenanceConfig = field(default_factory=MaintenanceConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    tables: TablesConfig = field(default_factory=TablesConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)


ConfigStore.instance().store(name="lakehouse_schema", node=Config)


def default_config_dir() -> Path:
    """`LAKEHOUSE_CONF_DIR` if set; else the checkout's `conf/` beside the packages; else the
    copy of it an installed wheel carries (`lakehouse/conf/`)."""
    configured = os.environ.get(CONF_DIR_ENV)
    if configured:
        return Path(configured)
    checkout = Path(__file__).resolve().parents[2] / "conf"
    if (checkout / "config.yaml").is_file():
        return checkout
    return packaged_config_dir()


def packaged_config_dir() -> Path:
    """Where an installed wheel keeps its copy of `conf/`."""
    return Path(__file__).resolve().parents[1] / "conf"


def load_config(
    overrides: list[str] | None = None,
    config_dir: Path | None = None,
    base_dir: Path | None = None,
) -> Config:
    """Compose `config.yaml` with Hydra overrides (`key=value`) and validate it.

    Relative local paths are resolved against `base_dir` (default: the current directory).
    """
    config_dir = (config_dir or default_config_dir()).resolve()
    if not (config_dir / "config.yaml").is_file():
        raise ConfigError(
            f"no config.yaml in {config_dir}: set {CONF_DIR_ENV} to the project's conf/ folder"
        )
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base=None):
            composed = compose(config_name="config", overrides=list(overrides or []))
        config = OmegaConf.to_object(composed)
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(_explain(error)) from error
    assert isinstance(config, Config)
    return validate(config, base_dir)


def validate(config: Config, base_dir: Path | None = None) -> Config:
    """Check values Hydra's types cannot; return the config with absolute local paths."""
    if config.engine.memory_limit_mb < 0 or 0 < config.engine.memory_limit_mb < 256:
        raise ConfigError(
            f"engine.memory_limit_mb={config.engine.memory_limit_mb}: use 0 (no limit) or at "
            "least 256"
        )
    if config.engine.name == EngineName.connect:
        _check_remote(config.engine.remote)
    if config.run.lock_timeout_seconds < 0:
        raise ConfigError(
            f"run.lock_timeout_seconds={config.run.lock_timeout_seconds} is negative: "
            "set it to 0 (fail at once when busy) or a number of seconds to wait"
        )
    # NaN and infinity pass a plain comparison and would make the watcher spin or never run.
    settle, poll = config.run.watch_settle_seconds, config.run.watch_poll_seconds
    if not 0 <= settle < math.inf:
        raise ConfigError(
            f"run.watch_settle_seconds={settle}: use 0 (run as soon as a change is seen) or a "
            "number of seconds such as 0.5"
        )
    if not 0 < poll < math.inf:
        raise ConfigError(
            f"run.watch_poll_seconds={poll}: use a positive number of seconds such as 2"
        )
    maintenance = config.maintenance
    _require_at_least(
        "run.lease_seconds",
        config.run.lease_seconds,
        3,
        "use at least 3 (it is renewed every third of it)",
    )
    _require_at_least(
        "maintenance.compact_above_files",
        maintenance.compact_above_files,
        0,
        "use 0 (never compact) or a file count such as 64",
    )
    _require_at_least(
        "maintenance.landing_mb_per_bronze_file",
        maintenance.landing_mb_per_bronze_file,
        0,
        "use 0 (one bronze file per landing file) or a size in MB such as 512",
    )
    _require_at_least(
        "quality.max_source_age_hours",
        config.quality.max_source_age_hours,
        0,
        "use 0 (no limit) or a number of hours such as 24",
    )
    if not config.privacy.pseudonym_salt.strip():
        raise ConfigError(
            "privacy.pseudonym_salt is empty: set it to a secret, non-empty string, or to auto "
            "(a random secret kept with the warehouse)"
        )
    if config.privacy.pseudonym_salt in PUBLIC_SALTS:
        raise ConfigError(
            "privacy.pseudonym_salt is a value published with this project, so anyone could "
            "turn an email into its pseudonym: set your own secret (LAKEHOUSE_PSEUDONYM_SALT) "
            "or auto (a random secret kept with the warehouse)"
        )
    needs_aws = config.storage.kind == StorageKind.s3 or config.catalog.kind == CatalogKind.glue
    if needs_aws and not has_aws():
        raise ConfigError(
            "storage=s3 and catalog=glue reach AWS through boto3, which is not installed: "
            "pip install 'stedi-lakehouse[aws]'"
        )
    if config.catalog.kind == CatalogKind.glue:
        _check_glue(config)
    if config.storage.kind == StorageKind.s3:
        _check_s3_paths(config)
    else:
        _resolve_local_paths(config, base_dir or Path.cwd())
    if config.quality.rules_dir:
        # Rules are read from this machine whatever the storage: resolved like local paths.
        rules_dir = Path(config.quality.rules_dir).expanduser()
        rules_dir = rules_dir if rules_dir.is_absolute() else (base_dir or Path.cwd()) / rules_dir
        if not rules_dir.is_dir():
            raise ConfigError(
                f"quality.rules_dir={config.quality.rules_dir}: no such folder (it holds "
                "<schema>.<table>.rules.yaml files; leave it empty for the shipped rules)"
            )
        config.quality.rules_dir = str(rules_dir.resolve())
    return config


def _check_remote(remote: str) -> None:
    if not remote.startswith("sc://") or len(remote) == len("sc://"):
        raise ConfigError(
            f"engine.remote={remote!r} is not a Spark Connect URL: engine=connect needs "
            "sc://host:port (or SPARK_REMOTE set), e.g. engine.remote=sc://sail.internal:50051"
        )
    if re.search(r";\s*token\s*=", remote, flags=re.IGNORECASE):
        raise ConfigError(
            f"engine.remote carries a token: configuration is printed and logged, so put the "
            f"token in {CONNECT_TOKEN_ENV} instead and remove ;token=... from the URL"
        )


def _resolve_local_paths(config: Config, base_dir: Path) -> None:
    landing = _local_path("paths.landing", config.paths.landing, base_dir)
    warehouse = _local_path("paths.warehouse", config.paths.warehouse, base_dir)
    if warehouse.exists() and not warehouse.is_dir():
        raise ConfigError(
            f"paths.warehouse={warehouse} is a file: point it at a folder (it is created if absent)"
        )
    _check_apart(str(landing), str(warehouse))
    config.paths.landing = str(landing)
    config.paths.warehouse = str(warehouse)


def _check_s3_paths(config: Config) -> None:
    for key in ("landing", "warehouse"):
        value = getattr(config.paths, key).rstrip("/")
        bucket = value.removeprefix("s3://").split("/")[0]
        if bucket == "None" and not config.storage.bucket:
            raise ConfigError(
                "storage.bucket is not set: storage=s3 needs the bucket for the landing zone and "
                "warehouse (storage.bucket=my-bucket), or s3:// URIs in paths.*"
            )
        if not value.startswith("s3://") or not bucket:
            raise ConfigError(
                f"paths.{key}={value} is not an s3://bucket/prefix URI, but storage.kind=s3 "
                "keeps data in S3: set storage.bucket (paths follow it) or give an s3:// URI"
            )
        setattr(config.paths, key, value)
    if not config.storage.region:
        raise ConfigError("storage.region is empty: set it (or AWS_REGION), e.g. us-east-1")
    _check_endpoint("storage.endpoint_url", config.storage.endpoint_url)
    _check_apart(config.paths.landing, config.paths.warehouse)


def _check_glue(config: Config) -> None:
    glue = config.catalog
    if not glue.region:
        raise ConfigError("catalog.region is empty: set it (or AWS_REGION), e.g. us-east-1")
    _check_endpoint("catalog.endpoint_url", glue.endpoint_url)
    if glue.database_prefix and not glue.database_prefix.replace("_", "a").isalnum():
        raise ConfigError(
            f"catalog.database_prefix={glue.database_prefix!r}: use letters, digits and _ only"
        )
    if glue.engine_catalog and glue.database_prefix:
        raise ConfigError(
            "catalog.engine_catalog=true needs catalog.database_prefix empty: the jobs name "
            "tables bronze.*, silver.*, gold.* and ops.*, so those must be the Glue databases"
        )
    if config.storage.kind != "s3":
        raise ConfigError(
            "catalog=glue registers S3 locations, but storage.kind is "
            f"{config.storage.kind!r}: use storage=s3 with it (Athena cannot read local folders)"
        )


def _check_endpoint(key: str, value: str | None) -> None:
    if value and not value.startswith(("http://", "https://")):
        raise ConfigError(f"{key}={value} is not an http(s):// URL: set it or leave it null")


# Characters the engine mis-reads in a table location (it URL-escapes spaces and `%`, and reads
# brackets, braces, `*` and `?` as patterns).
_UNSAFE_IN_WAREHOUSE = set(" %[]{}*?\\\n\t")


def _check_warehouse_path(warehouse: str) -> None:
    unsafe = sorted(set(warehouse) & _UNSAFE_IN_WAREHOUSE)
    if unsafe:
        shown = " ".join(repr(c) for c in unsafe)
        raise ConfigError(
            f"paths.warehouse={warehouse!r} contains {shown}, which the engine cannot use in a "
            "table location: choose a warehouse folder without them (quotes are fine)"
        )


def _check_apart(landing: str, warehouse: str) -> None:
    _check_warehouse_path(warehouse)
    inside = warehouse.startswith(landing.rstrip("/") + "/") or landing.startswith(
        warehouse.rstrip("/") + "/"
    )
    if warehouse == landing or inside:
        raise ConfigError(
            f"paths.warehouse={warehouse} and paths.landing={landing} overlap: "
            "keep the warehouse outside the landing zone and vice versa"
        )


def require_landing(config: Config, sources: Sequence[str] = ()) -> str:
    """The landing zone, which a run needs to exist before it writes anything.

    For S3 it also checks that the warehouse's bucket answers, so a wrong bucket, region or
    missing credentials stop the run here rather than half-way. `sources` name the folders
    the landing zone should hold, for the message.
    """
    landing = config.paths.landing
    folders = ", ".join(f"{source}/" for source in sources) or "the landing files"
    try:
        exists = folder_exists(landing)
        if not exists:
            raise ConfigError(
                f"paths.landing={landing} does not exist: point paths.landing at the folder "
                f"holding {folders} (`lakehouse generate` writes sample data there)"
            )
        folder_exists(config.paths.warehouse)
    except storage_errors() as error:
        raise storage_error(f"cannot read {landing} or {config.paths.warehouse}", error) from error
    return landing


def storage_error(what: str, error: Exception) -> ConfigError:
    """The configuration message for a store that does not answer (bucket, region, keys)."""
    detail = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return ConfigError(
        f"{what}: {detail}. Check storage.bucket, storage.region, storage.endpoint_url and "
        "the AWS credentials (standard chain)"
    )


def _local_path(key: str, value: str, base_dir: Path) -> Path:
    if "://" in value:
        raise ConfigError(
            f"{key}={value} is a URI, but storage.kind=local needs a local folder path "
            "(for S3 use storage=s3 storage.bucket=...)"
        )
    if not value.strip():
        raise ConfigError(f"{key} is empty: set it to a folder path")
    return (base_dir / Path(value).expanduser()).resolve()


def _explain(error: Exception) -> str:
    """Turn Hydra/OmegaConf errors into one line that says what to change."""
    message = str(error).strip()
    if "Could not find 'engine/" in message or "In 'config': Could not find 'engine" in message:
        return (
            f"unknown engine: choose one of {', '.join(ENGINES)} (engine=sail). ({_first(message)})"
        )
    if "Could not find 'storage/" in message:
        kinds = ", ".join(STORAGE_KINDS)
        return f"unknown storage: choose one of {kinds} (storage=local). ({_first(message)})"
    if "Could not find 'catalog/" in message:
        kinds = ", ".join(CATALOG_KINDS)
        return f"unknown catalog: choose one of {kinds} (catalog=local). ({_first(message)})"
    cause = error.__cause__
    full_key = getattr(cause, "full_key", None) or getattr(error, "full_key", None)
    if full_key in NOT_A_CHOICE:
        value = getattr(cause, "value", None) or getattr(error, "value", None)
        return f"{full_key}={str(value)!r}{NOT_A_CHOICE[full_key]}"
    if full_key and cause is not None:
        if "not in" in str(cause):
            return (
                f"{full_key}: no such configuration key "
                "(check its spelling; `lakehouse config` prints every key)"
            )
        return f"{full_key}: {_first(str(cause))}"
    if full_key:
        return f"{full_key}: {_first(message)}"
    return " ".join(message.splitlines()[:2])


def _require_at_least(key: str, value: float, minimum: float, fix: str) -> None:
    if value < minimum:
        raise ConfigError(f"{key}={value}: {fix}")


def _first(message: str) -> str:
    return message.splitlines()[0] if message else "invalid configuration"
