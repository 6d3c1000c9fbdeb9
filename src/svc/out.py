"""The clients' messages, in daemontools' shape: ``svc: warning: unable to X: why``.

One vocabulary for every client (daemontools' ``strerr``): a warning is said and
the command goes on with the next directory; a `Fatal` ends the command with its
exit code (100 usage or permanent, 111 temporary or system).
"""

from __future__ import annotations

import sys


class Fatal(Exception):
    """End the command: ``PROG: fatal: TEXT`` and exit `code`."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text

    def line(self, prog: str) -> str:
        return f"{prog}: fatal: {self.text}"


class Usage(Fatal):
    """A usage error: the text is printed as it is (it names the program); exit 100 unless
    the program says otherwise (daemontools' envdir exits 111)."""

    def __init__(self, text: str, code: int = 100) -> None:
        super().__init__(code, text)

    def line(self, prog: str) -> str:
        return self.text


def say(text: str) -> None:
    """One line on stderr, in one write."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def warn(prog: str, text: str) -> None:
    say(f"{prog}: warning: {text}")


def finish(prog: str, error: Fatal) -> int:
    """Report `error` the daemontools way and return its exit code."""
    say(error.line(prog))
    return error.code
