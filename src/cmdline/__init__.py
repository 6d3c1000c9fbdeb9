"""The command-line layer every command uses: clients, daemons, svlog, run-script tools.

`out` says things in djb's shape (``prog: fatal: unable to X: reason``,
``prog: warning: ...``) under the program's own name; `exits` names the exit
codes; `getopt` reads options as djb's sgetopt; `cwd` returns to the start
directory. Import-free like the clients (no trio, attrs, enum or typing at
run time): a client is often called in a shell loop. This file imports nothing.
"""
