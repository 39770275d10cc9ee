#!/bin/bash
# The package of each Debian release on its own release (make package-test):
#
#   tests/package/test_releases.sh BUILD_DIR DEB13_DIR    (as root)
#
# Debian 12: BUILD_DIR's virtnat_*_deb12_*.deb (and `make install` of BUILD_DIR) in a
# copy-on-write copy of this machine. Debian 13: DEB13_DIR's virtnat_*_deb13_*.deb (built in
# the trixie chroot by `scripts/debian-chroot deb`) in a copy-on-write copy of a cached trixie
# chroot that has the packages it depends on (`scripts/debian-chroot run-root`; made once,
# about 2 minutes, from the Debian mirror). Both run tests/package/test_package.sh: install
# with apt, --version, check, man page, completion, hook, apply, forward, upgrade, remove,
# purge (nothing left). Output: each run's "ok N - ..." lines, then the total
# "N passed, M failed". Exit 0 when all passed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$HERE/../.." && pwd)
if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR DEB13_DIR" >&2
  exit 2
fi
[ "$(id -u)" -eq 0 ] || { echo "test_releases: needs root" >&2; exit 77; }

PASSED=0 FAILED=0
# add_counts OUTPUT_FILE: add the run's last "N passed, M failed" (a run without one failed).
add_counts() {
  local last
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
  if [ -n "$last" ]; then
    read -r p _ f _ <<<"$last"
    PASSED=$((PASSED + p)) FAILED=$((FAILED + f))
  else
    FAILED=$((FAILED + 1))
  fi
}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "# --- Debian 12: the package of $1 on this machine (a copy of /)"
bash "$HERE/test_package.sh" "$1" | tee "$out"
add_counts "$out"

echo "# --- Debian 13: the package of $2 in a trixie chroot"
deb=$(find "$2" -maxdepth 1 -name 'virtnat_*_deb13_*.deb' -printf '%T@ %p\n' 2>/dev/null | sort -rn |
  head -n 1 | cut -d' ' -f2-)
if [ -z "$deb" ]; then
  echo "not ok - a virtnat_*_deb13_*.deb in $2 (make deb builds it)"
  FAILED=$((FAILED + 1))
elif ! root=$(bash "$REPO_DIR/scripts/debian-chroot" run-root "$deb"); then
  echo "not ok - a trixie chroot with the dependencies of $deb (scripts/debian-chroot run-root)"
  FAILED=$((FAILED + 1))
else
  bash "$HERE/test_package.sh" --root "$root" "$deb" | tee "$out"
  add_counts "$out"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
