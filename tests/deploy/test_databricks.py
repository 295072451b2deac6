"""The Databricks bundle parses, names this package's entry point, and runs a valid config."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import yaml
from packaging.utils import canonicalize_name

from lakehouse.core.config import EngineName, S3Connector, load_config
from tests.helpers import ROOT


def bundle() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "databricks.yml").read_text())  # type: ignore[no-any-return]


def test_the_job_runs_this_package_s_entry_point_once_at_a_time() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (job,) = bundle()["resources"]["jobs"].values()
    assert job["max_concurrent_runs"] == 1
    (task,) = job["tasks"]
    wheel_task = task["python_wheel_task"]
    assert canonicalize_name(wheel_task["package_name"]) == canonicalize_name(project["name"])
    target = project["scripts"][wheel_task["entry_point"]]
    module, _, function = target.partition(":")
    assert callable(getattr(__import__(module, fromlist=[function]), function))
    assert {c["job_cluster_key"] for c in job["job_clusters"]} == {task["job_cluster_key"]}


def test_the_job_s_parameters_compose_a_valid_configuration() -> None:
    spec = bundle()
    values = {name: v.get("default", f"my-{name}") for name, v in spec["variables"].items()}
    (job,) = spec["resources"]["jobs"].values()
    parameters = job["tasks"][0]["python_wheel_task"]["parameters"]
    expanded = [re.sub(r"\$\{var\.(\w+)\}", lambda m: values[m.group(1)], p) for p in parameters]
    assert expanded[0] == "run"
    config = load_config(expanded[1:])
    assert config.engine.name == EngineName.spark
    assert config.engine.s3_connector == S3Connector.native
    assert config.paths.warehouse == "s3://my-bucket/warehouse"


def test_the_synced_notebooks_exist() -> None:
    for pattern in bundle()["sync"]["include"]:
        assert list(ROOT.glob(pattern)), pattern
