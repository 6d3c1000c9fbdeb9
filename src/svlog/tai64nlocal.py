"""``tai64nlocal``: the TAI64N label at the start of each line, in local time.

As daemontools' tai64nlocal (tai64nlocal.c, checked against Debian's): a line that
starts with ``@`` has the lowercase hex digits after it read as a number whose low 32
bits are nanoseconds and the rest the TAI64 seconds label (``2**62 + 10`` is Unix
second 0); they are replaced by ``YYYY-MM-DD HH:MM:SS.NNNNNNNNN`` in the local time zone
(``TZ``), and the byte that ended the digits, and the rest of the line, follow as they
were. Other lines pass unchanged. A last line that is only ``@`` and digits (no byte
after them before end of input) prints nothing, as daemontools'.

One difference: a label that is no time at all (``@4000 x``, ``@foo``) makes
daemontools' tai64nlocal die of a segmentation fault; svlog's leaves that line as it is.

Exit codes: 0 at end of input; 111 if input cannot be read or output written.
"""

from __future__ import annotations

import os
import sys
import time

from cmdline import exits, out
from supervise.layout import TAI64_EPOCH

READ = 1 << 16
_HEX = frozenset(b"0123456789abcdef")
_AT = 0x40
_WRAP = 1 << 64


class Converter:
    """Turns lines; remembers the last second's text, since lines come in bursts."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second: int | None = None
        self._text = ""

    def line(self, line: bytes) -> bytes:
        """`line` (with its newline, if it has one) as tai64nlocal prints it."""
        if not line or line[0] != _AT:
            return line
        end = 1
        while end < len(line) and line[end] in _HEX:
            end += 1
        if end == len(line):
            return b""  # the digits ran into end of input: daemontools prints nothing
        value = int(line[1:end], 16) if end > 1 else 0
        seconds = ((value >> 32) - TAI64_EPOCH) % _WRAP
        if seconds >= _WRAP // 2:
            seconds -= _WRAP
        try:
            date = self._date(seconds)
        except (OverflowError, OSError, ValueError):
            return line
        return f"{date}.{value & 0xFFFFFFFF:09d}".encode("ascii") + line[end:]

    def _date(self, seconds: int) -> str:
        if seconds != self._second:
            local = time.localtime(seconds)
            self._text = (
                f"{local.tm_year}-{local.tm_mon:02d}-{local.tm_mday:02d} "
                f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d}"
            )
            self._second = seconds
        return self._text

    def chunk(self, data: bytes) -> bytes:
        """Whole lines (each ending with a newline) converted."""
        lines = data.split(b"\n")[:-1]
        return b"".join([self.line(line + b"\n") for line in lines])


def _write(data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


def main(argv: list[str] | None = None) -> int:
    """Convert standard input to standard output, line by line, until end of input."""
    return out.run("tai64nlocal", convert, argv)


def convert(args: list[str]) -> int:
    """tai64nlocal takes no arguments (daemontools' ignores them too)."""
    converter = Converter()
    held = b""
    try:
        while True:
            data = os.read(0, READ)
            if not data:
                break
            data = held + data
            last = data.rfind(b"\n") + 1
            held = data[last:]
            if last:
                _write(converter.chunk(data[:last]))
        if held:
            _write(converter.line(held))
    except OSError:
        return exits.TEMPORARY
    return exits.OK


if __name__ == "__main__":
    sys.exit(main())
