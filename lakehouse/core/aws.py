"""The process environment that points every S3 and Glue client at the configured store.

Three clients touch AWS: the embedded engine (configured only through environment variables,
read when its server starts), `deltalake` (table history and maintenance) and boto3 (listing,
uploads, Glue). All of them read the same variables, so the entry point sets them once from
`storage.*` / `catalog.*` for the duration of a command and restores them afterwards.

Credentials are not configuration: every client takes them from the standard AWS chain.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lakehouse.core.boto import aws_session
from lakehouse.core.config import CatalogKind, Config, EngineName, StorageKind

GLUE_CATALOG = "glue"


def aws_environment(config: Config) -> dict[str, str]:
    """The variables a command needs for `config` (empty for local storage)."""
    env: dict[str, str] = {}
    storage = config.storage
    if storage.kind == StorageKind.s3 and storage.region:
        # boto3 reads AWS_DEFAULT_REGION, the Rust clients (engine, deltalake) AWS_REGION.
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = storage.region
        if storage.endpoint_url:
            # AWS_ENDPOINT_URL for the Rust clients; boto3 scopes it to S3 so that Glue and
            # other services keep their own endpoints.
            env["AWS_ENDPOINT_URL"] = env["AWS_ENDPOINT_URL_S3"] = storage.endpoint_url
            if storage.endpoint_url.startswith("http://"):
                env["AWS_ALLOW_HTTP"] = "true"
    catalog = config.catalog
    if (
        catalog.kind == CatalogKind.glue
        and catalog.engine_catalog
        and config.engine.name == EngineName.sail
    ):
        entry = f'name="{GLUE_CATALOG}", type="glue", region="{catalog.region}"'
        if catalog.endpoint_url:
            entry += f', endpoint_url="{catalog.endpoint_url}"'
        env["SAIL_CATALOG__LIST"] = f"[{{{entry}}}]"
        env["SAIL_CATALOG__DEFAULT_CATALOG"] = GLUE_CATALOG
    return env


@contextmanager
def prepared_environment(config: Config, extra: dict[str, str] | None = None) -> Iterator[None]:
    """Set `aws_environment(config)` and `extra` for the block, then restore what was there."""
    changes = {**aws_environment(config), **(extra or {})}
    saved = {key: os.environ.get(key) for key in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def aws_credentials() -> Any:
    """The current frozen credentials from the standard AWS chain (None when there are none).

    Environment keys, shared profiles (AWS_PROFILE), SSO, web identity and instance roles are
    all resolved by boto3, which also refreshes temporary credentials.
    """
    credentials = aws_session().get_credentials()
    return credentials.get_frozen_credentials() if credentials is not None else None
