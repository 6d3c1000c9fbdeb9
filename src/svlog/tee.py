"""tee(2): copy what a pipe holds into another pipe without taking it from the first.

Python's `os` has ``splice`` but not ``tee``, so it is called from the C library through
`ctypes` (about 3 ms of start-up, paid only when svlog's input is a pipe). tee shares
the pipe's pages rather than copying them, so peeking costs little more than reading.
"""

from __future__ import annotations

import ctypes
import os

#: don't block: the caller has checked that the pipe holds something
SPLICE_F_NONBLOCK = 2

_libc = ctypes.CDLL(None, use_errno=True)
_tee = _libc.tee
_tee.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint)
_tee.restype = ctypes.c_ssize_t


def tee(source: int, target: int, count: int) -> int:
    """Copy up to `count` bytes from the head of pipe `source` into pipe `target`, leaving
    them in `source`; how many (0: `source` is empty and has no writer)."""
    copied: int = _tee(source, target, count, SPLICE_F_NONBLOCK)
    if copied < 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))
    return copied
