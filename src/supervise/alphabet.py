"""The control alphabet: each byte a client writes to ``supervise/control``, defined once.

Import-free: ``svc`` reads it for its option letters, and the daemon builds
its `supervise.control.Command` enum and its signal table from it.
daemontools' letters (``u d o p c h a i t k x``, with daemontools' meaning of
``x``: exit once the service is down, without stopping it), runit's and s6's
``q 1 2``, and SIGWINCH under both the letter encore's svc sends (``w``) and
s6-svc's (``y``). Any other byte is ignored, as every peer ignores it.

daemontools-encore's four selectors are not commands: they say where the
commands after them go, until the next selector or the end of one read of
``control``. ``+`` sends their signals to the service's process group, ``=``
to its main pid; ``L`` sends the commands to the log service (``DIR/log``),
``l`` back to the main one (and back to the service's default target).
"""

from __future__ import annotations

UP = b"u"
DOWN = b"d"
ONCE = b"o"
PAUSE = b"p"
CONTINUE = b"c"
HUP = b"h"
ALARM = b"a"
INTERRUPT = b"i"
TERM = b"t"
KILL = b"k"
EXIT = b"x"
QUIT = b"q"
USR1 = b"1"
USR2 = b"2"
WINCH = b"w"  # daemontools-encore's letter
WINCH_S6 = b"y"  # s6's letter (our svc -y sends it)

#: encore's selectors (`supervise.control.route` reads them).
GROUP = b"+"
MAIN_PID = b"="
LOG = b"L"
MAIN = b"l"
SELECTORS = (GROUP, MAIN_PID, LOG, MAIN)

#: Every command, in daemontools' order and then the others'.
LETTERS = (UP, DOWN, ONCE, PAUSE, CONTINUE, HUP, ALARM, INTERRUPT, TERM, KILL, EXIT,
           QUIT, USR1, USR2, WINCH, WINCH_S6)

#: The commands that only deliver a signal to the running service: letter -> signal name.
SIGNALS = {
    HUP: "SIGHUP",
    ALARM: "SIGALRM",
    INTERRUPT: "SIGINT",
    TERM: "SIGTERM",
    KILL: "SIGKILL",
    QUIT: "SIGQUIT",
    USR1: "SIGUSR1",
    USR2: "SIGUSR2",
    WINCH: "SIGWINCH",
    WINCH_S6: "SIGWINCH",
}

#: The commands whose signals a selector or the ``signal-group`` file may send to the
#: process group: ``d`` (its down-signal and CONT), ``p`` ``c`` (STOP, CONT), and the signals.
GROUP_LETTERS = (DOWN, PAUSE, CONTINUE, *SIGNALS)

#: The letters svc takes as options: all but encore's ``w`` (svc's ``-w`` waits; ``-y`` winches).
SVC_LETTERS = "".join(letter.decode() for letter in LETTERS if letter != WINCH)
#: svc's selector options, encore's: ``-+ -= -L -l``.
SVC_SELECTORS = "".join(letter.decode() for letter in SELECTORS)
