"""Start a program as the C supervisors do: libc's ``posix_spawn``, called through ctypes.

Why not ``os.posix_spawn``: glibc sets the two real-time signals it keeps for
itself (32 and 33) to ``SIG_IGN`` in the child unless they are in the
spawn's "set to default" set, and Python refuses to put them there. An
ignored disposition survives ``exec``, so every program of a service would
inherit it. Here the set is raw bytes with every signal in it, so the child
starts as under daemontools' ``supervise``, runit's ``runsv`` and
``s6-supervise``: every disposition default, an empty signal mask.

Also: ``posix_spawn_file_actions_addfchdir_np`` makes the child's working
directory the service directory, so the daemon's own never changes; and
ctypes releases the GIL during the call. The module imports nothing beyond
the standard library, so a daemon can start services before it loads trio.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Mapping, Sequence

#: glibc's flags (spawn.h).
_SETSIGDEF = 0x04
_SETSIGMASK = 0x08
_SETSID = 0x80
#: Room for glibc's ``posix_spawnattr_t`` (336 bytes on x86-64) and
#: ``posix_spawn_file_actions_t`` (80): larger, so no ABI detail can overrun.
_OPAQUE = 1024
#: ``sigset_t`` is 1024 bits in glibc.
_SIGSET_BYTES = 128
_EVERY_SIGNAL = bytes([0xFF]) * 8 + bytes(_SIGSET_BYTES - 8)  # signals 1 to 64
_NO_SIGNAL = bytes(_SIGSET_BYTES)

_libc = ctypes.CDLL(None, use_errno=True)
_pid_t = ctypes.c_int


def _function(name: str, *argtypes: type) -> Callable[..., int]:
    function: Callable[..., int] = getattr(_libc, name)
    function.argtypes = list(argtypes)  # type: ignore[attr-defined]
    function.restype = ctypes.c_int  # type: ignore[attr-defined]
    return function


_p = ctypes.c_void_p
_attr_init = _function("posix_spawnattr_init", _p)
_attr_destroy = _function("posix_spawnattr_destroy", _p)
_attr_setflags = _function("posix_spawnattr_setflags", _p, ctypes.c_short)
_attr_setsigdefault = _function("posix_spawnattr_setsigdefault", _p, ctypes.c_char_p)
_attr_setsigmask = _function("posix_spawnattr_setsigmask", _p, ctypes.c_char_p)
_actions_init = _function("posix_spawn_file_actions_init", _p)
_actions_destroy = _function("posix_spawn_file_actions_destroy", _p)
_actions_adddup2 = _function("posix_spawn_file_actions_adddup2", _p, ctypes.c_int, ctypes.c_int)
_actions_addfchdir = _function("posix_spawn_file_actions_addfchdir_np", _p, ctypes.c_int)
_posix_spawn = _function(
    "posix_spawn", ctypes.POINTER(_pid_t), ctypes.c_char_p, _p, _p,
    ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p),
)


class Environment:
    """An environment as the NULL-terminated array ``posix_spawn`` takes, built once: the
    daemon never changes its environment, and converting it costs a fifth of a spawn."""

    __slots__ = ("array",)

    def __init__(self, variables: Mapping[bytes, bytes]) -> None:
        entries = [key + b"=" + value for key, value in variables.items()]
        self.array = (ctypes.c_char_p * (len(entries) + 1))(*entries, None)


def spawn(
    dir_fd: int,
    program: str,
    args: Sequence[str],
    environment: Environment,
    *,
    setsid: bool = True,
    fds: Mapping[int, int] | None = None,
) -> int:
    """Start `program` (a path relative to `dir_fd`, which becomes its cwd) with `args`.

    `fds` maps a child fd number to one of ours (dup2 in the child, in that
    order); every other descriptor of ours is close-on-exec. The child gets
    every signal's default action, an empty mask and, if `setsid`, a new
    session. Returns the pid; OSError (naming `program`) if it cannot be
    executed.
    """
    attr = ctypes.create_string_buffer(_OPAQUE)
    actions = ctypes.create_string_buffer(_OPAQUE)
    _check(_attr_init(attr), program)
    try:
        _check(_actions_init(actions), program)
        try:
            flags = _SETSIGDEF | _SETSIGMASK | (_SETSID if setsid else 0)
            _check(_attr_setflags(attr, flags), program)
            _check(_attr_setsigdefault(attr, _EVERY_SIGNAL), program)
            _check(_attr_setsigmask(attr, _NO_SIGNAL), program)
            for theirs, ours in (fds or {}).items():
                _check(_actions_adddup2(actions, ours, theirs), program)
            _check(_actions_addfchdir(actions, dir_fd), program)
            return _call(program, args, environment, attr, actions)
        finally:
            _actions_destroy(actions)
    finally:
        _attr_destroy(attr)


def _call(
    program: str, args: Sequence[str], environment: Environment,
    attr: ctypes.Array[ctypes.c_char], actions: ctypes.Array[ctypes.c_char],
) -> int:
    path = os.fsencode(program)
    argv = (ctypes.c_char_p * (len(args) + 2))(path, *map(os.fsencode, args), None)
    pid = _pid_t()
    _check(_posix_spawn(ctypes.byref(pid), path, actions, attr, argv, environment.array), program)
    return pid.value


def _check(error: int, program: str) -> None:
    """posix_spawn and its helpers return the error number itself (errno is not set)."""
    if error:
        raise OSError(error, os.strerror(error), program)
