#!/bin/bash
# virtnat doctor for IPv6 forwards: an admin's `table ip6 t` dropping forwards to
# fd00:77::/64, beside an applied dual-stack config, is named for the IPv6 forward and not
# for the IPv4 one. Control first: without the table doctor exits 0.
#   bash tests/lab/test_doctor6.sh BUILD_DIR
# Only doctor's analysis (no packets): one namespace, a bridge and an uplink, both families.
set -uo pipefail
BUILD_DIR=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
VIRTNAT="$BUILD_DIR/virtnat"
if [ "$(id -u)" -ne 0 ]; then
  echo "# needs root (network namespaces); skipped"
  exit 77
fi
NS="vnd6$$"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/virtnat-doctor6.XXXXXX")
cleanup() {
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
PASSED=0
FAILED=0
check() { # DESCRIPTION CONDITION-EXIT-STATUS [DETAIL]
  if [ "$2" -eq 0 ]; then
    PASSED=$((PASSED + 1))
    echo "ok - $1"
  else
    FAILED=$((FAILED + 1))
    echo "not ok - $1"
    if [ -n "${3:-}" ]; then while IFS= read -r line; do echo "# $line"; done <<<"$3"; fi
  fi
}

ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns ip link add uplink type veth peer name uplinkpeer
in_ns ip link set uplinkpeer up
in_ns ip addr add 198.51.100.1/24 dev uplink
in_ns ip addr add 2001:db8:100::1/64 dev uplink nodad
in_ns ip link set uplink up
in_ns ip route add default via 198.51.100.254 dev uplink
in_ns ip -6 route add default via 2001:db8:100::fe dev uplink
in_ns ip link add nbr0 type bridge
in_ns ip addr add 10.77.0.1/24 dev nbr0
in_ns ip addr add fd00:77::1/64 dev nbr0 nodad
in_ns ip link set nbr0 up

cat >"$WORK/virtnat.toml" <<'TOML'
[settings]
table = "virtnat"
public_address = "198.51.100.1"
public_address6 = "2001:db8:100::1"
vm_lifecycle = "ignore"

[[network]]
name = "lab"
mode = "nat"
provider = "external"
bridge = "nbr0"
address = "10.77.0.1/24"
address6 = "fd00:77::1/64"

[[network.host]]
name = "web"
address = "10.77.0.28"

[[forward]]
host = "web"
port = 2222
to_port = 22
TOML
vn() { in_ns "$VIRTNAT" --config "$WORK/virtnat.toml" --state-dir "$WORK/state" "$@"; }
export VIRTNAT_LIB_DIR="$WORK/lib" VIRTNAT_RUN_DIR="$WORK/run"
# admin_forward_rule FAMILY TABLE RULE: an admin's table with RULE in its forward chain f.
admin_forward_rule() {
  in_ns nft -f - <<NFT
table $1 $2 {
  chain f {
    type filter hook forward priority 0;
    $3
  }
}
NFT
}

out=$(vn apply 2>&1)
check "apply of the dual-stack config" $? "$out"
out=$(vn doctor 2>&1)
rc=$?
check "control: without the admin's table doctor exits 0" "$([ $rc -eq 0 ] && echo 0 || echo 1)" "$out"

admin_forward_rule ip6 t 'ip6 daddr fd00:77::/64 drop'
out=$(vn doctor 2>&1)
rc=$?
check "with the admin's ip6 table doctor exits 1" "$([ $rc -eq 1 ] && echo 0 || echo 1)" "exit $rc: $out"
grep -q '^blocked: forward tcp \[2001:db8:100::1\]:2222 -> web \[fd00:77::1c\]:22 (after DNAT): ip6 t f: rule handle [0-9]*: ip6 daddr fd00:77::/64 drop' <<<"$out"
check "doctor names the ip6 rule for the IPv6 forward after DNAT" $? "$out"
# Guests going out are asked about for a destination on the internet: a rule on the guests'
# own subnet does not concern them (a control below shows that one on the internet does).
! grep -q 'going out' <<<"$out"
check "doctor does not name the rule for the guests going out (it drops only fd00:77::/64)" $? "$out"
! grep -q '10\.77\.0\.28' <<<"$out"
check "doctor does not name it for the IPv4 forward" $? "$out"
json=$(vn doctor --json 2>/dev/null)
[ "$(jq '[.findings[] | select(.line | test("10\\.77\\.0\\.28"))] | length' <<<"$json")" = 0 ] &&
  [ "$(jq '[.findings[] | select(.kind == "forward")] | length' <<<"$json")" = 1 ]
check "doctor --json: one forward finding, none for 10.77.0.28" $? "$json"
json=$(vn status --json 2>/dev/null)
state=$(jq -r '.forwards[] | select(.port == "2222") | .state' <<<"$json" 2>/dev/null)
[ "$state" = blocked ]
check "status --json: the forward is blocked" $? "state: $state"

in_ns nft delete table ip6 t
out=$(vn doctor 2>&1)
rc=$?
check "control: the table gone, doctor exits 0 again" "$([ $rc -eq 0 ] && echo 0 || echo 1)" "$out"

# Control of the family check: the same rule in a `table ip` for the IPv4 subnet is named for
# the IPv4 forward only.
admin_forward_rule ip t4 'ip daddr 10.77.0.0/24 drop'
out=$(vn doctor 2>&1)
grep -q '^blocked: forward tcp 198.51.100.1:2222 -> web 10.77.0.28:22 (after DNAT): ip t4 f: rule handle [0-9]*: ip daddr 10.77.0.0/24 drop' <<<"$out"
check "control: an ip table's rule is named for the IPv4 forward" $? "$out"
! grep -q 'fd00:77::1c' <<<"$out"
check "control: and not for the IPv6 one" $? "$out"
in_ns nft delete table ip t4

# Control of the egress probe: a rule that drops what goes to the internet's IPv6 unicast
# space (2000::/3) blocks the guests going out, and only over IPv6.
admin_forward_rule ip6 t6 'iifname "nbr0" ip6 daddr 2000::/3 drop'
out=$(vn doctor 2>&1)
grep -q '^blocked: guests of lab (nbr0) going out over IPv6: ip6 t6 f: rule handle [0-9]*: iifname "nbr0" ip6 daddr 2000::/3 drop' <<<"$out"
check "control: a rule dropping 2000::/3 from nbr0 blocks the guests going out over IPv6" $? "$out"
! grep -q '^[a-z ]*: guests of lab (nbr0) going out:' <<<"$out"
check "control: and not the guests going out over IPv4" $? "$out"
in_ns nft delete table ip6 t6
vn down >/dev/null 2>&1
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
