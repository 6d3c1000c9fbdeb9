"""Run-script tools: envdir, envuidgid, setuidgid, softlimit, setlock, pgrphack.

daemontools' chain-loading programs: each makes one change to its own process
and then execs the rest of its command line (no fork, no shell), so the pid a
supervisor watches is the service's. Like the clients (`svc`), they import
almost nothing: a run script may chain three of them. This file imports nothing.
"""
