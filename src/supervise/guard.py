"""How a daemon's task meets an exception: an orderly end passes, anything else is a fault.

A fault (a bug, or `supervise.inject.Injected`) is not let through to the
nursery, which would cancel every other task and let each close its
directory: the task hands it to the daemon (`supervise.svscan.Scanner.fault`),
which says it and re-executes itself with the state handed over (see
`supervise.healing`), while the task holds what it has.
"""

from __future__ import annotations

import trio

#: Ends that are not faults: a cancellation (the daemon's own, or a test's), and the two
#: an operator or the interpreter asks for.
_ORDERLY = (trio.Cancelled, KeyboardInterrupt, SystemExit)


def orderly(error: BaseException) -> bool:
    """Whether `error` ends a task in order (a group: if every exception in it does)."""
    if isinstance(error, BaseExceptionGroup):
        return all(orderly(each) for each in error.exceptions)
    return isinstance(error, _ORDERLY)


def describe(error: BaseException) -> str:
    """The fault in one line: its type and message (a group: its first fault)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        faults = [each for each in error.exceptions if not orderly(each)]
        error = (faults or list(error.exceptions))[0]
    return repr(error)
