#!/bin/sh
# A system-wide install: `make install PREFIX=/usr/local` and `make uninstall PREFIX=/usr/local`.
#
#   install.sh install PREFIX PYTHON SOURCE
#   install.sh uninstall PREFIX
#
# The project goes into a venv of its own, PREFIX/lib/trio-supervise, made by PYTHON (a system
# interpreter: every user must be able to run it, or a `setuidgid qmaill svlog` log service
# fails with "access denied" forever), readable by every user. Each command and its man page
# is then linked into PREFIX/bin and PREFIX/share/man/man8. A file there that is not already
# our link is never replaced: Debian's daemontools has twelve of our names in /usr/bin, so
# PREFIX=/usr is refused rather than taking them over.
set -eu
umask 022

action=$1
prefix=${2:?PREFIX}
lib="$prefix/lib/trio-supervise"

fail() {
  echo "install.sh: fatal: $*" >&2
  exit 111
}

case $prefix in /*) ;; *) fail "PREFIX must be an absolute path, not $prefix" ;; esac

ours() {  # ours LINK: whether LINK is a symbolic link into our venv
  [ -L "$1" ] && case $(readlink "$1") in "$lib"/*) true ;; *) false ;; esac
}

link_all() {  # link_all FROM_DIR TO_DIR SUFFIX NAMES... (checked free beforehand)
  from=$1 to=$2 suffix=$3
  shift 3
  mkdir -p "$to"
  for name in "$@"; do
    if [ -e "$from/$name$suffix" ]; then ln -sfn "$from/$name$suffix" "$to/$name$suffix"; fi
  done
}

unlink_all() {  # unlink_all DIR: remove every link in DIR that points into our venv
  [ -d "$1" ] || return 0
  for target in "$1"/*; do
    if ours "$target"; then rm -f "$target"; fi
  done
}

case $action in
install)
  python=${3:?PYTHON}
  source=${4:?SOURCE}
  [ -x "$python" ] || fail "no interpreter $python (set INSTALL_PYTHON)"
  commands=$("$python" - "$source/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print(" ".join(sorted(tomllib.load(f)["project"]["scripts"])))
PY
)
  for name in $commands; do
    for target in "$prefix/bin/$name" "$prefix/share/man/man8/$name.8"; do
      if [ -e "$target" ] || [ -L "$target" ]; then
        ours "$target" || fail "$target exists and is not ours: not replaced (choose another PREFIX)"
      fi
    done
  done
  mkdir -p "$prefix/lib"
  "$python" -m venv --clear "$lib"
  "$lib/bin/pip" install -q --disable-pip-version-check "$source"
  chmod -R a+rX "$lib"
  if [ "$(id -u)" = 0 ] && ! "$lib/bin/setuidgid" nobody "$lib/bin/python" -c pass; then
    rm -rf "$lib"
    fail "$python cannot be run by other users (is it under a private directory?):" \
      "set INSTALL_PYTHON to a system interpreter such as /usr/bin/python3"
  fi
  link_all "$lib/bin" "$prefix/bin" "" $commands
  link_all "$lib/share/man/man8" "$prefix/share/man/man8" .8 $commands
  echo "installed in $lib; commands linked in $prefix/bin: $commands"
  ;;
uninstall)
  unlink_all "$prefix/bin"
  unlink_all "$prefix/share/man/man8"
  rm -rf "$lib"
  echo "removed $lib and its links in $prefix/bin and $prefix/share/man/man8"
  ;;
*)
  fail "usage: install.sh install PREFIX PYTHON SOURCE | uninstall PREFIX"
  ;;
esac
