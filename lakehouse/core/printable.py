"""Text from outside (landing file names, raw lines, values) as a terminal or a log shows it.

A file name may hold a newline followed by `2026-12-03 INFO run ... finished`, or an escape
sequence that clears the screen: printed raw, it forges log lines or drives the terminal.
Wherever such text is printed or logged, control characters (C0, C1, DEL) and every other
character that does not print (format characters such as a right-to-left override, separators
other than the space, lone surrogates) are shown escaped, as Python writes them (`\\n`,
`\\x1b`, `\\u202e`); an ordinary name is shown as it is. Stored data is never changed: this is
for display only.
"""

from __future__ import annotations

import logging

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SURROGATES = range(0xDC80, 0xDD00)  # bytes that are not UTF-8, as `surrogateescape` keeps them


def printable(text: object) -> str:
    """`text` with every character that does not print escaped; the same again when applied
    twice (a backslash prints, so what is escaped once stays as it is)."""
    shown = str(text)
    if shown.isprintable():
        return shown
    return "".join(char if char.isprintable() else _escaped(char) for char in shown)


def _escaped(char: str) -> str:
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if code in _SURROGATES:
        return f"\\x{code - 0xDC00:02x}"  # the undecodable byte itself, as in `\xff`
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class PrintableFormatter(logging.Formatter):
    """Log lines whose message shows outside text escaped: one record is one line (a
    traceback, added after the message, keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)
