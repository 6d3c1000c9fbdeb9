"""The command-line clients and the library they share.

Programs, each a ``main(argv) -> int``: `svc`, `svstat`, `svok`, `qm`
(qm-stop, qm-start). Their library, which imports no program: `view` (what a
directory says about itself), `words` (that state in svstat's words), `send`
(control letters to a supervisor), `wait` and `watch` (waiting for a state).
The command-line layer they stand on is `cmdline`.

None of them imports trio, attrs, enum or typing at start-up: a client is often
called in a shell loop, and a bare interpreter starts in about 14 ms here, while
``import enum`` alone adds 10 ms (measured with ``python -X importtime``). They read
status records with `supervise.record`, which imports nothing that costs. This
file imports nothing.
"""
