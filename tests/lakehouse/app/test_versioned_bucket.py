"""A warehouse in an S3 bucket that keeps object versions (moto on loopback): what the lakehouse
removes (scratch copies, vacuumed files, purged log) leaves no version behind, and where the
bucket refuses to delete one, the command fails in one line instead of claiming it is done."""

from __future__ import annotations

import io
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from lakehouse.app.cli import main
from lakehouse.app.erasure import customer_key
from lakehouse.app.generate import GenerateOptions, generate
from lakehouse.core import storage
from lakehouse.core.aws import prepared_environment
from lakehouse.core.delta_log import delta_table
from lakehouse.core.storage import upload_tree
from tests.helpers import s3_config

pytestmark = pytest.mark.slow

SAMPLE = GenerateOptions(customers=40, readings_per_customer=8, files=2, malformed=1, seed=11)


@pytest.fixture
def versioned_bucket(moto_endpoint: str) -> str:
    """A new bucket that keeps every version of deleted and overwritten objects."""
    name = f"stedi-versions-{uuid.uuid4().hex[:12]}"
    client = s3(moto_endpoint)
    client.create_bucket(Bucket=name)
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def test_runs_and_erasures_leave_no_version_of_what_they_remove(  # type: ignore[no-untyped-def]
    moto_endpoint: str, versioned_bucket: str, tmp_path: Path, capsys
):
    options = cli_options(moto_endpoint, versioned_bucket)
    person = landed_sample(moto_endpoint, versioned_bucket, tmp_path)
    client = s3(moto_endpoint)
    warehouse = "warehouse/"

    assert main(["run", "--quiet", *options]) == 0
    # Scratch copies held raw records, those of customers without consent among them.
    assert versions(client, versioned_bucket, f"{warehouse}_staging/") == []

    config = s3_config(moto_endpoint, versioned_bucket)
    needles = [person["email"], person["customerName"], person["key"]]
    assert versions_naming(client, versioned_bucket, warehouse, needles)  # the test sees her
    capsys.readouterr()
    erase = ["erase", "--email", person["email"], "--retain-hours", "0", *options]
    assert main(erase) == 0
    assert "no file of the warehouse holds the customer" in capsys.readouterr().out
    # Every version in the warehouse, current or not: data, log, checkpoints, scratch.
    assert versions_naming(client, versioned_bucket, warehouse, needles) == []
    with prepared_environment(config):
        assert storage.keeps_versions(config.paths.warehouse)


def test_a_refused_version_delete_fails_the_erasure_in_one_line_and_erasing_again_finishes_it(  # type: ignore[no-untyped-def]
    moto_endpoint: str, versioned_bucket: str, tmp_path: Path, capsys, monkeypatch
):
    """moto grants every request, so the refusal is simulated in process: the S3 client the
    lakehouse uses answers AccessDenied for every object version outside `_staging/`, as an
    IAM policy granting s3:DeleteObjectVersion on scratch space only would."""
    options = cli_options(moto_endpoint, versioned_bucket)
    person = landed_sample(moto_endpoint, versioned_bucket, tmp_path)
    assert main(["run", "--quiet", *options]) == 0
    real = storage.s3_client
    monkeypatch.setattr(storage, "s3_client", lambda: Refusing(real()))
    capsys.readouterr()

    erase = ["erase", "--email", person["email"], "--retain-hours", "0", *options]
    assert main(erase) == 1
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "s3:DeleteObjectVersion" in lines[0] and "NoncurrentVersionExpiration" in lines[0]
    assert "AccessDenied" in lines[0] and "is still held there" in lines[0]
    assert "no file of the warehouse holds the customer" not in out
    config = s3_config(moto_endpoint, versioned_bucket)
    with prepared_environment(config):
        runs = delta_table(f"{config.paths.warehouse}/ops/runs").to_pyarrow_table().to_pylist()
    assert [r["status"] for r in runs if r["command"] == "erase"] == ["failed"]

    # The permission granted, the same erase finishes the one the bucket stopped.
    monkeypatch.setattr(storage, "s3_client", real)
    assert main(erase) == 0
    assert "finished the erasure" in capsys.readouterr().out
    needles = [person["email"], person["customerName"], person["key"]]
    assert versions_naming(s3(moto_endpoint), versioned_bucket, "warehouse/", needles) == []


class Refusing:
    """An S3 client whose DeleteObjects refuses object versions outside `_staging/`."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        refused = [
            {**entry, "Code": "AccessDenied", "Message": "Access Denied"}
            for entry in Delete["Objects"]
            if "VersionId" in entry and "/_staging/" not in entry["Key"]
        ]
        allowed = [
            entry
            for entry in Delete["Objects"]
            if "VersionId" not in entry or "/_staging/" in entry["Key"]
        ]
        if allowed:
            self._client.delete_objects(Bucket=Bucket, Delete={**Delete, "Objects": allowed})
        return {"Errors": refused}


def cli_options(endpoint: str, bucket: str) -> list[str]:
    return ["storage=s3", f"storage.bucket={bucket}", f"storage.endpoint_url={endpoint}"]


def s3(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def landed_sample(endpoint: str, bucket: str, tmp_path: Path) -> dict[str, str]:
    """Land the sample; a consenting customer (so in gold too) with a name nobody else has."""
    data = tmp_path / "data"
    generate(data, SAMPLE)
    config = s3_config(endpoint, bucket)
    with prepared_environment(config):
        upload_tree(data, config.paths.landing)
    records = [
        json.loads(line)
        for path in sorted((data / "customer").glob("*.json"))
        for line in path.read_text().splitlines()
        if line.startswith("{")
    ]
    valid = [r for r in records if isinstance(r, dict) and "email" in r]
    names = Counter(r["customerName"] for r in valid)
    chosen = next(
        r
        for r in valid
        if "shareWithResearchAsOfDate" in r
        and names[r["customerName"]] == 1
        and sum(1 for other in valid if other["email"] == r["email"]) == 1
    )
    key = customer_key(config.privacy.pseudonym_salt, chosen["email"])
    return {"email": chosen["email"], "customerName": chosen["customerName"], "key": key}


def versions(client: Any, bucket: str, prefix: str) -> list[tuple[str, str]]:
    """Every version and delete marker below `prefix`: (key, version id)."""
    found = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            found.append((entry["Key"], entry["VersionId"]))
    return found


def versions_naming(client: Any, bucket: str, prefix: str, needles: list[str]) -> list[str]:
    """The versions below `prefix` whose bytes or Parquet values name any needle (any case),
    as `tests.helpers.traces_of` searches a local warehouse."""
    wanted = [needle.lower() for needle in needles]
    found = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            key, version_id = version["Key"], version["VersionId"]
            body = client.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"].read()
            text = body.lower()
            named = any(needle.encode() in text for needle in wanted)
            if not named and key.endswith(".parquet"):
                values = repr(pq.read_table(io.BytesIO(body)).to_pylist()).lower()
                named = any(needle in values for needle in wanted)
            if named:
                found.append(f"{key}@{version_id}{'' if version['IsLatest'] else ' (old)'}")
    return found
