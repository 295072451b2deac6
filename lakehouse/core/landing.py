"""The landing zone: which files a source has, and their lines with file and line number.

Listing and checksumming need no engine (a run that finds nothing new starts none); the
engine reads the lines in `landing_lines`.

Every listed file is read as exactly that file, whatever its name or bytes. Files the engine's
reader takes as they are (plain UTF-8 JSON lines under a plain name) are read by the engine;
the rest — names with glob or URL syntax or a leading `_`/`.`, gzip, a byte-order mark,
invalid UTF-8, JSON arrays — are read here in Python, one line (or array element) at a time,
into a scratch Parquet copy the engine then reads. Both give the same rows: file, checksum,
line number, the line's text, and a `problem` when the bytes themselves are unreadable.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path

from lakehouse.core.storage import (
    Entry,
    is_s3,
    is_within,
    join,
    list_entries,
    read_chunks,
)

SUFFIXES = (".json", ".json.gz")
LINES_SCHEMA = (
    "source_file STRING, source_checksum STRING, source_line INT, line STRING, problem STRING"
)
# Path parts the engine's reader takes literally; anything else (`[`, `{`, `*`, `%`, spaces,
# quotes, a leading `_` or `.` that marks hidden files) is read here instead.
_PLAIN_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = codecs.BOM_UTF8
_WHITESPACE = b" \t\r\n"


@dataclass(frozen=True)
class LandingFile:
    """A delivered file as the listing shows it; `checksum` is filled in once computed.

    `careful` says why the file is read in Python rather than by the engine (None: it is not).
    """

    path: str
    size: int
    modified_ns: int
    checksum: str | None = None
    careful: str | None = None
    # The S3 ETag (None for local files): see `listed_as`.
    etag: str | None = None

    @property
    def listed_as(self) -> tuple[str, int, int, str | None]:
        """What the listing says about the file without reading it: equal means unchanged.

        Local times have nanoseconds; S3's have whole seconds, so an object overwritten within
        the second it was listed in would look unchanged by size and time: its ETag differs.
        """
        return (self.path, self.size, self.modified_ns, self.etag)


@dataclass(frozen=True)
class Survey:
    """A source folder's files to ingest, and what was found there but not taken (and why)."""

    files: list[LandingFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """What a run says about the folder: its warnings, and each file skipped and why."""
        return [*self.warnings, *(f"{path}: skipped, {why}" for path, why in self.skipped)]


def unread(
    listed: Iterable[LandingFile], known: Iterable[Mapping[str, object]]
) -> list[LandingFile]:
    """The listed files that must be read: those not listed as a `known` row (an ingested
    file's `file`, `size`, `modified_ns` and `etag`) says they were when ingested.

    Equal listings mean an unchanged file, dropped unread; any other is checksummed.
    """
    unchanged = {(row["file"], row["size"], row["modified_ns"], row.get("etag")) for row in known}
    return [file for file in listed if file.listed_as not in unchanged]


def survey(landing: str, source: str, *, follow_outside_links: bool = False) -> Survey:
    """Every `*.json` / `*.json.gz` file of a source (`<landing>/<source>/`), in name order.

    Other files and subfolders are listed as skipped; a link to a file outside the landing zone
    is skipped unless `follow_outside_links`. `landing` is a local folder or an S3 URI.
    """
    folder = join(landing, source)
    entries = list_entries(folder)
    found = Survey()
    if not entries:
        found.warnings.append(f"{source}: no files in {folder}")
    for entry in entries:
        why = _why_skipped(entry, landing, follow_outside_links)
        if why:
            found.skipped.append((entry.path, why))
        else:
            found.files.append(
                LandingFile(entry.path, entry.size, entry.modified_ns, etag=entry.etag)
            )
    return found


def landing_files(landing: str, source: str) -> list[LandingFile]:
    return survey(landing, source).files


def _why_skipped(entry: Entry, landing: str, follow_outside_links: bool) -> str | None:
    if entry.problem:
        return entry.problem
    if entry.kind == "folder":
        return "a folder (only files directly in the source folder are read)"
    if not entry.path.endswith(SUFFIXES):
        return "not a .json or .json.gz file"
    if entry.kind == "link":
        if entry.target is None:
            return "a link to nothing"
        if not Path(entry.target).is_file():
            return "a link to something that is not a file"
        if not is_within(entry.target, landing) and not follow_outside_links:
            return (
                f"a link to {entry.target}, outside the landing zone (not followed; "
                "ingest.follow_outside_links=true takes it)"
            )
    return None


def checked(files: list[LandingFile]) -> list[LandingFile]:
    """The files with their SHA-256 and how they must be read, summed in parallel threads."""
    # hashlib releases the GIL on large buffers.
    with ThreadPoolExecutor() as pool:
        return list(pool.map(inspect, files))


def inspect(file: LandingFile) -> LandingFile:
    """One pass over the bytes: the content checksum, and whether the engine can read them."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    head = b""
    lead: int | None = None  # the first byte that is not whitespace (or the BOM)
    utf8 = True
    for number, chunk in enumerate(read_chunks(file.path)):
        digest.update(chunk)
        if len(head) < 3:
            head += chunk[:3]
        if lead is None:
            stripped = (chunk.removeprefix(_BOM) if number == 0 else chunk).lstrip(_WHITESPACE)
            lead = stripped[0] if stripped else None
        # ASCII (most exports) is valid UTF-8 and far cheaper to check than to decode.
        if utf8 and not (chunk.isascii() and not decoder.getstate()[0]):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    careful = (
        "gzip-compressed"
        if head.startswith(_GZIP_MAGIC)
        else "a byte-order mark"
        if head.startswith(_BOM)
        else "a JSON array"
        if lead == ord("[")
        else "invalid UTF-8"
        if not utf8
        else "its name"
        if not engine_reads_as_is(file.path)
        else None
    )
    return replace(file, checksum=digest.hexdigest(), careful=careful)


def engine_reads_as_is(path: str) -> bool:
    """Whether the engine's reader takes `path` literally (no glob, escape or hidden part)."""
    parts = path.removeprefix("s3://").split("/") if is_s3(path) else Path(path).parts[1:]
    return all(_PLAIN_PART.fullmatch(part) for part in parts if part)


Line = tuple[int, str | None, str | None]


def careful_lines(path: str) -> Iterator[Line]:
    """(line number, text, problem) for each line of a file, or each element of a JSON array.

    Decompresses gzip (recognised by its bytes, whatever the name), drops a byte-order mark,
    and keeps a line that is not UTF-8 with its bytes escaped (`\\xff`) and the problem named.
    A file that cannot be read to its end gives a last row saying where and why it stopped.
    """
    raw = read_chunks(path)
    first = next(raw, b"")
    chunks: Iterator[bytes] = chain([first], raw)
    if first.startswith(_GZIP_MAGIC):
        chunks = _gunzip(chunks)
    number = 0
    try:
        lines = _split_lines(chunks)
        head = next(lines, None)
        if head is None:
            return
        head = head.removeprefix(_BOM)
        if head.lstrip(_WHITESPACE).startswith(b"["):
            text = b"\n".join(chain([head], lines)).decode("utf-8", "backslashreplace")
            yield from array_elements(text)
            return
        for number, line in enumerate(chain([head], lines), 1):
            yield (number, *_decoded(line))
    except (zlib.error, OSError, EOFError) as error:
        yield number + 1, None, f"the file cannot be read past line {number}: {error}"


def _decoded(line: bytes) -> tuple[str, str | None]:
    try:
        return line.decode("utf-8"), None
    except UnicodeDecodeError as error:
        text = line.decode("utf-8", "backslashreplace")
        return text, f"invalid UTF-8 at byte {error.start + 1} of the line"


def _split_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines without their LF or CRLF; a last line without a newline counts, a final one not."""
    carry = b""
    for chunk in chunks:
        parts = (carry + chunk).split(b"\n")
        carry = parts.pop()
        for part in parts:
            yield part.removesuffix(b"\r")
    if carry:
        yield carry.removesuffix(b"\r")


def _gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The decompressed bytes of one or more concatenated gzip members."""
    inflater = zlib.decompressobj(wbits=31)
    pending = False  # bytes fed to a member that has not ended yet
    for chunk in chunks:
        while chunk:
            pending = True
            yield inflater.decompress(chunk)
            chunk = b""
            if inflater.eof:
                chunk, inflater, pending = inflater.unused_data, zlib.decompressobj(wbits=31), False
    if pending:
        raise EOFError("the gzip data ends early (a cut-off file)")


def array_elements(text: str) -> Iterator[Line]:
    """Each element of a JSON array on one line, numbered by its position in the array.

    Positions, not line numbers: several elements may share a line, and lineage must name
    each record exactly. Problems name the line where reading stopped.
    """
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    number = 0

    def stopped(index: int, why: str) -> Line:
        rest = text[index:].strip()
        line = text.count("\n", 0, index) + 1
        return number + 1, rest or None, f"{why} (line {line})"

    while True:
        position = _skip_space(text, position)
        if position >= len(text):
            yield stopped(position, "the JSON array is not closed (a cut-off file?)")
            return
        if text[position] == "]":
            if text[position + 1 :].strip():
                yield stopped(position + 1, "text after the end of the JSON array")
            return
        try:
            _, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            yield stopped(position, f"malformed JSON in the array: {error.msg}")
            return
        number += 1
        # JSON text cannot hold a raw line break inside a string: joining lines is safe.
        yield number, " ".join(text[position:end].splitlines()), None
        position = _skip_space(text, end)
        if position < len(text) and text[position] == ",":
            position += 1
        elif position < len(text) and text[position] != "]":
            yield stopped(position, "malformed JSON in the array: expected ',' or ']'")
            return


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position
