"""Messages in djb's shape, under the program's own name: ``svc: warning: unable to X: why``.

One vocabulary for every command (daemontools' ``strerr``). `run` starts a
command: it records the program's name, so every line said afterwards, by the
program or by the library it calls (``svc``'s sending, used by ``qm-stop``
too), carries that name; a `Fatal` raised inside ends the command with
``PROG: fatal: TEXT`` and its exit code. A warning is said and the command
goes on. Reasons for system errors are djb's texts (`unable`, through
`supervise.errtext.describe`), never Python's ``strerror``.
"""

from __future__ import annotations

import sys

from cmdline import exits
from supervise.errtext import describe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

#: The running program's name, as its messages start (`run` and `begin` set it).
_name = [sys.argv[0].rpartition("/")[2] or "?"]


class Fatal(Exception):
    """End the command: ``PROG: fatal: TEXT`` and exit `code`."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text

    def line(self) -> str:
        return f"{program()}: fatal: {self.text}"


class Usage(Fatal):
    """A usage error: the text is printed as it is (it names the program); exit 100 unless
    the program says otherwise (daemontools' envdir exits 111)."""

    def __init__(self, text: str, code: int = exits.USAGE) -> None:
        super().__init__(code, text)

    def line(self) -> str:
        return self.text


def begin(prog: str) -> None:
    """From now on, messages say they come from `prog`."""
    _name[0] = prog


def program() -> str:
    """The name the messages carry."""
    return _name[0]


def unable(what: str, error: OSError | int) -> str:
    """``unable to WHAT: REASON`` with djb's text for the error."""
    return f"unable to {what}: {describe(error)}"


def say(text: str) -> None:
    """One line on stderr, in one write."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def line(kind: str, text: str) -> None:
    """``PROG: KIND: TEXT`` (kind: ``warning``, ``fatal``, ``info``...), in one write."""
    say(f"{program()}: {kind}: {text}")


def warn(text: str) -> None:
    """``PROG: warning: TEXT``; the command goes on."""
    line("warning", text)


def finish(error: Fatal) -> int:
    """Report `error` the daemontools way (after what stdout holds) and return its exit code."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    say(error.line())
    return error.code


def run(prog: str, body: Callable[[list[str]], int], argv: list[str] | None) -> int:
    """Run a command's `body` on its arguments (default ``sys.argv[1:]``) as program `prog`:
    its result is the exit code, and a `Fatal` from it is said and becomes the exit code."""
    begin(prog)
    try:
        return body(sys.argv[1:] if argv is None else argv)
    except Fatal as error:
        return finish(error)
