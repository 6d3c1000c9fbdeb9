"""What a scan root holds (`list_root`, `has_log`) and what changed between scans (`changes`).

`changes` is checked exhaustively over every pair of small trees (three
directories, two names), by its meaning: applying the changes to what was
known gives what was found, and nothing is reported that did not change.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from supervise.scan import Changes, Key, changes, has_log, list_root

A, B, C = (1, 10), (1, 11), (2, 10)  # (device, inode): same inode on another device differs


def apply(known: dict[Key, str], found_changes: Changes) -> dict[Key, str]:
    """What we run after acting on `found_changes`: stop removed, rename, start added."""
    result = {key: name for key, name in known.items() if key not in found_changes.removed}
    result.update(found_changes.renamed)
    result.update(found_changes.added)
    return result


def trees() -> list[dict[Key, str]]:
    """Every tree of at most three directories (A, B, C), each named a or b, or absent."""
    options = [None, "a", "b"]
    return [
        {key: name for key, name in zip((A, B, C), names, strict=True) if name is not None}
        for names in itertools.product(options, repeat=3)
    ]


@pytest.mark.parametrize("known", trees(), ids=str)
def test_changes_exhaustive(known: dict[Key, str]) -> None:
    for found in trees():
        result = changes(known, found)
        assert apply(known, result) == found, (known, found, result)
        assert result.added == {key: found[key] for key in found.keys() - known.keys()}
        assert result.removed == frozenset(known.keys() - found.keys())
        assert result.renamed == {
            key: found[key] for key in found.keys() & known.keys() if found[key] != known[key]
        }
        assert not result.added.keys() & known.keys()
        assert not result.removed & found.keys()
        assert all(known[key] != name for key, name in result.renamed.items())


def test_nothing_changed() -> None:
    tree = {A: "a", B: "b"}
    assert changes(tree, dict(tree)) == Changes({}, frozenset(), {})


def test_new_directory_is_added() -> None:
    assert changes({A: "a"}, {A: "a", B: "b"}) == Changes({B: "b"}, frozenset(), {})


def test_gone_directory_is_removed() -> None:
    assert changes({A: "a", B: "b"}, {A: "a"}) == Changes({}, frozenset({B}), {})


def test_rename_is_not_a_new_service() -> None:
    assert changes({A: "a"}, {A: "new"}) == Changes({}, frozenset(), {A: "new"})


def test_directory_recreated_under_the_same_name_is_a_new_service() -> None:
    assert changes({A: "a"}, {B: "a"}) == Changes({B: "a"}, frozenset({A}), {})


def test_two_directories_swap_names() -> None:
    assert changes({A: "a", B: "b"}, {A: "b", B: "a"}) == Changes(
        {}, frozenset(), {A: "b", B: "a"}
    )


def test_same_inode_on_another_device_is_another_service() -> None:
    assert changes({A: "a"}, {C: "a"}) == Changes({C: "a"}, frozenset({A}), {})


def test_from_nothing_and_to_nothing() -> None:
    assert changes({}, {A: "a"}) == Changes({A: "a"}, frozenset(), {})
    assert changes({A: "a"}, {}) == Changes({}, frozenset({A}), {})
    assert changes({}, {}) == Changes({}, frozenset(), {})


# --- list_root: a real directory ---------------------------------------------------------


def key_of(path: Path) -> Key:
    info = os.stat(path)
    return (info.st_dev, info.st_ino)


def test_list_root_counts_directories_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    for name in ("web", "mail"):
        (root / name).mkdir()
    (root / ".hidden").mkdir()  # dot names are not services
    (root / ".lock").write_text("")
    (root / "README").write_text("a file is not a service")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "linked").symlink_to(outside)  # a symlink to a directory is one
    (root / "dangling").symlink_to(tmp_path / "no-such-dir")  # a dangling one is not
    (root / "to-file").symlink_to(root / "README")  # nor one to a file
    (root / ".dot-link").symlink_to(outside / ".")  # dot name: skipped even if a directory

    assert list_root(str(root)) == {
        key_of(root / "web"): "web",
        key_of(root / "mail"): "mail",
        key_of(outside): "linked",
    }


def test_two_names_for_one_directory_the_first_alphabetically_wins(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "m-real").mkdir()
    (root / "z-alias").symlink_to(root / "m-real")
    (root / "a-alias").symlink_to(root / "m-real")
    assert list_root(str(root)) == {key_of(root / "m-real"): "a-alias"}


def test_two_names_whatever_the_directory_order(tmp_path: Path) -> None:
    """The winner does not depend on which name the filesystem lists first."""
    root = tmp_path / "root"
    root.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    for name in ("q", "c", "x", "b", "y"):
        (root / name).symlink_to(target)
    assert list_root(str(root)) == {key_of(target): "b"}


def test_list_root_empty(tmp_path: Path) -> None:
    assert list_root(str(tmp_path)) == {}


def test_list_root_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "svc").mkdir()
    monkeypatch.chdir(tmp_path)
    assert list_root() == {key_of(tmp_path / "svc"): "svc"}


def test_list_root_of_a_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list_root(str(tmp_path / "missing"))


def test_list_root_of_a_file_raises(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        list_root(str(tmp_path / "file"))


def test_list_root_then_changes_after_a_rename(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "gone").mkdir()
    before = list_root(str(tmp_path))
    (tmp_path / "old").rename(tmp_path / "new")
    (tmp_path / "fresh").mkdir()  # before the rmdir, or it could reuse gone's inode
    (tmp_path / "gone").rmdir()
    result = changes(before, list_root(str(tmp_path)))
    assert result.renamed == {key_of(tmp_path / "new"): "new"}
    assert result.added == {key_of(tmp_path / "fresh"): "fresh"}
    assert len(result.removed) == 1 and not result.removed & list_root(str(tmp_path)).keys()


# --- has_log -------------------------------------------------------------------------------


def test_has_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("with", "without", "file", "linked", "dangling"):
        (tmp_path / name).mkdir()
    (tmp_path / "with" / "log").mkdir()
    (tmp_path / "file" / "log").write_text("not a directory")
    (tmp_path / "logs").mkdir()
    (tmp_path / "linked" / "log").symlink_to(tmp_path / "logs")
    (tmp_path / "dangling" / "log").symlink_to(tmp_path / "nowhere")
    assert has_log("with")
    assert not has_log("without")
    assert not has_log("file")
    assert has_log("linked")
    assert not has_log("dangling")
    assert not has_log("missing-service")
    assert has_log(str(tmp_path / "with"))  # an absolute name works too
