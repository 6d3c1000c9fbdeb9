"""``svlog script``: multilog's loop. Read input, stamp and select lines, write them.

``exec svlog t s1000000 n20 ./main`` in a ``log/run`` does what ``multilog`` with the
same script does, with the same files (see `svlog.logdir`). The loop:

- wait for input or a signal; SIGALRM rotates every non-empty ``current`` (at a line
  boundary: a line being read is not in any file yet, and one longer than its head that
  is half written is finished first); SIGTERM ends the logger once the line being read
  is complete, taking nothing after it from the pipe, as multilog does.
- take the new input (up to 128 KiB; `svlog.source`); label the lines that start in it
  (``t``); give each directory its bytes, rotating where multilog would
  (`svlog.logger`). A write that fails is retried until it succeeds, and no input is
  taken meanwhile. From a pipe, the input is only peeked at until its lines are written:
  then it is taken from the pipe (`svlog.peek`), so a logger killed at any moment leaves
  the next one every line it has not written.
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
from svlog.source import open_source

PROG = "svlog"
STDIN = 0

TYPE_CHECKING = False
if TYPE_CHECKING:
    from svlog.source import Source


def run(logger: Logger, signals: Signals, source: Source) -> None:
    """multilog's loop, until end of input or SIGTERM at a line boundary. After each
    piece, the source learns how much of it is written (all but the line being read)."""
    while True:
        if signals.rotate:
            signals.rotate = False
            logger.rotate()
        if signals.exit and logger.at_line_start:
            break
        data = source.next()
        if data is None:
            continue
        if not data:
            break
        logger.take(data)
        source.written(logger.held)
    logger.end()
    source.written(0)


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
    run(logger, signals, open_source(STDIN, signals))
    return exits.OK


def main(argv: list[str] | None = None) -> int:
    return out.run(PROG, command, argv)


if __name__ == "__main__":
    sys.exit(main())
