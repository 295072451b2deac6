"""boto3 sessions and clients are made once per AWS environment, and follow its changes."""

from __future__ import annotations

import pytest

from lakehouse.core.aws import aws_credentials
from lakehouse.core.boto import aws_client


def test_a_client_is_reused_until_the_aws_environment_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    first = aws_client("s3")
    assert aws_client("s3") is first
    assert first.meta.endpoint_url == "http://127.0.0.1:9"

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:10")
    moved = aws_client("s3")
    assert moved is not first and moved.meta.endpoint_url == "http://127.0.0.1:10"
    glue = aws_client("glue", region_name="us-east-2", endpoint_url=None)
    assert glue.meta.region_name == "us-east-2"
    assert aws_client("glue", region_name="us-east-2", endpoint_url=None) is glue


def test_credentials_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "first-secret")
    assert aws_credentials().access_key == "first-key"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "rotated-key")
    assert aws_credentials().access_key == "rotated-key"
