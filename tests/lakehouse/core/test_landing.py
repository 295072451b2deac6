"""Reading landing files without the engine: names, bytes, arrays (pure Python, fast)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from bronze.explain import explain
from bronze.transforms import ACCELEROMETER_FIELDS
from lakehouse.core.config import ConfigError
from lakehouse.core.landing import (
    LandingFile,
    array_elements,
    careful_lines,
    engine_reads_as_is,
    inspect,
    survey,
)


@pytest.mark.parametrize(
    ("path", "plain"),
    [
        ("/data/landing/customer/part-0001.json", True),
        ("s3://bucket/landing/customer/a_b.json", True),
        ("/data/landing/customer/[a].json", False),
        ("/data/landing/customer/_hidden.json", False),
        ("/data/landing/customer/.hidden.json", False),
        ("/data/it's/customer/a.json", False),
        ("s3://bucket/landing/customer/a%20b.json", False),
        ("/data/_landing/customer/a.json", False),
        ("/data/landing/customer/k=v.json", False),
    ],
)
def test_only_plain_paths_are_left_to_the_engine(path: str, plain: bool) -> None:
    assert engine_reads_as_is(path) is plain


def write(tmp_path: Path, name: str, content: bytes) -> LandingFile:
    path = tmp_path / name
    path.write_bytes(content)
    return LandingFile(str(path), len(content), 0)


@pytest.mark.parametrize(
    ("content", "careful"),
    [
        (b'{"a":1}\n', None),
        (b"", None),
        (gzip.compress(b'{"a":1}\n', mtime=0), "gzip-compressed"),
        (b'\xef\xbb\xbf{"a":1}\n', "a byte-order mark"),
        (b'  \n [{"a":1}]', "a JSON array"),
        (b'{"a":"\xff"}\n', "invalid UTF-8"),
        (b'{"a":"\xc3', "invalid UTF-8"),  # cut inside a character at the very end
        # A character cut at the 1 MiB chunk boundary, then plain ASCII: still invalid.
        (b"{" + b"a" * (2**20 - 2) + b"\xc3" + b"aaaa}\n", "invalid UTF-8"),
        (b"{" + b"a" * (2**20 - 2) + "é".encode() + b"aaaa}\n", None),
    ],
)
def test_inspect_sums_the_bytes_and_says_how_to_read_them(
    tmp_path: Path, content: bytes, careful: str | None
) -> None:
    import hashlib

    file = inspect(write(tmp_path, "f.json", content))
    assert file.checksum == hashlib.sha256(content).hexdigest()
    assert file.careful == careful


def test_careful_lines_number_lines_and_keep_bad_bytes_visible(tmp_path: Path) -> None:
    content = b'\xef\xbb\xbf{"a":1}\r\n{"b":"\xff"}\n\n{"c":3}'
    file = write(tmp_path, "f.json", gzip.compress(content[:10]) + gzip.compress(content[10:]))
    assert list(careful_lines(file.path)) == [
        (1, '{"a":1}', None),
        (2, '{"b":"\\xff"}', "invalid UTF-8 at byte 7 of the line"),
        (3, "", None),
        (4, '{"c":3}', None),
    ]


def test_a_cut_off_gzip_keeps_what_was_read_and_says_where_it_stopped(tmp_path: Path) -> None:
    whole = gzip.compress(b"".join(b'{"n":%d}\n' % n for n in range(2000)))
    file = write(tmp_path, "f.json.gz", whole[: len(whole) - 20])
    rows = list(careful_lines(file.path))
    *records, last = rows
    assert [number for number, _, _ in records] == list(range(1, len(records) + 1))
    assert all(problem is None for _, _, problem in records)
    assert last[0] == len(records) + 1 and last[1] is None
    assert "cannot be read past line" in str(last[2])


def test_array_elements_are_numbered_by_position_and_put_on_one_line() -> None:
    text = '[\n  {"a": 1,\n   "b": [1, 2]},\n  {"a": 2}, {"a": 3}\n]\n'
    assert list(array_elements(text)) == [
        (1, '{"a": 1,    "b": [1, 2]}', None),
        (2, '{"a": 2}', None),
        (3, '{"a": 3}', None),
    ]


@pytest.mark.parametrize(
    ("text", "kept", "problem"),
    [
        ('[{"a":1}, {"a":', 1, "malformed JSON in the array"),
        ('[{"a":1} {"a":2}]', 1, "expected ',' or ']'"),
        ('[{"a":1}', 1, "not closed"),
        ('[{"a":1}] trailing', 1, "text after the end of the JSON array"),
        ("[]", 0, None),
    ],
)
def test_a_damaged_array_keeps_its_good_elements_and_quarantines_the_rest(
    text: str, kept: int, problem: str | None
) -> None:
    rows = list(array_elements(text))
    assert [row[2] for row in rows[:kept]] == [None] * kept
    if problem is None:
        assert len(rows) == kept
    else:
        assert len(rows) == kept + 1 and problem in str(rows[-1][2])
        assert rows[-1][0] == kept + 1


def test_survey_takes_json_files_and_names_everything_else(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "customer"
    folder.mkdir(parents=True)
    for name in ("b.json", "a.json.gz", "notes.txt", ".x.json"):
        (folder / name).write_text("{}\n")
    (folder / "sub").mkdir()
    (folder / "gone.json").symlink_to(tmp_path / "missing.json")
    found = survey(str(tmp_path / "landing"), "customer")
    assert [Path(f.path).name for f in found.files] == [".x.json", "a.json.gz", "b.json"]
    assert {Path(p).name: why for p, why in found.skipped} == {
        "gone.json": "a link to nothing",
        "notes.txt": "not a .json or .json.gz file",
        "sub": "a folder (only files directly in the source folder are read)",
    }
    assert survey(str(tmp_path / "landing"), "step_trainer").warnings == [
        f"step_trainer: no files in {tmp_path / 'landing' / 'step_trainer'}"
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            '{"user":"a@x.com"} {"user":"b"}',
            "more than one JSON value on the line (the second starts at column 20)",
        ),
        ('{"user":"a@x.com"} tail', "unexpected text after the JSON object at column 20: 'tail'"),
        ('{"user":"a@x.com","x":1e400}', "'x' is out of range for a double"),
        ('{"x":NaN}', "malformed JSON: NaN is not a JSON value"),
        ('{"user":', "malformed JSON: Expecting value at column 9"),
        ("[1]", "a JSON array, not an object"),
        ("   ", "empty line"),
        ('{"user":"a@x.com"},', None),  # the engine reads it once the comma is dropped
        ('{"other":1}', None),  # JSON finds no fault: the field rules give the reason
    ],
)
def test_explain_says_what_is_wrong(line: str, reason: str | None) -> None:
    assert explain(line, ACCELEROMETER_FIELDS) == reason


@pytest.mark.parametrize("warehouse", ["/data/my wh", "/data/wh[1]", "/data/100%"])
def test_a_warehouse_path_the_engine_cannot_use_is_refused(make_config, warehouse: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="cannot use in a table location"):
        make_config(f'paths.warehouse="{warehouse}"')


def test_survey_skips_a_link_loop_and_a_name_not_utf8_and_names_them(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "customer"
    folder.mkdir(parents=True)
    (folder / "good.json").write_text("{}\n")
    (folder / "loop.json").symlink_to("loop.json")
    (folder / "via.json").symlink_to("loop.json")
    Path(os.fsdecode(os.fsencode(folder) + b"/bad\xff.json")).write_text("{}\n")
    found = survey(str(tmp_path / "landing"), "customer")
    assert [Path(f.path).name for f in found.files] == ["good.json"]
    assert dict(found.skipped) == {
        f"{folder}/bad\\xff.json": "a name that is not valid UTF-8 (rename it to read it)",
        str(folder / "loop.json"): "a link that never reaches a file (a loop of links)",
        str(folder / "via.json"): "a link that never reaches a file (a loop of links)",
    }
