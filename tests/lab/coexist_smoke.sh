#!/bin/bash
# Smoke test of coexist_lib.sh (issue 12), and the maker of the ruleset fixtures:
#   bash tests/lab/coexist_smoke.sh [BUILD_DIR]
# Starts firewalld, dockerd and ufw, each in a fresh network namespace of its own, checks that
# each really runs (and that the checks can fail: the namespace before the start has none of
# it), writes that namespace's ruleset to tests/data/rulesets/{firewalld,docker,ufw}.{json,nft},
# stops it and checks that nothing is left (processes, mounts, links, tables). Then loads
# tests/data/rulesets/libvirt-nat.nft (libvirt's NAT ruleset) and writes libvirt-nat.json.
# COEXIST_FIXTURES=DIR writes the fixtures elsewhere (COEXIST_FIXTURES= writes none).
# No virtnat binary is needed; BUILD_DIR only satisfies lib.sh.
# shellcheck disable=SC2317 # helpers below are called through check/expect_value
REPO_DIR_SMOKE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-$REPO_DIR_SMOKE}"
# shellcheck source=tests/lab/coexist_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/coexist_lib.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "# needs root (network namespaces); skipped"
  exit 77
fi
FIXTURES=${COEXIST_FIXTURES-$REPO_DIR/tests/data/rulesets}
[ -z "$FIXTURES" ] || mkdir -p "$FIXTURES"

SMOKE_NS=()
smoke_cleanup() {
  local ns pid
  for ns in "${SMOKE_NS[@]}"; do
    ns_exists "$ns" || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
}
trap smoke_cleanup EXIT
trap 'exit 130' INT TERM

# new_ns NAME: sets NS to a new namespace like the lab's host: lo, an uplink (a veth whose
# peer "lanside" stays in the namespace) and a bridge nbr0 (a guest network that no other
# firewall knows about), ip_forward on. (Not in a command substitution: SMOKE_NS must grow
# in this shell, for the cleanup.)
new_ns() {
  NS="$LAB_PREFIX-$1"
  ip netns add "$NS" || return 1
  SMOKE_NS+=("$NS")
  ip -n "$NS" link set lo up
  ip -n "$NS" link add uplink type veth peer name lanside
  ip -n "$NS" addr add 198.51.100.1/24 dev uplink
  ip -n "$NS" link set lanside up
  ip -n "$NS" link set uplink up
  ip -n "$NS" link add nbr0 type bridge
  ip -n "$NS" addr add 10.1.1.1/24 dev nbr0
  ip -n "$NS" link set nbr0 up
  ip netns exec "$NS" sysctl -q -w net.ipv4.ip_forward=1
}

links_of() { ip -n "$1" -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort | tr '\n' ' '; }
ruleset_empty() { [ -z "$(ip netns exec "$1" nft list ruleset 2>&1)" ]; }
ipt_policy() { ip netns exec "$1" iptables -w -S "$2" 2>/dev/null | awk '$1 == "-P" { print $3 }'; }
no_zone() { [ -z "$(cx_firewall_cmd --get-zone-of-interface="$1" 2>/dev/null)" ]; }
same_netns() { [ "$(readlink "/proc/$1/ns/net")" = "$(ip netns exec "$2" readlink /proc/self/ns/net)" ]; }

# dump NS NAME: the fixtures NAME.json and NAME.nft, and a check that they parse.
dump() {
  [ -n "$FIXTURES" ] || return 0
  if cx_dump_ruleset "$1" "$FIXTURES/$2" && jq -e '.nftables | length > 1' "$FIXTURES/$2.json" >/dev/null; then
    pass "$2: ruleset written to ${FIXTURES#"$REPO_DIR"/}/$2.{json,nft} ($(grep -c . "$FIXTURES/$2.nft") lines)"
  else
    fail "$2: ruleset dump" "$(ls -l "$FIXTURES/$2".* 2>&1)"
  fi
}

# after_stop NS LINKS_BEFORE ROLE: nothing of the daemon is left.
after_stop() {
  local ns=$1 links=$2 role=$3 left
  check "$role: no table left in $ns after the stop" ruleset_empty "$ns"
  expect_value "$role: the links of $ns are as before the start" "$(links_of "$ns")" "$links"
  left=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  expect_value "$role: no process left in $ns" "$left" ""
}

# ------------------------------------------------------------------ firewalld
note "firewalld"
new_ns cx-firewalld || exit 1
ns=$NS
links=$(links_of "$ns")
check "control: no table in $ns before the start" ruleset_empty "$ns"
if cx_firewalld_start "$ns"; then
  pass "firewalld started and answers 'running' in ${CX_FIREWALLD_SECONDS}s"
  check "firewalld made table inet firewalld" ip netns exec "$ns" nft list table inet firewalld
  expect_value "firewall-cmd works in the same namespaces (default zone)" "$(cx_firewall_cmd --get-default-zone)" public
  check "nbr0 is in no zone (as a bridge virtnat makes)" no_zone nbr0
  check "firewalld runs in $ns" same_netns "${CX_SAVED[firewalld:pid]}" "$ns"
  check "firewalld's /etc/firewalld is a private copy (a mount point in its namespace only)" \
    cx_exec firewalld mountpoint -q /etc/firewalld
  dump "$ns" firewalld
  t0=$EPOCHREALTIME
  cx_firewalld_stop
  pass "firewalld stopped in $(cx_elapsed "$t0")s"
  after_stop "$ns" "$links" firewalld
else
  fail "firewalld started in $ns"
fi

# ------------------------------------------------------------------ dockerd
note "dockerd"
new_ns cx-docker || exit 1
ns=$NS
links=$(links_of "$ns")
expect_value "control: FORWARD policy before dockerd" "$(ipt_policy "$ns" FORWARD)" ACCEPT
# Debian's default Docker (no ip6tables): the ruleset the unit tests' docker fixture holds.
if CX_DOCKER_IP6TABLES=0 cx_dockerd_start "$ns"; then
  pass "dockerd started, API and DOCKER-USER there in ${CX_DOCKERD_SECONDS}s"
  expect_value "dockerd set the FORWARD policy to DROP" "$(ipt_policy "$ns" FORWARD)" DROP
  check "DOCKER-USER exists" ip netns exec "$ns" iptables -w -S DOCKER-USER
  check "docker0 exists in $ns" ip -n "$ns" link show docker0
  check "no docker socket outside (/run/docker.sock)" test ! -e /run/docker.sock
  dump "$ns" docker
  ip netns exec "$ns" iptables -w -I DOCKER-USER -s 203.0.113.7 -j DROP
  ip netns exec "$ns" iptables -w -I FORWARD -j ACCEPT
  if cx_dockerd_restart; then
    pass "dockerd restarted in ${CX_SECONDS}s"
    expect_value "after the restart the FORWARD jump to DOCKER-USER is on top again" \
      "$(ip netns exec "$ns" iptables -w -S FORWARD | sed -n 2p)" "-A FORWARD -j DOCKER-USER"
    check "DOCKER-USER keeps an admin's rule across the restart" \
      bash -c "ip netns exec $ns iptables -w -S DOCKER-USER | grep -q 203.0.113.7"
  else
    fail "dockerd restarted"
  fi
  ip netns exec "$ns" iptables -w -D FORWARD -j ACCEPT
  t0=$EPOCHREALTIME
  cx_dockerd_stop
  pass "dockerd stopped in $(cx_elapsed "$t0")s"
  expect_value "the FORWARD policy is back" "$(ipt_policy "$ns" FORWARD)" ACCEPT
  after_stop "$ns" "$links" docker
else
  fail "dockerd started in $ns"
fi

# ------------------------------------------------------------------ ufw
note "ufw"
new_ns cx-ufw || exit 1
ns=$NS
links=$(links_of "$ns")
conf_sum=$(cat /etc/ufw/ufw.conf /etc/default/ufw /etc/ufw/user.rules | md5sum)
if cx_ufw_enable "$ns"; then
  pass "ufw enabled in ${CX_UFW_SECONDS}s"
  expect_value "ufw's forward policy is DROP" "$(ipt_policy "$ns" FORWARD)" DROP
  has_text "ufw status says active" "$(cx_ufw status verbose)" "Status: active"
  dump "$ns" ufw
  t0=$EPOCHREALTIME
  cx_ufw_disable
  pass "ufw disabled and removed in $(cx_elapsed "$t0")s"
  after_stop "$ns" "$links" ufw
else
  fail "ufw enabled in $ns"
fi
expect_value "the host's /etc/ufw and /etc/default/ufw are unchanged" \
  "$(cat /etc/ufw/ufw.conf /etc/default/ufw /etc/ufw/user.rules | md5sum)" "$conf_sum"

# ------------------------------------------------------------------ libvirt's NAT ruleset
# tests/data/rulesets/libvirt-nat.nft is written by hand from libvirt's golden files; it must
# load (virbr0 must exist first: libvirt matches iif/oif by index) and its JSON is the fixture.
note "libvirt's NAT ruleset (nftables backend)"
new_ns cx-libvirt || exit 1
ns=$NS
ip -n "$ns" link add virbr0 type bridge
if out=$(ip netns exec "$ns" nft -f "$REPO_DIR/tests/data/rulesets/libvirt-nat.nft" 2>&1); then
  pass "libvirt-nat.nft loads with nft -f"
  check "it made table ip libvirt_network with libvirt's chains" bash -c \
    "ip netns exec $ns nft list table ip libvirt_network | grep -q 'oif \"virbr0\" counter packets 0 bytes 0 reject'"
  # Only the JSON: libvirt-nat.nft is the source, with its comments.
  if [ -n "$FIXTURES" ]; then
    if ip netns exec "$ns" nft -j list ruleset | jq . >"$FIXTURES/libvirt-nat.json" &&
      jq -e '.nftables | length > 1' "$FIXTURES/libvirt-nat.json" >/dev/null; then
      pass "libvirt-nat: ruleset written to ${FIXTURES#"$REPO_DIR"/}/libvirt-nat.json"
    else
      fail "libvirt-nat: ruleset dump"
    fi
  fi
else
  fail "libvirt-nat.nft loads with nft -f" "$out"
fi

cx_cleanup
smoke_cleanup
SMOKE_NS=()
check "no namespace of this run is left" bash -c "! ip netns list | grep -q '^$LAB_PREFIX-'"
finish
