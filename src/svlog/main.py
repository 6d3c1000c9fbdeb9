"""``svlog script``: multilog's loop. Read input, stamp and select lines, write them.

``exec svlog t s1000000 n20 ./main`` in a ``log/run`` does what ``multilog`` with the
same script does, with the same files (see `svlog.logdir`). The loop:

- wait for input or a signal; SIGALRM rotates every non-empty ``current`` (at a line
  boundary: a line being read is not in any file yet, and one longer than its head that
  is half written is finished first); SIGTERM ends the logger once the line being read
  is complete, reading the rest of it a byte at a time, as multilog does, so nothing
  after it is taken from the pipe.
- read up to 128 KiB; label the lines that start in it (``t``); give each directory its
  bytes, rotating where multilog would (`svlog.logger`). A write that fails is retried
  until it succeeds, and no input is read meanwhile.
- at end of input a line without its newline gets one; every ``current`` is synced and
  made 0744 (a clean exit); exit 0.

Exit codes: 0 at end of input or after SIGTERM; 100 a script svlog does not know;
111 a directory that cannot be opened or locked.
"""

from __future__ import annotations

import os
import sys

from cmdline import exits, out, version
from cmdline.out import Fatal
from svlog.logger import Logger
from svlog.script import ScriptError, parse
from svlog.signals import Signals

PROG = "svlog"
READ = 1 << 17
STDIN = 0


def _read(size: int) -> bytes | None:
    """Some input, or None if there is none after all; a read error ends input, as it
    ends multilog's."""
    try:
        return os.read(STDIN, size)
    except BlockingIOError:  # a non-blocking input someone else read first
        return None
    except OSError:
        return b""


def run(logger: Logger, signals: Signals) -> None:
    """multilog's loop, until end of input or SIGTERM at a line boundary."""
    while True:
        if signals.rotate:
            signals.rotate = False
            logger.rotate()
        if signals.exit and logger.at_line_start:
            break
        if not signals.wait(STDIN):
            continue
        data = _read(1 if signals.exit else READ)
        if data is None:
            continue
        if not data:
            break
        logger.take(data)
    logger.end()


def command(args: list[str]) -> int:
    if version.asked(args):
        return version.show(PROG)
    os.umask(0o022)
    try:
        script = parse(args)
    except ScriptError as error:
        raise Fatal(exits.USAGE, str(error)) from None
    signals = Signals()
    logger = Logger(script)
    run(logger, signals)
    return exits.OK


def main(argv: list[str] | None = None) -> int:
    return out.run(PROG, command, argv)


if __name__ == "__main__":
    sys.exit(main())
