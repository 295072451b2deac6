"""The pipeline's queries on classic Spark (Parquet in place of Delta) give the embedded
engine's tables, for a full build and for an incremental one.

The embedded engine runs the real pipeline twice (two deliveries). Classic Spark runs the same
queries the jobs send for each table (bronze's parsing, silver's and gold's builds, the MERGE's
deletion markers) over Parquet copies of its own tables; only the MERGE statement itself needs
Delta, so its effect is applied with DataFrame operations. Every table is then compared whole,
after each delivery, without the per-run lineage (run ids and times).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bronze.job import explanations
from bronze.tables import (
    LANDING_TABLES,
    QUARANTINE,
    SOURCES,
)
from bronze.transforms import (
    FIELDS_BY_SOURCE,
    parse_records,
    quarantined_lines,
    valid_records,
    with_explanations,
    with_ingestion,
    without_text_of_valid_records,
)
from gold.job import customer_curated_from, machine_learning_curated_from
from gold.tables import CUSTOMER_CURATED, MACHINE_LEARNING_CURATED
from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.catalog import TableSpec
from lakehouse.core.config import Config
from lakehouse.core.increments import Build, Increment
from lakehouse.core.landing import LandingFile, checked, survey
from lakehouse.core.landing_lines import landing_lines
from lakehouse.core.merge import DELETE_FLAG, flagged_source
from silver.job import (
    Read,
    accelerometer_trusted_from,
    customer_trusted_from,
    step_trainer_trusted_from,
)
from silver.tables import ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED, STEP_TRAINER_TRUSTED
from tests.helpers import RUN_LINEAGE, deliver, frame, on_classic_spark

pytestmark = pytest.mark.slow

SAMPLE = GenerateOptions(customers=40, readings_per_customer=10, files=3, malformed=2, seed=11)
AT = datetime(2026, 1, 2, 3, 4, 5)
# A name the engine's reader would take as a pattern: the file is read in Python (the careful
# path) on both engines. Its content is another file's again: a second delivery of those lines.
HOSTILE_NAME = "late [1] {re}_'sent' copy.json"
# A consenting customer whose lines hold what the engines read or print differently (README,
# "Parity on classic Spark"): doubles whose text differs (row ids hash them), a double too
# large, JVM-only number text, a trailing comma, NaN, the older `timeStamp`, an email in
# another case. Their step readings meet the accelerometer readings in the ML table.
AWKWARD_TIMES = tuple(1_700_000_000_000 + n * 1000 for n in range(6))
AWKWARD_X = ("1e-5", "0.30000000000000004", "123456789.125", "1E+2")


def phone_line(
    user: str, at: int, x: str, rest: str = '"y": 1e21, "z": -0.0', key: str = "timestamp"
) -> str:
    return f'{{"user": "{user}", "{key}": {at}, "x": {x}, {rest}}}'


ODD = "odd.case@test.example"
AWKWARD = {
    "customer": [
        '{"customerName": "Odd Case", "email": "Odd.Case@Test.Example", "phone": "1",'
        ' "birthDay": "1990-01-01", "serialNumber": "odd-serial", "registrationDate": 1,'
        ' "lastUpdateDate": 2, "shareWithResearchAsOfDate": 1000}',
    ],
    "accelerometer": [
        *(phone_line(ODD, at, x) for at, x in zip(AWKWARD_TIMES, AWKWARD_X, strict=False)),
        phone_line(ODD.upper(), AWKWARD_TIMES[4], "1", '"y": 2, "z": 3', key="timeStamp") + ",",
        *(phone_line(ODD, AWKWARD_TIMES[5], x, '"y": 0, "z": 0') for x in ("1e400", "NaN", "1d")),
    ],
    "step_trainer": [
        f'{{"sensorReadingTime": {at}, "serialNumber": "odd-serial", "distanceFromObject": 1}}'
        for at in AWKWARD_TIMES
    ],
}


@dataclass
class ParquetLake:
    """The pipeline's tables on classic Spark, one Parquet folder per table version."""

    spark: SparkSession
    root: Path
    versions: dict[str, int] = field(default_factory=dict)

    def path(self, table: TableSpec, version: int) -> str:
        return str(self.root / table.qualified_name / f"v{version}")

    def read(self, table: TableSpec) -> DataFrame:
        version = self.versions.get(table.qualified_name)
        if version is None:
            return self.spark.createDataFrame([], table.row_schema)
        return self.spark.read.parquet(self.path(table, version))

    def write(self, table: TableSpec, rows: DataFrame) -> None:
        version = self.versions.get(table.qualified_name, -1) + 1
        rows.select(*table.column_names).write.parquet(self.path(table, version))
        self.versions[table.qualified_name] = version

    def append(self, table: TableSpec, rows: DataFrame) -> None:
        self.write(table, self.read(table).unionByName(rows.select(*table.column_names)))


def merged(target: DataFrame, content: DataFrame, scope: DataFrame, table: TableSpec) -> DataFrame:
    """The table after the jobs' flagged MERGE of `content` (`merge.merge_statement`): matched
    keys take the source row or, for a deletion marker, go; unmatched source rows are added."""
    keys = list(table.keys)
    rows = flagged_source(
        content.select(*target.columns), target, table.keys, leaving=scope, held=False
    )
    untouched = target.join(rows.select(*keys), keys, "left_anti")
    return untouched.unionByName(rows.where(~F.col(DELETE_FLAG)).drop(DELETE_FLAG))


def ingest(
    lake: ParquetLake, files: dict[str, list[LandingFile]], batch: int, scratch: Path
) -> None:
    """Bronze's queries (`bronze.job.ingest`) for one delivery: records and quarantined lines."""
    stamp = partial(with_ingestion, batch, "classic-run", AT)
    for source in SOURCES:
        fields = FIELDS_BY_SOURCE[source]
        with landing_lines(lake.spark, files[source], str(scratch / source)) as lines:
            rows = lines.transform(parse_records(fields)).transform(without_text_of_valid_records)
            bad = (
                rows.transform(quarantined_lines(source))
                .transform(with_explanations(explanations(lake.spark, rows, fields)))
                .transform(stamp(prefix=""))
            )
            lake.append(QUARANTINE, bad)
            lake.append(
                LANDING_TABLES[source], rows.transform(valid_records(fields)).transform(stamp())
            )


# Each silver and gold table with the jobs' own wiring of its build (`silver.job`, `gold.job`),
# in the order a run refreshes them: each build reads the tables refreshed before it.
BUILDS: tuple[tuple[TableSpec, Callable[[Read, Config], Build]], ...] = (
    (CUSTOMER_TRUSTED, customer_trusted_from),
    (ACCELEROMETER_TRUSTED, accelerometer_trusted_from),
    (STEP_TRAINER_TRUSTED, step_trainer_trusted_from),
    (CUSTOMER_CURATED, customer_curated_from),
    (MACHINE_LEARNING_CURATED, machine_learning_curated_from),
)


def refresh(lake: ParquetLake, config: Config, increment: Increment) -> None:
    """Silver's and gold's refresh (`increments.refresh`) of every table for `increment`."""
    for table, wired in BUILDS:
        content, scope = wired(lake.read, config)(increment)
        if increment.full:
            lake.write(table, content)
        else:
            lake.write(table, merged(lake.read(table), content, scope, table))


TABLES = (*LANDING_TABLES.values(), QUARANTINE, *(table for table, _ in BUILDS))


def comparable(df: DataFrame) -> tuple[list[tuple[str, str]], list[str]]:
    return frame(df.select(*[c for c in df.columns if c not in RUN_LINEAGE]))


def assert_same_tables(embedded: SparkSession, lake: ParquetLake) -> None:
    """Every data table on the embedded engine (Delta) equals its classic Parquet copy."""
    for table in TABLES:
        name = table.qualified_name
        types, rows = comparable(embedded.table(name))
        with on_classic_spark():
            jvm_types, jvm_rows = comparable(lake.read(table))
        assert types == jvm_types, f"{name}: the engines give different columns or types"
        only_embedded = sorted(set(rows) - set(jvm_rows))[:3]
        only_spark = sorted(set(jvm_rows) - set(rows))[:3]
        assert rows == jvm_rows, (
            f"{name}: only on the embedded engine: {only_embedded}; only on Spark: {only_spark}"
        )
        assert rows, f"{name} is empty: comparing it would prove nothing"


def new_files(landing: Path, seen: set[str]) -> dict[str, list[LandingFile]]:
    """The landing files of each source not read before (what bronze's survey finds)."""
    found = {
        source: [file for file in survey(str(landing), source).files if file.path not in seen]
        for source in SOURCES
    }
    seen.update(file.path for files in found.values() for file in files)
    return {source: checked(files) for source, files in found.items()}


def test_full_then_incremental_build_match_the_embedded_engine(
    spark: SparkSession,
    classic_spark: SparkSession,
    make_config,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    config: Config = make_config()
    landing = Path(config.paths.landing)
    generated = tmp_path / "generated"
    generate(generated, SAMPLE)
    files = sorted(generated.glob("*/*.json"))
    last = [max(generated.glob(f"{source}/*.json")) for source in SOURCES]
    lake = ParquetLake(classic_spark, tmp_path / "classic")
    seen: set[str] = set()

    deliver(landing, [file for file in files if file not in last])
    run_pipeline(spark, config)
    with on_classic_spark():
        ingest(lake, new_files(landing, seen), 1, tmp_path / "scratch")
        refresh(lake, config, Increment(None, 1))
    assert_same_tables(spark, lake)

    # The second delivery: the last files, which withdraw and grant consents, a copy of a
    # first-delivery file under a name that is read in Python (the careful path), and the
    # awkward values.
    deliver(landing, last)
    shutil.copyfile(
        landing / "customer" / "customer-0001.json", landing / "customer" / HOSTILE_NAME
    )
    for source, lines in AWKWARD.items():
        (landing / source / "awkward values.json").write_text("\n".join(lines) + "\n")
    _, results = run_pipeline(spark, config)
    with on_classic_spark():
        ingest(lake, new_files(landing, seen), 2, tmp_path / "scratch")
        refresh(lake, config, Increment(1, 2))
    assert_same_tables(spark, lake)
    # The second run was incremental, and it deleted rows (a consent withdrawn): the MERGE's
    # deletion markers were part of what was compared.
    deleted = {result.table: result.deleted for result in results}
    assert deleted["silver.customer_trusted"] > 0
    odd = spark.table("gold.machine_learning_curated").where(
        F.col("sensorReadingTime").isin(list(AWKWARD_TIMES))
    )
    assert odd.count() >= 4, "the awkward readings did not reach the ML table"
