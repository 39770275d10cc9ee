#!/bin/bash
# bench/ovn.sh BUILD_DIR: 1,000 forwards to a provider-ovn network, in the OVN fleet lab
# (lab/ovn.sh: NB/SB/northd, three hypervisors, a LAN; all in namespaces this script creates
# and removes). Not part of `make bench`; run it by hand as root after a build:
#
#   nice -n 10 bash bench/ovn.sh build            (BUILD_DIR holds virtnat and vnpeer)
#
# Three ways to the same 1,000 open ports, each measured the same way, BENCH_OVN_RUNS times
# (default 3, medians printed): from the start of the command until it returns, and until a
# LAN client gets an answer through the first and through the last of the 1,000 ports. The
# guest runs on hv3 (not a gateway chassis); the network (mode nat) exists before each run and
# its forwards are removed between runs.
#
#   virtnat, 1,000 forwards       [[forward]] x 1,000 (one port each): `virtnat apply` sends one
#                                 transaction: the network's load balancer gets a VIP per
#                                 forward, the ACL of the guest's open ports lists them
#   virtnat, one 1,000-port range one [[forward]] with port = "20000-20999": the same rows, the
#                                 ACL with one range
#   Incus's approach              what Incus does for a network forward, by hand: one load
#                                 balancer per listen address and protocol with one VIP per port
#                                 (`ovn-nbctl lb-add` per port), attached to router and switch
#                                 (`lr-lb-add`, `ls-lb-add`), in one transaction with --wait=hv;
#                                 plus the one ACL mode nat needs to let the port in (Incus has
#                                 no source allowlists, so it never needs more)
#
# Output: a markdown table on stdout; "# " lines with each run's numbers.
set -uo pipefail

if [ $# -ne 1 ] || [ ! -x "$1/virtnat" ] || [ ! -x "$1/vnpeer" ]; then
  echo "usage: bench/ovn.sh BUILD_DIR (with virtnat and vnpeer built)" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/ovn.sh: needs root (network namespaces)" >&2
  exit 1
fi
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
VIRTNAT=$(readlink -f "$1/virtnat")
VNPEER=$(readlink -f "$1/vnpeer")
RUNS=${BENCH_OVN_RUNS:-3}
COUNT=1000
FIRST=20000
LAST=$((FIRST + COUNT - 1))
VIP=198.51.100.50
export OVN_LAB_DIR=/tmp/virtnat-ovn-bench.$$ OVN_LAB_PREFIX=vnob$$
# shellcheck source=lab/ovn.sh
source "$REPO_DIR/lab/ovn.sh"

WORK=$(mktemp -d /tmp/virtnat-ovn-bench.XXXXXX)
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  ovn_lab_down >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

vn() { ip netns exec "$(ovn_lab_ns central)" "$VIRTNAT" --config "$WORK/etc/virtnat.toml" --state-dir "$WORK/state" "$@"; }
probe() { ip netns exec "$(ovn_lab_ns lan)" "$VNPEER" connect --tcp $VIP "$1" --timeout-ms 150 2>&1; }

# until_answer T0 PORT EXPECTED: seconds from T0 until PORT answers EXPECTED (max 60 s).
until_answer() {
  local t0=$1 port=$2 want=$3
  while :; do
    [ "$(probe "$port")" = "$want" ] && { since "$t0"; return 0; }
    if awk -v s="$(since "$t0")" 'BEGIN { exit !(s > 60) }'; then echo 999; return 1; fi
  done
}

base_config() {
  cat <<EOF
[settings]
ovn_northbound = "unix:$OVN_LAB_DIR/central/nb.sock"
ovn_southbound = "unix:$OVN_LAB_DIR/central/sb.sock"

[[network]]
name = "fleet"
provider = "ovn"
mode = "nat"
address = "10.99.0.1/24"
uplink = "physnet1"
uplink_address = "$VIP/24"
uplink_gateway = "198.51.100.254"
gateway_chassis = ["hv1", "hv2"]

[[network.host]]
name = "web1"
address = "10.99.0.11"
mac = "02:76:6e:0a:00:0b"
EOF
}

write_config() { # none | forwards | range
  {
    base_config
    case $1 in
      forwards)
        for ((p = FIRST; p <= LAST; p++)); do printf '\n[[forward]]\nhost = "web1"\nport = %d\n' "$p"; done ;;
      range) printf '\n[[forward]]\nhost = "web1"\nport = "%d-%d"\n' "$FIRST" "$LAST" ;;
    esac
  } >"$WORK/etc/virtnat.toml"
  chmod 600 "$WORK/etc/virtnat.toml"
}

# One run of one approach: prints "RETURN FIRST_PORT LAST_PORT".
run_virtnat() { # forwards | range
  write_config "$1"
  local t0 ret first last
  t0=$(now)
  vn apply >"$WORK/apply.out" 2>&1 || { echo "bench: apply failed: $(cat "$WORK/apply.out")" >&2; exit 1; }
  ret=$(since "$t0")
  first=$(until_answer "$t0" $FIRST "web1 $FIRST 198.51.100.10")
  last=$(until_answer "$t0" $LAST "web1 $LAST 198.51.100.10")
  echo "$ret $first $last"
  write_config none
  vn apply >/dev/null 2>&1
}

run_incus() {
  local args=(-- --id=@lb create Load_Balancer name=incus-bench-lb-tcp protocol=tcp external_ids:bench=1)
  local p t0 ret first last
  for ((p = FIRST; p <= LAST; p++)); do args+=(-- lb-add incus-bench-lb-tcp "$VIP:$p" "10.99.0.11:$p" tcp); done
  args+=(-- lr-lb-add fleet.lr incus-bench-lb-tcp -- ls-lb-add fleet incus-bench-lb-tcp
    -- --id=@acl create ACL direction=to-lport priority=1001 action=allow-related external_ids:bench=1
    "match=\"inport == \\\"fleet.int.rp\\\" && ip4.dst == 10.99.0.11 && tcp.dst >= $FIRST && tcp.dst <= $LAST\""
    -- add Logical_Switch fleet acls @acl)
  t0=$(now)
  ovn_lab_nbctl --wait=hv --timeout=60 "${args[@]}" >/dev/null || { echo "bench: ovn-nbctl failed" >&2; exit 1; }
  ret=$(since "$t0")
  first=$(until_answer "$t0" $FIRST "web1 $FIRST 198.51.100.10")
  last=$(until_answer "$t0" $LAST "web1 $LAST 198.51.100.10")
  echo "$ret $first $last"
  local acl
  acl=$(ovn_lab_nbctl --bare --columns=_uuid find ACL external_ids:bench=1)
  ovn_lab_nbctl --wait=hv -- lb-del incus-bench-lb-tcp -- remove Logical_Switch fleet acls "$acl" >/dev/null
}

ovn_lab_up >"$WORK/lab.log" 2>&1 || { cat "$WORK/lab.log" >&2; exit 1; }
mkdir -p "$WORK/etc" "$WORK/state"
write_config none
vn apply >/dev/null || exit 1
# The logical port's name: the UUID interfaceid of `vm interface`.
OVN_LAB_IFACE_IDS[fleet-web1]=$(vn vm interface fleet web1 | sed -n "s/.*interfaceid='\([^']*\)'.*/\1/p")
ovn_lab_guest hv3 fleet-web1 02:76:6e:0a:00:0b 10.99.0.11/24 10.99.0.1
ip netns exec "$(ovn_lab_ns g-fleet-web1)" "$VNPEER" serve --name web1 --tcp "$FIRST-$LAST" >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do grep -q '^ready' "$WORK/serve.log" && break; sleep 0.05; done
[ "$(probe $FIRST)" != "web1 $FIRST 198.51.100.10" ] || { echo "bench: the port answers before any forward" >&2; exit 1; }

declare -A R
for ((run = 1; run <= RUNS; run++)); do
  for approach in forwards range incus; do
    if [ $approach = incus ]; then result=$(run_incus); else result=$(run_virtnat $approach); fi
    echo "# run $run, $approach: returns / first port / last port: $result s" >&2
    R[$approach]+="$result"$'\n'
  done
done

col() { printf '%s' "${R[$1]}" | awk -v c="$2" 'NF { print $c }' | median; }
echo "| 1,000 ports to one guest (lab/ovn.sh, guest on hv3, medians of $RUNS) | NB rows (load balancer + ACL) | command returns (--wait=hv) | first port passes | last port passes |"
echo "|---|---:|---:|---:|---:|"
echo "| virtnat, 1,000 forwards (one port each) | 2 | $(col forwards 1) s | $(col forwards 2) s | $(col forwards 3) s |"
echo "| virtnat, one forward of a 1,000-port range | 2 | $(col range 1) s | $(col range 2) s | $(col range 3) s |"
echo "| Incus's approach by hand (lb-add per port, lr-lb-add, ls-lb-add, one ACL) | 2 | $(col incus 1) s | $(col incus 2) s | $(col incus 3) s |"
