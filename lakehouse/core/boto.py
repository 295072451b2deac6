"""boto3 sessions and clients, made once per AWS environment and reused.

Making a session reads botocore's data files (about 20 ms) and a client its service model
(about 190 ms): a run on S3 that made them per call spent half its time there. A session and
its clients are reused while the AWS_* variables stay the same (a test or notebook may point
them at another store between calls); their credentials still refresh as boto3's do.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

Variables = tuple[tuple[str, str], ...]
Options = tuple[tuple[str, str | None], ...]


def aws_client(service: str, **options: str | None) -> Any:
    """A boto3 client for `service` in the current AWS environment (thread-safe, reused)."""
    return _client(_aws_variables(), service, tuple(sorted(options.items())))


def aws_session() -> Any:
    """The boto3 session for the current AWS environment."""
    return _session(_aws_variables())


def _aws_variables() -> Variables:
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))


# Sessions are not thread-safe (clients are): one lock for making either.
_making = threading.Lock()


@lru_cache(maxsize=8)
def _session(variables: Variables) -> Any:
    import boto3  # the aws extra: only S3 warehouses and Glue get here

    with _making:
        return boto3.session.Session()


@lru_cache(maxsize=32)
def _client(variables: Variables, service: str, options: Options) -> Any:
    session = _session(variables)
    with _making:
        return session.client(service, **dict(options))
