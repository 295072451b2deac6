"""The first cell of every notebook: configuration, a session, and a warehouse with data.

On Databricks (or any kernel that already has a Spark session) the running session is used;
elsewhere an embedded engine starts and lives as long as the kernel. Relative paths in the
configuration are resolved against the project folder, so notebooks opened from `notebooks/`
find the same `data/` the CLI uses.
"""

from __future__ import annotations

import atexit
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory

from pyspark.sql import SparkSession

from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.app.pipeline import run_pipeline
from lakehouse.core.catalog import attach_warehouse
from lakehouse.core.config import Config, default_config_dir, load_config, packaged_config_dir
from lakehouse.core.engine import open_session
from lakehouse.core.storage import folder_exists, is_s3

# A sample that runs in seconds yet shows every case: shared serials, late consent, bad lines.
SAMPLE = GenerateOptions(customers=60, readings_per_customer=40, files=2, malformed=1, seed=7)

_kept_until_exit = ExitStack()
atexit.register(_kept_until_exit.close)


def notebook_config(*overrides: str) -> Config:
    """The project's configuration with `overrides`; relative paths from the project folder
    (from the current folder when the configuration is the copy an installed wheel carries)."""
    conf = default_config_dir()
    base = Path.cwd() if conf == packaged_config_dir() else conf.parent
    return load_config(list(overrides), base_dir=base)


def scratch_paths() -> list[str]:
    """Overrides for a landing zone and warehouse in a new temporary folder, removed when the
    kernel exits: for notebooks that change what they audit (withdrawals, erasures)."""
    folder = Path(_kept_until_exit.enter_context(TemporaryDirectory(prefix="stedi-scratch-")))
    return [f"paths.landing={folder / 'landing'}", f"paths.warehouse={folder / 'warehouse'}"]


def notebook_session(config: Config) -> SparkSession:
    """The kernel's running Spark session, or an embedded engine kept open until exit."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    return _kept_until_exit.enter_context(open_session(config))


def ensure_sample_warehouse(spark: SparkSession, config: Config) -> list[str]:
    """Attach the warehouse's tables; if there are none, build them from sample data first.

    Sample landing files are generated only into an empty local landing zone, never over
    real data.
    """
    tables = attach_warehouse(spark, config.paths.warehouse)
    if tables:
        return tables
    landing = config.paths.landing
    if not folder_exists(landing):
        if is_s3(landing):
            raise FileNotFoundError(f"{landing} is empty: land files first (`lakehouse land`)")
        generate(Path(landing), SAMPLE)
    run_pipeline(spark, config)
    return attach_warehouse(spark, config.paths.warehouse)
