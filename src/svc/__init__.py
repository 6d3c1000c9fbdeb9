"""The command-line clients: svc, svstat, svok (and later qm-stop).

Each module holds one command's ``main(argv) -> int``. None of them imports
trio, attrs, enum or typing at start-up: a client is often called in a shell
loop, and a bare interpreter starts in about 14 ms here, while ``import enum``
alone adds 10 ms (style.md, "A measured constraint"). They read status records
with `supervise.layout`, which imports nothing. This file imports nothing.
"""
