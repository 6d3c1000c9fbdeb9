"""svlog: a multilog-compatible logger, and tai64nlocal.

A ``log/run`` of ``exec svlog t s1000000 n20 ./main`` writes the files daemontools'
``multilog`` would have written (``current``, ``@TAI64N.s`` archives, ``.u`` after an
unclean exit, ``lock``, ``state``), so ``tai64nlocal``, log shippers and habits keep
working on a machine where only this project is installed.

Nothing here imports trio (nor attrs, enum or typing at run time; ``re`` only for a
script with patterns): a logger is started for every service, restarted with it, and
must be light. The pure parts (`script`, `pattern`, `selection`, `stamp`, `lines`,
`rotation`) take bytes and values and return bytes and values; `logdir`, `logger`,
`signals`, `source` (with `peek` and `tee`: a pipe is only peeked at until its lines are
written) and `main` do the I/O. This file imports nothing.
"""
