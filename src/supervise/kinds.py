"""The typed names of the status record's bytes: `Want`, `RunState`, `ExtraFlag`.

The daemon's vocabulary (enums over `supervise.layout`'s integers), kept apart
from `supervise.record` so that the clients, which read the same record, never
import ``enum``. They are int enums: a record a client read holds the bytes
themselves (``0x75``), a record the daemon made holds the members
(``Want.UP``), and the two compare equal. `supervise.status` re-exports them.
"""

from __future__ import annotations

import enum

from supervise import layout


class Want(enum.IntEnum):
    """Byte 17: what the supervisor wants the service to be."""

    UP = layout.WANT_UP
    DOWN = layout.WANT_DOWN
    ONCE = layout.WANT_ONCE  # daemontools after `o`: run once, never restart


class RunState(enum.IntEnum):
    """Byte 19 (runit): what is running now."""

    DOWN = layout.STATE_DOWN
    RUN = layout.STATE_RUN
    FINISH = layout.STATE_FINISH


class ExtraFlag(enum.IntFlag):
    """Byte 13 of the extra record."""

    READY = layout.READY
    FAILED = layout.FAILED
    EXITED = layout.EXITED
    NOTIFY = layout.NOTIFY
    FINISHING = layout.FINISHING
    BACKOFF = layout.BACKOFF
