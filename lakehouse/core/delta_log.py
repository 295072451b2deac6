"""Delta transaction logs: versions and commit metrics, and the operations the engines differ on.

Reading a log (is there a table, which version, what did a commit do) uses the `deltalake`
package on every engine: it reads the log straight from storage, whoever wrote it.

History, restore and vacuum go through `TableLog`, the one place the engines differ: the
embedded engine has no DESCRIBE HISTORY, RESTORE or VACUUM, so `DeltalakeLog` does them with
`deltalake`; on a Spark cluster `SparkSqlLog` runs delta-spark's SQL, which also works where
the driver cannot reach storage directly (Unity Catalog).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlparse

from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from lakehouse.core.aws import aws_credentials
from lakehouse.core.config import EngineName
from lakehouse.core.faults import fault_point
from lakehouse.core.storage import file_names, is_s3, join, list_files, remove_file

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Optional in the Delta protocol: it only saves readers a listing of the log.
CHECKPOINT_HINT = "_last_checkpoint"
LOG_RETENTION = "delta.logRetentionDuration"
CHECKPOINT_INTERVAL = "delta.checkpointInterval"
DEFAULT_LOG_RETENTION = "interval 30 days"
# How long a vacuum keeps the files newer versions replaced, unless told (a week).
VACUUM_RETAIN_HOURS = 168
# The log retention a purge sets while it cleans (`purge_log`); found on a table, it is a
# purge that was killed, not anyone's choice.
_PURGING = "interval 0 seconds"


def is_delta_table(location: str) -> bool:
    return bool(DeltaTable.is_deltatable(location, storage_options=storage_options(location)))


def delta_table(location: str) -> DeltaTable:
    return DeltaTable(location, storage_options=storage_options(location))


def storage_options(location: str) -> dict[str, str] | None:
    """Credentials for `deltalake` on S3, resolved by boto3's standard chain.

    deltalake reads keys from the environment and instance roles but not shared profiles or
    SSO, which the engine and boto3 both honour; handing it boto3's answer keeps one chain.
    Nothing here is logged or stored.
    """
    if not is_s3(location):
        return None
    credentials = aws_credentials()
    if credentials is None:
        return None  # let deltalake try its own chain (instance or task role)
    options = {
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
    }
    if credentials.token:
        options["AWS_SESSION_TOKEN"] = credentials.token
    return options


def table_version(location: str) -> int | None:
    """The table's latest version, or None when no table exists there."""
    try:  # one read of the log, not an is_deltatable() check and then a second
        return int(delta_table(location).version())
    except TableNotFoundError:
        return None


def drop_checkpoint_hint(location: str) -> None:
    """Remove the table's `_delta_log/_last_checkpoint` hint, so every version stays readable.

    The embedded engine (Sail 0.7.2) lists the log from the hinted checkpoint even when asked
    for an older version, so once a table has a checkpoint (every 10 commits) every version
    below it fails to read ("Missing commit file"). Without the hint it lists the whole log
    and picks the right checkpoint for each version. Called after every commit the lakehouse
    makes and before every time-travel read; Spark and deltalake read the same either way.
    """
    remove_file(join(location, "_delta_log", CHECKPOINT_HINT))


def expire_log(location: str) -> None:
    """Delete the log entries older than the table's log retention, up to its newest checkpoint.

    Both engines do this after each checkpoint they write (`delta.enableExpiredLogCleanup`),
    and so do deltalake's commits, but deltalake leaves the checksum files (`.crc`) the engine
    writes beside each commit: on a table maintained often (restores, vacuums, compactions)
    they would pile up in the listing every reader makes, growing with the history instead of
    staying within the retention (`delta.logRetentionDuration`, 30 days by default). Only
    entries before a checkpoint that is itself that old go: every later version needs it.
    """
    delta_table(location).cleanup_metadata()
    entries = [f.path for f in list_files(join(location, "_delta_log"), "")]
    commits = [_log_version(path) for path in entries if path.endswith(".json")]
    if not commits:
        return
    oldest = min(commits)
    for path in entries:
        if path.endswith(".crc") and _log_version(path) < oldest:
            remove_file(path)


def _log_version(path: str) -> int:
    return int(path.rsplit("/", 1)[-1].split(".", 1)[0])


class VersionNotRetained(LookupError):
    """A table version that no longer exists or can no longer be read."""


def require_retained(location: str, name: str, version: int) -> None:
    """Raise `VersionNotRetained` unless `version` of the table can be read in full.

    A version's log can be cleaned (log retention: `delta.logRetentionDuration`, 30 days by
    default, applied by `lakehouse vacuum`) and its data files vacuumed (file retention:
    `--retain-hours`); either way it gets a sentence, not an engine error.
    """
    latest = table_version(location)
    if latest is None:
        raise VersionNotRetained(f"no table {name}: `lakehouse tables` lists them")
    if not 0 <= version <= latest:
        raise VersionNotRetained(f"{name} has versions up to {latest}, not {version}")
    try:
        files = DeltaTable(
            location, version=version, storage_options=storage_options(location)
        ).file_uris()
    except Exception as error:  # deltalake names no error type for a cleaned log
        raise VersionNotRetained(
            f"version {version} of {name} is no longer retained: its log entries were cleaned "
            "(Delta keeps a table's log for delta.logRetentionDuration, 30 days by default; "
            f"`lakehouse history {name}` lists the versions left)"
        ) from error
    present = file_names(location) if is_s3(location) else None
    missing = [f for f in files if (f not in present if present is not None else not _exists(f))]
    if missing:
        raise VersionNotRetained(
            f"version {version} of {name} is no longer retained: {len(missing)} of its "
            f"{len(files)} data files were deleted by vacuum (files a newer version replaced "
            "are kept for --retain-hours, 168 by default)"
        )


def _exists(uri: str) -> bool:
    path = unquote(urlparse(uri).path) if uri.startswith("file:") else uri
    return Path(path).is_file()


def may_hold_deletion_vectors(location: str) -> bool:
    """Whether the table's protocol lets its files carry deletion vectors: rows deleted that way
    stay in files the current version reads (the table may have had them on and then off)."""
    features = delta_table(location).protocol().reader_features or []
    return "deletionVectors" in features


def file_count(location: str) -> int:
    """How many data files the table's current version reads."""
    return len(delta_table(location).file_uris())


def files_not_current(location: str) -> list[str]:
    """The data files on disk under the table that its current version does not read: older
    versions' (until vacuum) and orphans (a killed writer's)."""
    paths = delta_table(location).get_add_actions().column("path").to_pylist()
    current = {unquote(str(path)) for path in paths}
    prefix = location.rstrip("/") + "/"
    return sorted(
        path
        for path in file_names(location)
        if path.endswith(".parquet")
        and not path[len(prefix) :].startswith("_delta_log/")
        and unquote(path[len(prefix) :]) not in current
    )


def commits_metrics(location: str, after_version: int) -> dict[str, Any]:
    """The numeric operation metrics of every commit after `after_version`, summed."""
    return _summed_metrics(delta_table(location), after_version)


def version_and_metrics(
    location: str, after_version: int | None
) -> tuple[int | None, dict[str, Any]]:
    """The table's latest version (None: no table) and the metrics of its commits after
    `after_version`, summed, from one read of the log (a write's result needs both)."""
    try:
        table = delta_table(location)
    except TableNotFoundError:
        return None, {}
    version = int(table.version())
    if version == after_version:
        return version, {}
    return version, _summed_metrics(table, -1 if after_version is None else after_version)


def _summed_metrics(table: DeltaTable, after_version: int) -> dict[str, Any]:
    totals: dict[str, Any] = {}
    for commit in table.history(limit=int(table.version()) - after_version):
        if int(commit.get("version", -1)) <= after_version:
            continue
        for key, value in (commit.get("operationMetrics") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
    return totals


class TableLog(Protocol):
    def history(self, location: str) -> list[dict[str, Any]]:
        """Commits newest first: `version`, `timestamp` (epoch ms), `operation`, metrics."""

    def restore(self, location: str, version: int) -> None:
        """Make `version`'s content the table's newest version (a new commit)."""

    def vacuum(self, location: str, retain_hours: float) -> int | None:
        """Delete files no version within `retain_hours` needs; how many, when known."""

    def compact(self, location: str) -> None:
        """Rewrite small data files into fewer large ones (a new version, same rows)."""

    def purge_log(self, location: str) -> None:
        """Remove every log entry before the current version (after an erasure with no
        retention: old entries hold statistics and paths of the files that held the person)."""


class DeltalakeLog:
    """The embedded engine's log operations."""

    def history(self, location: str) -> list[dict[str, Any]]:
        return [dict(commit) for commit in delta_table(location).history()]

    def restore(self, location: str, version: int) -> None:
        table = delta_table(location)
        before = table.version()
        table.restore(version)
        _checkpoint_as_the_engine_would(location, before)

    def vacuum(self, location: str, retain_hours: float) -> int | None:
        table = delta_table(location)
        before = table.version()
        deleted = table.vacuum(
            retention_hours=int(retain_hours), enforce_retention_duration=False, dry_run=False
        )
        if not _checkpoint_as_the_engine_would(location, before):
            expire_log(location)  # a vacuum is when old log goes, checkpoint or not
        return len(deleted)

    def compact(self, location: str) -> None:
        table = delta_table(location)
        before = table.version()
        table.optimize.compact()
        _checkpoint_as_the_engine_would(location, before)

    def purge_log(self, location: str) -> None:
        # deltalake cleans only what the table's log retention lets it: retention zero for the
        # clean-up, then the table's own setting again.
        table = delta_table(location)
        kept = table.metadata().configuration.get(LOG_RETENTION, DEFAULT_LOG_RETENTION)
        if kept == _PURGING:  # a purge killed before it put the table's own setting back
            kept = DEFAULT_LOG_RETENTION
        table.alter.set_table_properties({LOG_RETENTION: _PURGING})
        try:
            fault_point(f"between:purge:{location}")
            table.create_checkpoint()
            table.cleanup_metadata()
        finally:  # a retention of zero left behind would end all time travel at each vacuum
            table.alter.set_table_properties({LOG_RETENTION: kept})
            drop_checkpoint_hint(location)


def _checkpoint_as_the_engine_would(location: str, before: int) -> bool:
    """After commits made with deltalake (which writes no checkpoint of its own): a checkpoint
    when they passed a multiple of the table's checkpoint interval, as the engine's would.

    Otherwise a table maintained often (a vacuum adds two commits, compaction one) goes long
    stretches without one, and every reader replays ever more commits.
    """
    table = delta_table(location)
    interval = int(table.metadata().configuration.get(CHECKPOINT_INTERVAL, "10"))
    wrote = table.version() // interval > before // interval
    if wrote:
        table.create_checkpoint()
        expire_log(location)
    drop_checkpoint_hint(location)
    return wrote


class SparkSqlLog:
    """delta-spark's SQL for the same operations (engine=spark only; reviewed, not run here)."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def history(self, location: str) -> list[dict[str, Any]]:
        rows = self.spark.sql(f"DESCRIBE HISTORY {_path_table(location)}").collect()
        return [
            {
                "version": int(row["version"]),
                "timestamp": int(row["timestamp"].timestamp() * 1000),
                "operation": row["operation"],
                "operationMetrics": dict(row["operationMetrics"] or {}),
            }
            for row in rows
        ]

    def restore(self, location: str, version: int) -> None:
        self.spark.sql(f"RESTORE TABLE {_path_table(location)} TO VERSION AS OF {int(version)}")

    def vacuum(self, location: str, retain_hours: float) -> int | None:
        # Delta refuses retentions under 7 days unless told the caller means it.
        self.spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
        self.spark.sql(f"VACUUM {_path_table(location)} RETAIN {float(retain_hours):g} HOURS")
        return None  # delta-spark reports the count only in its logs

    def compact(self, location: str) -> None:
        self.spark.sql(f"OPTIMIZE {_path_table(location)}")

    def purge_log(self, location: str) -> None:
        # delta-spark has no statement that cleans the log now (only at its next checkpoint,
        # by the retention then in force), so the driver does it with deltalake, as on Sail.
        DeltalakeLog().purge_log(location)


def table_log(spark: SparkSession, engine: str) -> TableLog:
    """The log operations for `engine` (`sail` or `spark`)."""
    return SparkSqlLog(spark) if engine == EngineName.spark else DeltalakeLog()


def _path_table(location: str) -> str:
    return "delta.`" + location.replace("`", "``") + "`"
