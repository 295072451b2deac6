"""Read Delta transaction logs with the `deltalake` package (works for tables any engine wrote).

The embedded engine has no DESCRIBE HISTORY; the log itself holds versions and commit metrics.
"""

from __future__ import annotations

from typing import Any

from deltalake import DeltaTable


def is_delta_table(location: str) -> bool:
    return bool(DeltaTable.is_deltatable(location))


def table_version(location: str) -> int | None:
    """The table's latest version, or None when no table exists there."""
    if not is_delta_table(location):
        return None
    return int(DeltaTable(location).version())


def commit_metrics(location: str, version: int) -> dict[str, Any]:
    """The operation metrics Delta recorded for one commit (empty when it recorded none)."""
    table = DeltaTable(location)
    for commit in table.history(limit=int(table.version()) - version + 1):
        if commit.get("version") == version:
            return dict(commit.get("operationMetrics") or {})
    return {}
