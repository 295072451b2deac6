"""The files the lakehouse handles itself, on a local disk or in S3.

The engine reads and writes the Delta tables; this module covers the rest: listing landing
files, reading their bytes for checksums, finding table folders, removing scratch space and
uploading files into a landing zone. A path is a local folder or an `s3://bucket/prefix` URI and
the path alone decides which store answers, so callers never branch on the storage kind.

S3 is reached with boto3 and the standard AWS chain; region and endpoint come from the
environment the entry point prepares from `storage.*` (see `lakehouse.core.aws`).
"""

from __future__ import annotations

import filecmp
import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
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
            entries.append(Entry(path, "file", int(item["Size"]), modified))
    return sorted(entries, key=lambda entry: entry.path)


def _local_entry(path: Path) -> Entry:
    if path.is_symlink():
        target = path.resolve()
        stat = target.stat() if target.is_file() else None
        return Entry(
            str(path),
            "link",
            stat.st_size if stat else 0,
            stat.st_mtime_ns if stat else 0,
            str(target) if target.exists() else None,
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
    """Delete `folder` and everything below it (nothing happens if it does not exist)."""
    if not is_s3(folder):
        shutil.rmtree(folder, ignore_errors=True)
        return
    bucket, prefix = split_s3(folder, as_folder=True)
    client = s3_client()
    for page in _pages(bucket, prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


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
