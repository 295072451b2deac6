"""The pseudonym salt: a secret of each warehouse, never a public default, never printed.

`privacy.pseudonym_salt` is `auto` unless set (from `LAKEHOUSE_PSEUDONYM_SALT`, say, filled by a
secret manager). With `auto`, the first operation that writes a warehouse draws a random salt
and keeps it in `<warehouse>/_secrets/pseudonym_salt`, outside every table: the pseudonyms in
gold cannot be rebuilt from an email by anyone who has only the code and the configuration.
Whoever can read the warehouse's files can read that secret too; where that is too close, set
the salt from a secret store instead.

A warehouse whose tables already carry pseudonyms never draws a salt on its own: a new one
would re-key only the tables the next runs happen to rebuild, and orphan every key kept
elsewhere. A lost secret stops every operation until it is restored or the warehouse is
re-keyed on purpose (`new_pseudonym_salt`: `lakehouse run --rekey`), in one run that rebuilds
every table keyed by the salt.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path

from lakehouse.core.catalog import TableSpec
from lakehouse.core.config import Config, ConfigError
from lakehouse.core.delta_log import is_delta_table
from lakehouse.core.errors import UsageError
from lakehouse.core.storage import is_s3, join, s3_client, split_s3

AUTO = "auto"
SECRET_FILE = ("_secrets", "pseudonym_salt")
_SALT_BYTES = 32
# What the fingerprint authenticates: any fixed text does, as long as it never changes.
_FINGERPRINT_OF = b"stedi-lakehouse pseudonym salt fingerprint"
_FINGERPRINT_CHARS = 16


def with_pseudonym_salt(config: Config, *, create: bool, keyed: Sequence[TableSpec] = ()) -> Config:
    """`config` with its salt resolved: the configured one, or the warehouse's own.

    With `create`, a warehouse without a secret gets one (callers hold the warehouse lock);
    without, a warehouse that has none keeps `auto` (it has no pseudonyms yet either). When
    one of the `keyed` tables (those whose rows carry pseudonyms) exists but the secret does
    not, the secret was lost: a `ConfigError` says how to recover, whether or not `create`.
    """
    if config.privacy.pseudonym_salt != AUTO:
        return config
    location = secret_location(config)
    salt = _read(location)
    if salt == "":
        raise ConfigError(
            f"{location} is empty (a write cut off?): delete it only if no run has used it "
            "(gold's pseudonyms depend on it), or set privacy.pseudonym_salt"
        )
    if salt is None:
        _refuse_if_keyed(config, location, keyed)
        if not create:
            return config
        salt = secrets.token_hex(_SALT_BYTES)
        _write(location, salt)
    return _with_salt(config, salt)


def check_pseudonym_salt(config: Config, keyed: Sequence[TableSpec], *, rekey: bool) -> None:
    """Refuse, writing nothing, what resolving the salt under the warehouse lock would refuse."""
    if rekey:
        _require_auto(config)
    else:
        with_pseudonym_salt(config, create=False, keyed=keyed)


def new_pseudonym_salt(config: Config) -> Config:
    """`config` with a newly drawn secret, written over the warehouse's (callers hold the lock
    and rebuild every table keyed by the salt in the same run)."""
    _require_auto(config)
    salt = secrets.token_hex(_SALT_BYTES)
    _write(secret_location(config), salt)
    return _with_salt(config, salt)


def salt_fingerprint(salt: str) -> str:
    """A short digest that tells salts apart without revealing one: an HMAC keyed by the salt
    of a fixed text, so it is no hash of the salt that could be looked up or compared."""
    digest = hmac.new(salt.encode(), _FINGERPRINT_OF, hashlib.sha256).hexdigest()
    return digest[:_FINGERPRINT_CHARS]


def secret_location(config: Config) -> str:
    return join(config.paths.warehouse, *SECRET_FILE)


def _refuse_if_keyed(config: Config, location: str, keyed: Sequence[TableSpec]) -> None:
    warehouse = config.paths.warehouse
    built = [table.qualified_name for table in keyed if is_delta_table(table.location(warehouse))]
    if built:
        raise ConfigError(
            f"{location} is missing, but {', '.join(built)} hold pseudonyms made with it: a "
            "new salt would re-key only part of the warehouse. Restore the file from a backup "
            "(or set privacy.pseudonym_salt to the salt they were made with), or re-key on "
            "purpose: `lakehouse run --rekey` draws a new salt and rebuilds every table keyed "
            "by it in one run"
        )


def _require_auto(config: Config) -> None:
    if config.privacy.pseudonym_salt != AUTO:
        raise UsageError(
            "--rekey draws a new salt for privacy.pseudonym_salt=auto, but the salt is set "
            "(privacy.pseudonym_salt or $LAKEHOUSE_PSEUDONYM_SALT): change it where it is "
            "set, and `lakehouse run` rebuilds every table keyed by it"
        )


def _with_salt(config: Config, salt: str) -> Config:
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
    # The folder is its owner's alone too (also one an older version made with the umask's
    # mode): others cannot even list it.
    path.parent.mkdir(mode=stat.S_IRWXU, parents=True, exist_ok=True)
    os.chmod(path.parent, stat.S_IRWXU)
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
