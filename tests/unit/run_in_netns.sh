#!/bin/bash
# Runs unit tests that need the real kernel (they install nftables tables and conntrack
# entries) in a network namespace of their own, created and removed here:
#
#   tests/unit/run_in_netns.sh UNIT_TEST_BINARY GTEST_FILTER     (as root; 77 = skipped)
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: $0 UNIT_TEST_BINARY GTEST_FILTER" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces): skipped"; exit 77; }
ns="vnkt$$"
ip netns add "$ns" || exit 1
trap 'ip netns del "$ns"' EXIT
ip -n "$ns" link set lo up
VIRTNAT_NETNS_KERNEL_TEST=1 ip netns exec "$ns" "$1" --gtest_filter="$2" 2>&1 | tee /tmp/"$ns".log
status=${PIPESTATUS[0]}
# The control: the tests ran (none skipped), so a pass means something.
if grep -q '\[  SKIPPED \]' /tmp/"$ns".log; then
  echo "the kernel tests were skipped inside the namespace"
  status=1
fi
grep -q '\[  PASSED  \] [1-9]' /tmp/"$ns".log || status=1
rm -f /tmp/"$ns".log
exit "$status"
