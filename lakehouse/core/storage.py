"""The files the lakehouse handles itself, on a local disk or in S3.

The engine reads and writes the Delta tables; this module covers the rest: listing landing
files, reading their bytes for checksums, finding table folders, removing scratch space and
uploading files into a landing zone. A path is a local folder or an `s3://bucket/prefix` URI and
the path alone decides which store answers, so callers never branch on the storage kind.

S3 is reached with boto3 and the standard AWS chain; region and endpoint come from the
environment the entry point prepares from `storage.*` (see `lakehouse.core.aws`).
"""

from __future__ import annotations

import errno
import filecmp
import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lakehouse.core.boto import aws_client

S3_SCHEME = "s3://"
_CHUNK = 1 << 20
# Object metadata `land` records, so a later `land` can recognise unchanged files.
SHA256_METADATA = "sha256"


@dataclass(frozen=True)
class StoredFile:
    path: str
    size: int
    modified_ns: int


@dataclass(frozen=True)
class Entry:
    """Something directly in a folder: a file, a folder, or a link (with where it points)."""

    path: str
    kind: str  # "file", "folder" or "link"
    size: int = 0
    modified_ns: int = 0
    # A link's resolved target; None when it points nowhere.
    target: str | None = None
    # An S3 object's ETag (None for local files): S3 times have whole seconds, so size and
    # time cannot tell apart two contents written within one second; the ETag can.
    etag: str | None = None
    # Why it cannot be used whatever it is (a link loop, a name that is not UTF-8); None: it can.
    problem: str | None = None


def is_s3(path: str) -> bool:
    return path.startswith(S3_SCHEME)


def join(folder: str, *names: str) -> str:
    return "/".join([folder.rstrip("/"), *names])


def list_files(folder: str, suffix: str) -> list[StoredFile]:
    """The files directly in `folder` whose names end with `suffix`, in name order."""
    if not is_s3(folder):
        return [
            StoredFile(str(path), path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(Path(folder).glob(f"*{suffix}"))
            if path.is_file()
        ]
    bucket, prefix = split_s3(folder, as_folder=True)
    files = [
        StoredFile(
            f"{S3_SCHEME}{bucket}/{item['Key']}",
            int(item["Size"]),
            int(item["LastModified"].timestamp() * 1_000_000_000),
        )
        for page in _pages(bucket, prefix, delimiter="/")
        for item in page.get("Contents", [])
        if item["Key"].endswith(suffix)
    ]
    return sorted(files, key=lambda file: file.path)


def list_entries(folder: str) -> list[Entry]:
    """Everything directly in `folder`, in name order; links are reported, not followed.

    An S3 "folder" is a common prefix; a zero-byte `folder/` marker object is not an entry.
    """
    if not is_s3(folder):
        root = Path(folder)
        return [_local_entry(path) for path in sorted(root.iterdir())] if root.is_dir() else []
    bucket, prefix = split_s3(folder, as_folder=True)
    entries = []
    for page in _pages(bucket, prefix, delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            entries.append(Entry(f"{S3_SCHEME}{bucket}/{common['Prefix'].rstrip('/')}", "folder"))
        for item in page.get("Contents", []):
            if item["Key"] == prefix:
                continue
            modified = int(item["LastModified"].timestamp() * 1_000_000_000)
            path = f"{S3_SCHEME}{bucket}/{item['Key']}"
            etag = str(item.get("ETag", "")).strip('"') or None
            entries.append(Entry(path, "file", int(item["Size"]), modified, etag=etag))
    return sorted(entries, key=lambda entry: entry.path)


def _local_entry(path: Path) -> Entry:
    """One entry; what cannot be looked at (a link loop, an entry removed meanwhile) or named
    as text (bytes that are not UTF-8) is an entry with its problem, never an exception: one
    odd entry must not stop the listing of every other."""
    try:
        str(path).encode()
    except UnicodeEncodeError:
        # The name's bytes came back as lone surrogates, which no engine, table or JSON takes:
        # it is named with those bytes escaped (`\xff`).
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        return Entry(shown, "file", problem="a name that is not valid UTF-8 (rename it to read it)")
    try:
        return _looked_at(path)
    except OSError as error:
        return Entry(str(path), "file", problem=f"cannot be read: {error.strerror or error}")


def _looked_at(path: Path) -> Entry:
    if path.is_symlink():
        try:
            # Strict: a loop is an error (ELOOP) here, not the RuntimeError `resolve` raises.
            target: Path | None = Path(os.path.realpath(path, strict=True))
        except FileNotFoundError:
            target = None
        except OSError as error:
            if error.errno != errno.ELOOP:
                raise
            return Entry(
                str(path), "link", problem="a link that never reaches a file (a loop of links)"
            )
        stat = target.stat() if target is not None and target.is_file() else None
        return Entry(
            str(path),
            "link",
            stat.st_size if stat else 0,
            stat.st_mtime_ns if stat else 0,
            str(target) if target is not None else None,
        )
    if path.is_dir():
        return Entry(str(path), "folder")
    stat = path.stat()
    return Entry(str(path), "file", stat.st_size, stat.st_mtime_ns)


def is_within(path: str, folder: str) -> bool:
    """Whether a local `path` (already resolved) lies inside `folder`."""
    return Path(path).is_relative_to(Path(folder).resolve())


def read_chunks(path: str) -> Iterator[bytes]:
    """The file's bytes, a chunk at a time."""
    if not is_s3(path):
        with open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk
        return
    bucket, key = split_s3(path)
    body = s3_client().get_object(Bucket=bucket, Key=key)["Body"]
    yield from body.iter_chunks(_CHUNK)


def upload_file(local: Path, destination: str) -> None:
    """Copy one local file to `destination` (a local path or an S3 URI)."""
    if is_s3(destination):
        bucket, key = split_s3(destination)
        s3_client().upload_file(str(local), bucket, key)
        return
    Path(destination).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(local, destination)


def folder_exists(folder: str) -> bool:
    """A local folder, or an S3 prefix holding at least one object."""
    if not is_s3(folder):
        return Path(folder).is_dir()
    bucket, prefix = split_s3(folder, as_folder=True)
    listed = s3_client().list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return int(listed.get("KeyCount", 0)) > 0


def subfolders(folder: str) -> list[str]:
    """Names of the folders directly inside `folder`, in name order."""
    if not is_s3(folder):
        root = Path(folder)
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    bucket, prefix = split_s3(folder, as_folder=True)
    names = [
        common["Prefix"][len(prefix) :].rstrip("/")
        for page in _pages(bucket, prefix, delimiter="/")
        for common in page.get("CommonPrefixes", [])
    ]
    return sorted(names)


def remove_file(path: str) -> None:
    """Delete one file or object (nothing happens if it does not exist)."""
    if not is_s3(path):
        Path(path).unlink(missing_ok=True)
        return
    bucket, key = split_s3(path)
    s3_client().delete_object(Bucket=bucket, Key=key)


def file_names(folder: str) -> set[str]:
    """The paths of every file below `folder` (recursively), as `join(folder, ...)` gives them."""
    if not is_s3(folder):
        root = Path(folder)
        return {
            join(folder, p.relative_to(root).as_posix()) for p in root.rglob("*") if p.is_file()
        }
    bucket, prefix = split_s3(folder, as_folder=True)
    return {
        f"{S3_SCHEME}{bucket}/{item['Key']}"
        for page in _pages(bucket, prefix)
        for item in page.get("Contents", [])
    }


def remove_tree(folder: str) -> None:
    """Delete `folder` and everything below it (nothing happens if it does not exist).

    The lakehouse removes trees only of scratch copies, which hold raw records: on a bucket
    that keeps versions, every version and delete marker below `folder` goes too, or the
    bucket would keep each copy as a non-current version (`VersionsKept` when it may not).
    """
    if not is_s3(folder):
        shutil.rmtree(folder, ignore_errors=True)
        return
    if keeps_versions(folder):
        _forget(folder, lambda key, latest: True)
        return
    bucket, prefix = split_s3(folder, as_folder=True)
    client = s3_client()
    for page in _pages(bucket, prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


# --- Buckets that keep versions --------------------------------------------------------------
# With versioning on (or suspended: versions made before stay), deleting an object only hides
# it behind a delete marker and overwriting one keeps the old bytes as a non-current version.
# What the lakehouse removes so that it is gone (scratch copies, vacuumed files, purged log)
# must then also lose its versions.

VERSION_BATCH = 1000  # the most keys one DeleteObjects call takes
# A lifecycle rule that expires non-current versions within this many days stands in for
# deleting them, where the lakehouse may not.
LIFECYCLE_DAYS = 1
_KEEPING = ("Enabled", "Suspended")

log = logging.getLogger(__name__)


class VersionsKept(RuntimeError):
    """Object versions of removed files that the bucket keeps and the lakehouse may not delete."""


@dataclass(frozen=True)
class Versioning:
    keeps_versions: bool
    mfa_delete: bool = False


def keeps_versions(path: str) -> bool:
    """Whether `path` is in a bucket that keeps versions of deleted or overwritten objects."""
    return is_s3(path) and bucket_versioning(split_s3(path)[0]).keeps_versions


def bucket_versioning(bucket: str) -> Versioning:
    """The bucket's versioning, asked once per bucket and AWS environment (a process): runs
    remove scratch copies many times, and a bucket's versioning rarely changes."""
    return _versioning(s3_client(), bucket)  # one client per environment (`aws_client`)


@lru_cache(maxsize=32)
def _versioning(client: Any, bucket: str) -> Versioning:
    from botocore.exceptions import ClientError

    try:
        answer = client.get_bucket_versioning(Bucket=bucket)
    except ClientError as error:
        if _error_code(error) not in ("AccessDenied", "403"):
            raise
        # Not a reason to stop every run of a policy made before this check existed.
        log.warning(
            "cannot tell whether bucket %s keeps object versions (s3:GetBucketVersioning is "
            "not granted): if it does, removed scratch copies and vacuumed files stay as "
            "non-current versions",
            bucket,
        )
        return Versioning(False)
    return Versioning(answer.get("Status") in _KEEPING, answer.get("MFADelete") == "Enabled")


def forget_old_versions(*folders: str) -> None:
    """Permanently delete every non-current version and delete marker below each folder: the
    old bytes of objects overwritten or removed there. Current objects stay.

    Every folder is tried before the first refusal (`VersionsKept`) is raised, so one folder
    the bucket protects does not leave the versions of the others behind.
    """
    refused: list[VersionsKept] = []
    for folder in folders:
        if not keeps_versions(folder):
            continue
        try:
            _forget(folder, lambda key, latest: not latest)
        except VersionsKept as error:
            refused.append(error)
    if refused:
        raise refused[0]


def _forget(folder: str, chosen: Callable[[str, bool], bool]) -> None:
    """Delete the versions and delete markers below `folder` that `chosen(key, is_latest)`
    picks (a marker always counts as not latest: it hides, never holds, content)."""
    bucket, prefix = split_s3(folder, as_folder=True)
    client = s3_client()
    refused: list[dict[str, Any]] = []
    pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    batch: list[dict[str, str]] = []
    for page in pages:
        found = [(v, bool(v.get("IsLatest"))) for v in page.get("Versions", [])]
        found += [(m, False) for m in page.get("DeleteMarkers", [])]
        for version, latest in found:
            if not chosen(version["Key"], latest):
                continue
            batch.append({"Key": version["Key"], "VersionId": version["VersionId"]})
            if len(batch) == VERSION_BATCH:
                refused += _delete_versions(client, bucket, batch)
                batch = []
    if batch:
        refused += _delete_versions(client, bucket, batch)
    if refused:
        _versions_refused(bucket, prefix, refused)


def _delete_versions(client: Any, bucket: str, batch: list[dict[str, str]]) -> list[Any]:
    """The entries S3 refused of one DeleteObjects call (each a Key, VersionId, Code, Message).

    A missing s3:DeleteObjectVersion or an Object Lock retention refuses entry by entry; MFA
    delete refuses the whole call.
    """
    from botocore.exceptions import ClientError

    try:
        answer = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    except ClientError as error:
        if _error_code(error) not in ("AccessDenied", "403"):
            raise
        message = str(error.response.get("Error", {}).get("Message", ""))
        return [{**entry, "Code": _error_code(error), "Message": message} for entry in batch]
    return list(answer.get("Errors", []))


def _versions_refused(bucket: str, prefix: str, refused: list[dict[str, Any]]) -> None:
    """Raise `VersionsKept` for versions S3 would not delete, unless a lifecycle rule expires
    them soon (then only warn): what was removed is otherwise still in the bucket."""
    where = f"{S3_SCHEME}{bucket}/{prefix}"
    days = noncurrent_expiry_days(bucket, prefix)
    if days is not None and days <= LIFECYCLE_DAYS:
        log.warning(
            "%d object versions under %s could not be deleted; a lifecycle rule expires them "
            "within %d day(s)",
            len(refused),
            where,
            days,
        )
        return
    first = refused[0]
    reason = f"{first.get('Code', '?')}: {first.get('Message', '')}".strip().rstrip(":")
    mfa = " (the bucket has MFA delete on)" if bucket_versioning(bucket).mfa_delete else ""
    raise VersionsKept(
        f"bucket {bucket} keeps versions of removed files and refused to delete "
        f"{len(refused)} of them under {where} ({reason}){mfa}: what was removed is still "
        "held there. Grant s3:DeleteObjectVersion on the bucket (the next `lakehouse vacuum` "
        "then deletes a table's versions, the next run those of scratch copies), or add a "
        "lifecycle rule expiring non-current versions (NoncurrentVersionExpiration, "
        f"NoncurrentDays {LIFECYCLE_DAYS}) for the prefix"
    )


def noncurrent_expiry_days(bucket: str, prefix: str) -> int | None:
    """The fewest days after which an enabled lifecycle rule covering `prefix` expires
    non-current versions, or None (no such rule, or the rules cannot be read)."""
    from botocore.exceptions import ClientError

    try:
        rules = s3_client().get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except ClientError:
        return None  # none set, or not allowed to read them: either way none to rely on
    days = [
        int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        for rule in rules
        if rule.get("Status") == "Enabled"
        and "NoncurrentDays" in rule.get("NoncurrentVersionExpiration", {})
        and _covers(rule, prefix)
    ]
    return min(days) if days else None


def _covers(rule: dict[str, Any], prefix: str) -> bool:
    # A rule that also filters by tag or size is not known to reach every object below it.
    filtered = rule.get("Filter", {})
    if set(filtered) - {"Prefix"}:
        return False
    return prefix.startswith(str(filtered.get("Prefix", rule.get("Prefix", ""))))


def _error_code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class Landed:
    uploaded: list[str]
    skipped: list[str]


def upload_tree(local_folder: Path, target: str, suffix: str = ".json") -> Landed:
    """Copy every `suffix` file below `local_folder` to the same relative path under `target`.

    A file already there with the same content is skipped, so landing twice uploads nothing;
    a file whose content changed is uploaded again (bronze takes it as a new delivery).
    """
    uploaded, skipped = [], []
    for path in sorted(local_folder.rglob(f"*{suffix}")):
        relative = path.relative_to(local_folder).as_posix()
        destination = join(target, relative)
        if _holds_same_content(destination, path):
            skipped.append(destination)
            continue
        if is_s3(destination):
            bucket, key = split_s3(destination)
            metadata = {"Metadata": {SHA256_METADATA: _digest(path, "sha256")}}
            s3_client().upload_file(str(path), bucket, key, ExtraArgs=metadata)
        else:
            Path(destination).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        uploaded.append(destination)
    return Landed(uploaded, skipped)


def split_s3(uri: str, *, as_folder: bool = False) -> tuple[str, str]:
    """`s3://bucket/a/b` -> (`bucket`, `a/b`); a folder's prefix ends with `/`."""
    bucket, _, key = uri.removeprefix(S3_SCHEME).partition("/")
    if as_folder:
        key = key.rstrip("/") + "/" if key.strip("/") else ""
    return bucket, key


def s3_client() -> Any:
    # The region and endpoint come from the environment (see `aws_client`).
    return aws_client("s3")


def _pages(bucket: str, prefix: str, delimiter: str | None = None) -> Iterator[dict[str, Any]]:
    options = {"Bucket": bucket, "Prefix": prefix}
    if delimiter:
        options["Delimiter"] = delimiter
    yield from s3_client().get_paginator("list_objects_v2").paginate(**options)


def _holds_same_content(destination: str, local: Path) -> bool:
    if not is_s3(destination):
        return Path(destination).is_file() and filecmp.cmp(destination, local, shallow=False)
    from botocore.exceptions import ClientError

    bucket, key = split_s3(destination)
    client = s3_client()
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    if int(head["ContentLength"]) != local.stat().st_size:
        return False
    recorded = head.get("Metadata", {}).get(SHA256_METADATA)
    if recorded:
        return bool(recorded == _digest(local, "sha256"))
    # Uploaded by another tool: a single-part upload's ETag is the MD5 of its bytes.
    etag = str(head.get("ETag", "")).strip('"')
    return "-" not in etag and etag == _digest(local, "md5")


def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
