"""The Dagster assets: one per table, grouped and ordered as the layers, materialised in
process against sample data; a busy run is retried, any other failure is not."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from dagster import AssetKey, Definitions, RetryPolicy, materialize

from lakehouse.app.cli import main
from lakehouse.app.pipeline import LAYERS
from tests.helpers import ROOT, layer_table_rows

MODULE = ROOT / "deploy" / "orchestration" / "dagster" / "stedi_lakehouse_assets.py"


@pytest.fixture(scope="module")
def assets() -> Iterator[ModuleType]:
    """The module as `dagster dev -f` loads it: by its path, not as part of a package."""
    spec = importlib.util.spec_from_file_location("stedi_lakehouse_assets", MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def key(table: str) -> AssetKey:
    return AssetKey(table.split("."))


def test_one_asset_per_table_grouped_and_chained_as_the_layers(assets: ModuleType) -> None:
    Definitions.validate_loadable(assets.defs)
    found = {}
    for definition in assets.ASSETS:
        (spec,) = definition.specs
        found[spec.key] = (spec.group_name, {dep.asset_key for dep in spec.deps})
        assert definition.op.retry_policy == assets.BUSY_RETRY
    expected = {
        key(job.table): (layer, {key(table) for table in job.upstream})
        for layer, jobs in LAYERS.items()
        for job in jobs
    }
    assert found == expected
    # Spelt out for one table, so the rule above cannot drift from what the pipeline needs.
    accelerometer = found[key("silver.accelerometer_trusted")][1]
    assert key("silver.customer_trusted") in accelerometer
    assert key("bronze.accelerometer_landing") in accelerometer


@pytest.mark.slow
def test_materialising_every_asset_builds_every_table(assets: ModuleType, tmp_path: Path) -> None:
    paths = [f"paths.landing={tmp_path / 'landing'}", f"paths.warehouse={tmp_path / 'warehouse'}"]
    assert main(["generate", "--customers", "30", "--readings-per-customer", "5", *paths]) == 0
    result = materialize(assets.ASSETS, resources={"lakehouse": assets.Lakehouse(overrides=paths)})
    assert result.success
    materialised = {event.asset_key for event in result.get_asset_materialization_events()}
    assert materialised == {key(job.table) for jobs in LAYERS.values() for job in jobs}
    rows = layer_table_rows(tmp_path / "warehouse")
    assert all(count > 0 for count in rows.values()), sorted(rows.items())


def statuses(monkeypatch: pytest.MonkeyPatch, module: ModuleType, *given: int) -> list[list[str]]:
    """Make the module's `lakehouse` answer with these statuses in turn; return its calls."""
    calls: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        calls.append(argv)
        return given[len(calls) - 1]

    monkeypatch.setattr(module, "main", fake_main)
    return calls


def test_a_busy_warehouse_is_retried(
    assets: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = statuses(monkeypatch, assets, 3, 3, 0)
    now = RetryPolicy(max_retries=3, delay=0)
    table = assets.table_asset("bronze.customer_landing", [], retry_policy=now)
    lakehouse = assets.Lakehouse(overrides=[f"paths.warehouse={tmp_path}"])
    result = materialize([table], resources={"lakehouse": lakehouse})
    assert result.success
    assert calls == [["run", "bronze.customer_landing", f"paths.warehouse={tmp_path}"]] * 3


@pytest.mark.parametrize("status", [1, 2, 130, 143])
def test_any_other_failure_is_not_retried(
    assets: ModuleType, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    calls = statuses(monkeypatch, assets, status)
    now = RetryPolicy(max_retries=3, delay=0)
    table = assets.table_asset("bronze.customer_landing", [], retry_policy=now)
    result = materialize([table], resources={"lakehouse": assets.Lakehouse()}, raise_on_error=False)
    assert not result.success
    assert len(calls) == 1
