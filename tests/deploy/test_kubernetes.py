"""The Kubernetes manifests are valid objects, and the CronJob's command is a valid run."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient

from lakehouse.core.config import EngineName, StorageKind, load_config
from tests.helpers import ROOT

MANIFESTS = ROOT / "deploy" / "kubernetes"
# apiVersion and kind -> the client's model class.
MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "Service"): "V1Service",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("batch/v1", "CronJob"): "V1CronJob",
}


def objects() -> list[dict[str, Any]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        found.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return found


def as_model(obj: dict[str, Any]) -> dict[str, Any]:
    """The object read into the Kubernetes client's typed model and written back: a missing
    required field or a wrong type raises; an unknown field is dropped, so the round trip
    differs from the original."""
    api = ApiClient()
    model = api._ApiClient__deserialize(obj, MODELS[(obj["apiVersion"], obj["kind"])])  # type: ignore[attr-defined]
    return api.sanitize_for_serialization(model)  # type: ignore[no-any-return]


def normalised(value: Any) -> Any:
    """Quantities and ports as the client writes them (strings stay strings)."""
    return json.loads(json.dumps(value, sort_keys=True))


@pytest.mark.parametrize("obj", objects(), ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_every_object_is_a_valid_kubernetes_object(obj: dict[str, Any]) -> None:
    assert normalised(as_model(obj)) == normalised(obj)


def test_a_misspelt_or_missing_field_would_be_caught() -> None:
    (cron,) = [o for o in objects() if o["kind"] == "CronJob"]
    cron["spec"]["concurencyPolicy"] = cron["spec"].pop("concurrencyPolicy")
    assert normalised(as_model(cron)) != normalised(cron)  # the misspelt key is dropped
    del cron["spec"]["schedule"]
    with pytest.raises(ValueError, match="schedule"):
        as_model(cron)


def test_the_service_account_role_and_worker_template_fit_together() -> None:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects():
        by_kind.setdefault(obj["kind"], []).append(obj)
    (deployment,) = by_kind["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["SAIL_MODE"]["value"] == "kubernetes-cluster"
    account = pod["serviceAccountName"]
    assert env["SAIL_KUBERNETES__WORKER_SERVICE_ACCOUNT_NAME"]["value"] == account
    assert account in {a["metadata"]["name"] for a in by_kind["ServiceAccount"]}
    (binding,) = by_kind["RoleBinding"]
    assert binding["subjects"][0]["name"] == account
    (role,) = by_kind["Role"]
    assert {"create", "delete", "watch"} <= set(role["rules"][0]["verbs"])
    template = json.loads(env["SAIL_KUBERNETES__WORKER_POD_TEMPLATE"]["value"])
    assert template["spec"]["containers"][0]["resources"]["requests"]
    (service,) = by_kind["Service"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_the_cronjob_runs_a_valid_configuration_against_the_service() -> None:
    (cron,) = [o for o in objects() if o["kind"] == "CronJob"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value", "secret") for e in container["env"]}
    # Kubernetes expands $(NAME) from the container's env before the command runs.
    args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in container["args"]]
    assert container["command"] == ["lakehouse"] and args[0] == "run"
    config = load_config(args[1:])
    assert config.engine.name == EngineName.connect and config.storage.kind == StorageKind.s3
    assert config.paths.warehouse == f"s3://{env['LAKEHOUSE_BUCKET']}/warehouse"
    (service,) = [o for o in objects() if o["kind"] == "Service"]
    host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
    assert config.engine.remote == f"sc://{host}:{service['spec']['ports'][0]['port']}"
