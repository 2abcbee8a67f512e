#!/usr/bin/env bash
# The Debian packages `make demo` and `make test` need beyond Debian 12 with Python 3.11:
# installed when missing (as root, `apt-get update` first), or named with the command that
# installs them (anyone else). The one place these are listed: the Makefile and .ci/run
# both call this script.
#
#   scripts/system_deps.sh [--check] [demo|test]
#
#   demo (default)  Python 3.11 with venv, Node.js and npm (`npm ci` of the front-end
#                   packages), make
#   test            the same, and the PostgreSQL server binaries (a throwaway cluster for
#                   the PostgreSQL run), Chromium (the browser tests, /usr/bin/chromium) and
#                   Liberation fonts (Arial's metrics: the pages use Arial; screenshots)
#   --check         only report: exit 1, naming what is missing, and install nothing
#
# Each check looks for what the tests use (a command on PATH, initdb under PGBIN, a font
# that fontconfig gives for Arial), not for a package name, so a tool installed some
# other way counts too.
set -euo pipefail

check_only=0
purpose=demo
for arg in "$@"; do
  case "$arg" in
    --check) check_only=1 ;;
    demo | test) purpose=$arg ;;
    *) echo "usage: $0 [--check] [demo|test]" >&2; exit 2 ;;
  esac
done

PYTHON=${PYTHON:-python3.11}
need=()
want() { # want PACKAGE...: add each package once
  local p q
  for p in "$@"; do
    for q in "${need[@]:-}"; do [ "$q" = "$p" ] && continue 2; done
    need+=("$p")
  done
}
have() { command -v "$1" >/dev/null 2>&1; }

missing() {
  need=()
  have make || want make
  if ! have "$PYTHON"; then
    want python3.11 python3.11-venv
  elif ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    want python3.11-venv
  fi
  have node || want nodejs
  have npm || want npm
  if [ "$purpose" = test ]; then
    local pgbin=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
    [ -n "$pgbin" ] && [ -x "$pgbin/initdb" ] && [ -x "$pgbin/pg_ctl" ] || want postgresql
    # as root, the throwaway cluster runs as the postgres user through runuser
    [ "$(id -u)" != 0 ] || have runuser || want util-linux
    have chromium || want chromium
    if ! have fc-match; then
      want fontconfig fonts-liberation
    elif ! fc-match -f '%{family}\n' Arial 2>/dev/null | grep -q 'Liberation Sans'; then
      want fonts-liberation
    fi
  fi
}

missing
[ ${#need[@]} -eq 0 ] && exit 0

what="system packages needed for 'make $purpose' are missing: ${need[*]}"
if [ "$check_only" = 1 ] || [ "$(id -u)" != 0 ]; then
  echo "$what" >&2
  echo "install them as root with:" >&2
  echo "  apt-get update && apt-get install -y ${need[*]}" >&2
  exit 1
fi

echo "$what: installing them with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
missing
if [ ${#need[@]} -gt 0 ]; then
  echo "still missing after apt-get install: ${need[*]}" >&2
  exit 1
fi
echo "installed" >&2
