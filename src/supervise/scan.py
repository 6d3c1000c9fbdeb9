"""What is in a scan root, and what changed since the last look.

A service is every subdirectory (or symlink to one) whose name does not start
with ``.``, as daemontools' svscan and runit's runsvdir count them. Services
are known by (device, inode), so a rename is not a new service and a
directory recreated in place is. `changes` is pure; `list_root` is the only
I/O, one scandir and one stat per name.
"""

from __future__ import annotations

import os
import stat

from supervise.value import Value

Key = tuple[int, int]


class Changes(Value):
    """What a scan found different: names to start, keys to stop, keys renamed."""

    __slots__ = ("added", "removed", "renamed")
    added: dict[Key, str]
    removed: frozenset[Key]
    renamed: dict[Key, str]

    def __init__(
        self, added: dict[Key, str], removed: frozenset[Key], renamed: dict[Key, str]
    ) -> None:
        self._set(added=added, removed=removed, renamed=renamed)


def list_root(
    root: str = ".", unreadable: dict[str, OSError] | None = None
) -> dict[Key, str]:
    """Every service in `root` by (device, inode). Raises OSError if `root` cannot be read.

    A name that cannot be stat'ed (a dangling symlink, a loop) is skipped and,
    if `unreadable` is given, put there with why; one that vanished between
    listing and stat is just skipped: the next scan sees it as it then is.
    """
    found: dict[Key, str] = {}
    with os.scandir(root) as listing:
        names = sorted(listing, key=lambda item: item.name)  # two names, one dir: first wins
        for item in names:
            if item.name.startswith("."):
                continue
            try:
                info = item.stat()  # follows a symlink, as every scanner does
            except OSError as error:
                if unreadable is not None and item.is_symlink():
                    unreadable[item.name] = error
                continue
            if stat.S_ISDIR(info.st_mode):
                found.setdefault((info.st_dev, info.st_ino), item.name)
    return found


def changes(known: dict[Key, str], found: dict[Key, str]) -> Changes:
    """Compare the services we run (`known`) with a fresh `list_root`."""
    added = {key: name for key, name in found.items() if key not in known}
    removed = frozenset(known.keys() - found.keys())
    renamed = {
        key: name for key, name in found.items() if key in known and known[key] != name
    }
    return Changes(added, removed, renamed)


def has_log(name: str) -> bool:
    """Whether service `name` has a ``log`` subdirectory (looked at once, when first seen)."""
    try:
        return stat.S_ISDIR(os.stat(os.path.join(name, "log")).st_mode)
    except OSError:
        return False
