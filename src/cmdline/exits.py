"""The exit codes, by name: djb's two, and the few programs' own.

daemontools: 100 for a usage error or a permanent failure, 111 for a
temporary or system failure. Codes a single program gives (svc -w's 99, svstat
-o's 1) are named in that program, from these where they are the same number.
"""

from __future__ import annotations

OK = 0
#: the command line is wrong (daemontools' "usage:" lines)
USAGE = 100
#: a permanent failure: trying again will not help (svok: no supervisor)
PERMANENT = 100
#: a temporary or system failure: an errno, a lock held, a directory missing
TEMPORARY = 111
