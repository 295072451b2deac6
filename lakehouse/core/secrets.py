"""The pseudonym salt: a secret of each warehouse, never a public default, never printed.

`privacy.pseudonym_salt` is `auto` unless set (from `LAKEHOUSE_PSEUDONYM_SALT`, say, filled by a
secret manager). With `auto`, the first operation that writes a warehouse draws a random salt
and keeps it in `<warehouse>/_secrets/pseudonym_salt`, outside every table: the pseudonyms in
gold cannot be rebuilt from an email by anyone who has only the code and the configuration.
Whoever can read the warehouse's files can read that secret too; where that is too close, set
the salt from a secret store instead.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import stat
from pathlib import Path

from lakehouse.core.config import Config, ConfigError
from lakehouse.core.storage import is_s3, join, s3_client, split_s3

AUTO = "auto"
SECRET_FILE = ("_secrets", "pseudonym_salt")
_SALT_BYTES = 32


def with_pseudonym_salt(config: Config, *, create: bool) -> Config:
    """`config` with its salt resolved: the configured one, or the warehouse's own.

    With `create`, a warehouse without a secret gets one (callers hold the warehouse lock);
    without, a warehouse that has none keeps `auto` (it has no pseudonyms yet either).
    """
    if config.privacy.pseudonym_salt != AUTO:
        return config
    location = join(config.paths.warehouse, *SECRET_FILE)
    salt = _read(location)
    if salt == "":
        raise ConfigError(
            f"{location} is empty (a write cut off?): delete it only if no run has used it "
            "(gold's pseudonyms depend on it), or set privacy.pseudonym_salt"
        )
    if salt is None and create:
        salt = secrets.token_hex(_SALT_BYTES)
        _write(location, salt)
    if salt is None:
        return config
    privacy = dataclasses.replace(config.privacy, pseudonym_salt=salt)
    return dataclasses.replace(config, privacy=privacy)


def _read(location: str) -> str | None:
    if not is_s3(location):
        path = Path(location)
        return path.read_text().strip() if path.is_file() else None
    bucket, key = split_s3(location)
    client = s3_client()
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None
    return str(body.decode().strip())


def _write(location: str, salt: str) -> None:
    if is_s3(location):
        bucket, key = split_s3(location)
        s3_client().put_object(Bucket=bucket, Key=key, Body=salt.encode())
        return
    path = Path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Readable by its owner only from the moment it exists, and whole or absent: written
    # aside, then renamed into place.
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(salt)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
