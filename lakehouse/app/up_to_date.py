"""Whether `lakehouse run` has anything to do, told without starting the engine.

A scheduled run mostly finds nothing new. Today's run would then start the engine, read
every table, write its run log and report "up to date". Whether it would is decided from the
landing listing and the Delta logs alone (`deltalake`): when every condition below holds, a
run would change no table, and the caller reports "up to date" without starting the engine
or writing anything. When any does not hold, or cannot be told, the caller runs as ever.

A run would do nothing when:
- every declared table exists, and no scratch copy (`_staging`) is left over;
- no `ops.runs` row is still `running` (a killed run, which a run marks interrupted);
- no table reads more files than compaction allows (a run would compact it);
- every listed landing file is listed as when it was ingested (bronze's `unread`);
- every silver and gold table has the properties its DDL sets, and a watermark with the
  current rules digest, its current version, and the newest batch ingested or replayed.
It is judged holding the warehouse lock, so no run writes while it reads; a lock another
run holds sends the caller down the ordinary path, which waits for it and reports busy.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deltalake import DeltaTable, QueryBuilder
from deltalake.exceptions import TableNotFoundError

from bronze.tables import INGESTED_FILES, LANDING_TABLES, QUARANTINE, QUARANTINE_REPLAYS, SOURCES
from lakehouse.app.plan import BUILT_FROM, LAYER_TABLES, quality_rules, rules_digest
from lakehouse.app.tables import TABLES, pseudonymised_tables
from lakehouse.core.catalog import TableSpec, missing_properties, warehouse_tables
from lakehouse.core.config import Config, require_landing
from lakehouse.core.context import TableResult
from lakehouse.core.delta_log import delta_table
from lakehouse.core.landing import survey, unread
from lakehouse.core.lock import WarehouseBusy, warehouse_lock
from lakehouse.core.ops_tables import RUNS, WATERMARKS
from lakehouse.core.printable import printable
from lakehouse.core.rules import Rule
from lakehouse.core.scratch import STAGING
from lakehouse.core.secrets import AUTO, with_pseudonym_salt
from lakehouse.core.storage import folder_exists, join

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """What the Delta logs say of one table."""

    version: int
    configuration: Mapping[str, str]
    files: int
    # Rows deleted by deletion vectors may still be in its files, which `deltalake`'s
    # queries are not relied on to leave out: such a table's rows are not read here.
    deletion_vectors: bool


def up_to_date(config: Config) -> list[TableResult] | None:
    """What an incremental run of every table would report if it has nothing to do (each
    table unchanged, with the notes bronze gives on the landing folders), or None when it
    may have something to do: then the run must run.

    Raises as the run would, before anything is written, for a landing zone that is not
    there, a rules file that cannot be used or a lost pseudonym salt.
    """
    require_landing(config, SOURCES)
    rules = quality_rules(config)
    salted = with_pseudonym_salt(config, create=False, keyed=pseudonymised_tables())
    if salted.privacy.pseudonym_salt == AUTO:
        return None  # no salt yet: the run draws one (and finds tables to build)
    warehouse = config.paths.warehouse
    try:
        if delta_table_or_none(RUNS.location(warehouse)) is None:
            return None  # nothing was ever run here (and the lock would create the folder)
        run = config.run
        holder = f"up-to-date check {uuid.uuid4().hex[:8]}"
        with warehouse_lock(warehouse, holder, 0, run.lease_seconds):
            return _unchanged(salted, rules)
    except WarehouseBusy:
        return None  # a run is working: the ordinary path waits for it, or reports busy
    except Exception as error:
        # Whatever cannot be told here (a log deltalake cannot read, storage that fails) the
        # ordinary run meets again, and reports as it always has.
        log.debug("cannot tell that nothing is new (%s): running", error)
        return None


def _unchanged(config: Config, rules: Mapping[str, tuple[Rule, ...]]) -> list[TableResult] | None:
    warehouse = config.paths.warehouse
    if folder_exists(join(warehouse, STAGING)):
        return None  # a killed run's scratch copies: a run removes them
    declared = {table.qualified_name: table for table in TABLES}
    names = sorted(set(declared) | set(warehouse_tables(warehouse)))
    tables: dict[str, Snapshot] = {}
    for name in names:
        location = (
            declared[name].location(warehouse) if name in declared else _located(warehouse, name)
        )
        snapshot = _snapshot(location)
        if snapshot is None:
            return None  # a run creates it
        tables[name] = snapshot
    above = config.maintenance.compact_above_files
    if above > 0 and any(snapshot.files > above for snapshot in tables.values()):
        return None  # a run compacts it
    read = (RUNS, WATERMARKS, INGESTED_FILES, QUARANTINE_REPLAYS)
    if any(tables[table.qualified_name].deletion_vectors for table in read):
        return None
    if _rows(warehouse, RUNS, ("run_id",), "status = 'running'"):
        return None  # a killed run: a run records it as interrupted
    ingested = _rows(warehouse, INGESTED_FILES, _ingested_columns(warehouse))
    notes: dict[str, list[str]] = {}
    for source in SOURCES:
        found = survey(
            config.paths.landing, source, follow_outside_links=config.ingest.follow_outside_links
        )
        known = [row for row in ingested if row["source"] == source]
        if unread(found.files, known):
            return None  # new or changed (or touched): a run reads it
        notes[source] = found.notes
    newest = max(
        (
            int(row["batch"])
            for row in [*ingested, *_rows(warehouse, QUARANTINE_REPLAYS, ("batch",))]
            if row["batch"] is not None
        ),
        default=0,
    )
    if not _built_through(config, rules, tables, declared, newest):
        return None
    return _results(tables, notes)


def _built_through(
    config: Config,
    rules: Mapping[str, tuple[Rule, ...]],
    tables: Mapping[str, Snapshot],
    declared: Mapping[str, TableSpec],
    newest: int,
) -> bool:
    """Whether every silver and gold table is as a run would leave it: the properties its DDL
    sets, and a watermark of the current settings, its version and the newest batch."""
    digest = rules_digest(config, rules)
    columns = ("table_name", "through_batch", "table_version", "config_digest")
    marks = {row["table_name"]: row for row in _rows(config.paths.warehouse, WATERMARKS, columns)}
    for name in BUILT_FROM:
        wanted = missing_properties(
            declared[name],
            tables[name].configuration,
            deletion_vectors=config.tables.deletion_vectors,
        )
        mark = marks.get(name)
        if wanted or mark is None:
            return False
        if mark["config_digest"] != digest or mark["table_version"] != tables[name].version:
            return False
        if mark["through_batch"] is None or int(mark["through_batch"]) < newest:
            return False
    return True


def _results(tables: Mapping[str, Snapshot], notes: Mapping[str, list[str]]) -> list[TableResult]:
    """The results a run that changed nothing reports, in its order (bronze's jobs report the
    quarantine beside each landing table, with the notes on the folder they read)."""
    results = []
    quarantine = QUARANTINE.qualified_name
    for source, table in LANDING_TABLES.items():
        version = tables[table.qualified_name].version
        results.append(
            TableResult(table.qualified_name, 0, 0, 0, 0, 0, version, version, tuple(notes[source]))
        )
        results.append(TableResult.unchanged(QUARANTINE, tables[quarantine].version))
    for layer in ("silver", "gold"):
        for name in LAYER_TABLES[layer]:
            version = tables[name].version
            results.append(TableResult(name, 0, 0, 0, 0, 0, version, version))
    return results


def log_notes(results: list[TableResult]) -> None:
    """The notes bronze logs as warnings while ingesting (they name landing files)."""
    for result in results:
        for note in result.notes:
            log.warning("%s", printable(note))


def delta_table_or_none(location: str) -> DeltaTable | None:
    try:
        return delta_table(location)
    except TableNotFoundError:
        return None


def _snapshot(location: str) -> Snapshot | None:
    table = delta_table_or_none(location)
    if table is None:
        return None
    features = table.protocol().reader_features or []
    return Snapshot(
        version=int(table.version()),
        configuration=dict(table.metadata().configuration),
        files=len(table.file_uris()),
        deletion_vectors="deletionVectors" in features,
    )


def _located(warehouse: str, name: str) -> str:
    schema, _, table = name.partition(".")
    return join(warehouse, schema, table)


def _ingested_columns(warehouse: str) -> tuple[str, ...]:
    """The columns of ingested files a run compares; `etag` only where the table has it (one
    made before its DDL had the column: a run reads it as None, as here)."""
    fields = {
        field.name for field in delta_table(INGESTED_FILES.location(warehouse)).schema().fields
    }
    wanted = ("source", "file", "checksum", "size", "modified_ns", "etag", "batch")
    return tuple(column for column in wanted if column in fields)


def _rows(
    warehouse: str, table: TableSpec, columns: tuple[str, ...], where: str = ""
) -> list[dict[str, Any]]:
    """The table's rows (those columns), read by `deltalake` without pyarrow or the engine."""
    query = QueryBuilder().register("t", delta_table(table.location(warehouse)))
    selected = ", ".join(f'"{column}"' for column in columns)
    result = query.execute(f"SELECT {selected} FROM t" + (f" WHERE {where}" if where else ""))
    data = result.read_all()
    values = [data.column(column).to_pylist() for column in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]
