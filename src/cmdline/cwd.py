"""The directory a command started in, to come back to after each service directory.

daemontools' svc and svstat chdir into each directory and ``fchdir`` back;
failing to get back is their only fatal error.
"""

from __future__ import annotations

import os

from cmdline import exits
from cmdline.out import Fatal, unable


class Origin:
    """The directory we started in, held open so each directory's chdir can be undone."""

    __slots__ = ("fd",)

    def __init__(self) -> None:
        try:
            self.fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as error:
            raise Fatal(exits.TEMPORARY, unable("open current directory", error)) from None

    def back(self) -> None:
        try:
            os.fchdir(self.fd)
        except OSError as error:
            raise Fatal(exits.TEMPORARY, unable("set directory", error)) from None
