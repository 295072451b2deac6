"""Removing files from a bucket that keeps object versions (moto on loopback): what is removed
loses its versions too, and a refused version delete is an error unless a lifecycle rule
expires it soon."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import boto3
import pytest

from lakehouse.core import storage
from lakehouse.core.aws import prepared_environment
from lakehouse.core.storage import VersionsKept, forget_old_versions, remove_tree
from tests.helpers import s3_config


@pytest.fixture
def client(moto_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def versioned(moto_endpoint: str, client: Any) -> Any:
    """A new bucket keeping versions, with the lakehouse's environment pointed at it."""
    bucket = f"stedi-versions-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    with prepared_environment(s3_config(moto_endpoint, bucket)):
        yield bucket


def test_a_removed_tree_leaves_no_version_behind(client: Any, versioned: str) -> None:
    put(client, versioned, "warehouse/_staging/copy/part-0.parquet", b"raw record")
    put(client, versioned, "warehouse/_staging/copy/part-0.parquet", b"raw record, again")
    put(client, versioned, "warehouse/_staging/copy/_delta_log/0.json", b"log")
    client.delete_object(Bucket=versioned, Key="warehouse/_staging/copy/_delta_log/0.json")
    put(client, versioned, "warehouse/_staging/copy-2/part-0.parquet", b"kept")

    remove_tree(f"s3://{versioned}/warehouse/_staging/copy")

    assert all_versions(client, versioned) == [("warehouse/_staging/copy-2/part-0.parquet", True)]


def test_old_versions_go_and_current_objects_stay(client: Any, versioned: str) -> None:
    table = "warehouse/silver/t"
    put(client, versioned, f"{table}/_delta_log/_last_checkpoint", b"version 1")
    put(client, versioned, f"{table}/_delta_log/_last_checkpoint", b"version 2")
    put(client, versioned, f"{table}/vacuumed.parquet", b"a person")
    client.delete_object(Bucket=versioned, Key=f"{table}/vacuumed.parquet")
    put(client, versioned, f"{table}/current.parquet", b"rows")
    put(client, versioned, "warehouse/silver/other/old.parquet", b"another table's")
    client.delete_object(Bucket=versioned, Key="warehouse/silver/other/old.parquet")

    forget_old_versions(f"s3://{versioned}/{table}")

    assert all_versions(client, versioned, table) == [
        (f"{table}/_delta_log/_last_checkpoint", True),
        (f"{table}/current.parquet", True),
    ]
    body = client.get_object(Bucket=versioned, Key=f"{table}/_delta_log/_last_checkpoint")
    assert body["Body"].read() == b"version 2"
    # Outside the folder nothing is touched.
    assert len(all_versions(client, versioned, "warehouse/silver/other")) == 2


def test_a_refused_version_delete_is_an_error_naming_the_permission(  # type: ignore[no-untyped-def]
    client: Any, versioned: str, monkeypatch
) -> None:
    put(client, versioned, "warehouse/_staging/copy/part-0.parquet", b"raw record")
    refuse_version_deletes(monkeypatch)

    with pytest.raises(VersionsKept) as refused:
        remove_tree(f"s3://{versioned}/warehouse/_staging/copy")

    message = str(refused.value)
    assert "\n" not in message and "AccessDenied" in message
    assert "s3:DeleteObjectVersion" in message and "NoncurrentVersionExpiration" in message
    assert f"s3://{versioned}/warehouse/_staging/copy/" in message


def test_a_lifecycle_rule_expiring_old_versions_within_a_day_stands_in(  # type: ignore[no-untyped-def]
    client: Any, versioned: str, monkeypatch, caplog
) -> None:
    put(client, versioned, "warehouse/_staging/copy/part-0.parquet", b"raw record")
    rule = {
        "ID": "expire-old-versions",
        "Status": "Enabled",
        "Filter": {"Prefix": "warehouse/"},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
    }
    client.put_bucket_lifecycle_configuration(
        Bucket=versioned, LifecycleConfiguration={"Rules": [rule]}
    )
    refuse_version_deletes(monkeypatch)
    caplog.set_level(logging.WARNING, logger="lakehouse")

    remove_tree(f"s3://{versioned}/warehouse/_staging/copy")

    assert "a lifecycle rule expires them within 1 day" in caplog.text


def test_an_unversioned_bucket_is_asked_once(  # type: ignore[no-untyped-def]
    moto_endpoint: str, client: Any, monkeypatch
) -> None:
    bucket = f"stedi-plain-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    with prepared_environment(s3_config(moto_endpoint, bucket)):
        put(client, bucket, "warehouse/_staging/copy/part-0.parquet", b"raw record")
        remove_tree(f"s3://{bucket}/warehouse/_staging/copy")
        asked = []
        real = storage.s3_client()
        monkeypatch.setattr(real, "get_bucket_versioning", lambda **kw: asked.append(kw))
        remove_tree(f"s3://{bucket}/warehouse/_staging/copy")
        forget_old_versions(f"s3://{bucket}/warehouse/silver/t")
    assert asked == [] and all_versions(client, bucket) == []


def refuse_version_deletes(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto grants every request: the lakehouse's S3 client is made to answer AccessDenied
    for every object version, as S3 does without s3:DeleteObjectVersion."""
    real = storage.s3_client()

    class Refusing:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
            entries = Delete["Objects"]
            refused = [{**e, "Code": "AccessDenied", "Message": "Access Denied"} for e in entries]
            return {"Errors": refused}

    monkeypatch.setattr(storage, "s3_client", Refusing)


def put(client: Any, bucket: str, key: str, body: bytes) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=body)


def all_versions(client: Any, bucket: str, prefix: str = "") -> list[tuple[str, bool]]:
    """(key, is the current object) of every version and delete marker below `prefix`."""
    listed = client.list_object_versions(Bucket=bucket, Prefix=prefix)
    entries = [(v["Key"], bool(v["IsLatest"])) for v in listed.get("Versions", [])]
    entries += [(m["Key"], False) for m in listed.get("DeleteMarkers", [])]
    return sorted(entries)


def test_a_refused_folder_does_not_keep_the_others_versions(  # type: ignore[no-untyped-def]
    client: Any, versioned: str, monkeypatch
) -> None:
    for table in ("a", "b"):
        put(client, versioned, f"warehouse/{table}/old.parquet", b"a person")
        client.delete_object(Bucket=versioned, Key=f"warehouse/{table}/old.parquet")
    real = storage.s3_client()

    class RefusingA:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
            if Delete["Objects"][0]["Key"].startswith("warehouse/a/"):
                refused = [{**e, "Code": "AccessDenied"} for e in Delete["Objects"]]
                return {"Errors": refused}
            return dict(real.delete_objects(Bucket=Bucket, Delete=Delete))

    monkeypatch.setattr(storage, "s3_client", RefusingA)

    with pytest.raises(VersionsKept, match="warehouse/a/"):
        forget_old_versions(f"s3://{versioned}/warehouse/a", f"s3://{versioned}/warehouse/b")

    assert all_versions(client, versioned, "warehouse/b") == []
    assert len(all_versions(client, versioned, "warehouse/a")) == 2
