"""The framework's own tables (schema `ops`, DDL in `lakehouse/core/sql/<name>.sql`).

They hold no STEDI data: which run changed which table, how far each table has processed
the batches, and who was erased (as digests).
"""

from __future__ import annotations

from lakehouse.core.catalog import TableSpec

PACKAGE = "lakehouse.core"

# The run log: one row per run, and one per table a run changed (see `run_log`).
RUNS = TableSpec("ops", "runs", ("run_id",), package=PACKAGE)
RUN_TABLES = TableSpec("ops", "run_tables", ("run_id", "table_name"), package=PACKAGE)
# What each data-quality rule found in each table a run built (see `expectations`).
RULE_RESULTS = TableSpec("ops", "rule_results", ("run_id", "table_name", "rule"), package=PACKAGE)
# How far each incrementally refreshed table has processed the batches (see `increments`).
WATERMARKS = TableSpec("ops", "watermarks", ("table_name",), package=PACKAGE)
# Digests of erased people, whose records are never ingested again (see `suppression`).
SUPPRESSION_LIST = TableSpec("ops", "suppression_list", ("digest",), package=PACKAGE)
# Each erasure from request to completion, so one cut short is finished or reported
# (see `lakehouse.app.erasure`).
ERASURES = TableSpec("ops", "erasures", ("digest",), package=PACKAGE)

TABLES = (RUNS, RUN_TABLES, RULE_RESULTS, WATERMARKS, SUPPRESSION_LIST, ERASURES)
