"""The account setuidgid and envuidgid look up: uid, gid, and the supplementary groups."""

from __future__ import annotations

import os
import pwd

from cmdline import exits
from cmdline.out import Fatal


def lookup(account: str) -> pwd.struct_passwd:
    """The passwd entry, or daemontools' ``unknown account NAME`` (exit 111)."""
    try:
        return pwd.getpwnam(account)
    except KeyError:
        raise Fatal(exits.TEMPORARY, f"unknown account {account}") from None


def groups(entry: pwd.struct_passwd) -> list[int]:
    """The account's groups: its primary group first, then each supplementary group once."""
    found = os.getgrouplist(entry.pw_name, entry.pw_gid)
    return [entry.pw_gid, *(gid for gid in dict.fromkeys(found) if gid != entry.pw_gid)]
