#!/bin/bash
# provider "ovn" (issue 16) with real packets: virtnat drives the OVN fleet lab (lab/ovn.sh:
# NB/SB/northd, hypervisors hv1 hv2 hv3 with their own ovs-vswitchd and ovn-controller, geneve,
# a provider network with a LAN) from one config. Guests are OVS internal ports with
# external_ids:iface-id=NETWORK-HOST, what libvirt's <virtualport type='openvswitch'> sets.
#
#   bash tests/lab/test_ovn.sh BUILD_DIR      (as root; ctest: lab_ovn)
#
# Checks (each with a control that could fail): DHCP lease and names from OVN; SNAT egress as
# uplink_address; LAN -> guests on hv1 and hv3 through forwards (TCP, UDP, a range, an allowlist);
# hairpin; mode nat keeps routed traffic out; `forward add` on the live network; a guest moved
# hv1 -> hv3 keeps its forwards; failover when the active gateway's ovn-controller stops and
# failback; status; a second apply sends nothing (NB byte-identical); `down` leaves NB as it
# was. Timings are printed as "# timing: ..." lines. OVN_LAB_KEEP=1 leaves the lab up.
#
# A real QEMU guest plugged through libvirt's openvswitch virtualport: tests/lab/test_ovn_vm.sh.
# The internal ports here get the same iface-id binding that libvirt's port gets.

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh" "$1"
export OVN_LAB_DIR="${OVN_LAB_DIR:-/tmp/virtnat-ovn-test.$$}"
export OVN_LAB_PREFIX="${OVN_LAB_PREFIX:-vnov$$}"
# shellcheck source=lab/ovn.sh
source "$REPO_DIR/lab/ovn.sh"
# shellcheck source=tests/lab/ovn_test_lib.sh
source "$REPO_DIR/tests/lab/ovn_test_lib.sh"

VIP=198.51.100.50
NBDB="unix:$OVN_LAB_DIR/central/nb.sock"
TIMINGS=()

timing() { # WHAT SECONDS
  TIMINGS+=("$1: $2 s")
  note "timing: $1: $2 s"
}

ovn_test_cleanup() {
  local pid
  for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${SERVERS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -z "${OVN_LAB_KEEP:-}" ]; then
    ovn_lab_down >/dev/null 2>&1
    [ -n "$WORK_DIR" ] && rm -rf "$WORK_DIR"
  else
    echo "# lab kept: OVN_LAB_DIR=$OVN_LAB_DIR OVN_LAB_PREFIX=$OVN_LAB_PREFIX bash lab/ovn.sh down; config $CONFIG"
  fi
}

# answer NODE PROTO ADDR PORT EXPECTED DESCRIPTION: exactly EXPECTED comes back.
answer() {
  local out
  out=$(connect "$1" "$2" "$3" "$4" 2000)
  if [ "$out" = "$5" ]; then pass "$6 (got: $out)"; else fail "$6" "expected '$5', got '$out'"; fi
}

# no_answer NODE PROTO ADDR PORT DESCRIPTION: nothing comes back.
no_answer() {
  local out
  out=$(connect "$1" "$2" "$3" "$4" 1200)
  case $out in
    timeout | refused | unreachable) pass "$5 (got: $out)" ;;
    *) fail "$5" "expected no answer, got '$out'" ;;
  esac
}

seconds_over() { awk -v s="$1" -v m="$2" 'BEGIN { exit !(s > m) }'; }

# wait_answer MAX_S NODE PROTO ADDR PORT EXPECTED: polls (300 ms probes) until EXPECTED comes
# back; prints the seconds since T0 (a global set by the caller); fails after MAX_S.
wait_answer() {
  local max=$1 out
  shift
  while :; do
    out=$(connect "$1" "$2" "$3" "$4" 300)
    if [ "$out" = "$5" ]; then
      _ovn_lab_since "$T0"
      return 0
    fi
    if seconds_over "$(_ovn_lab_since "$T0")" "$max"; then
      echo "gave up after $max s (last: $out)"
      return 1
    fi
    sleep 0.05
  done
}

# nb_dump FILE: every NB table but NB_Global (whose counters move), for before/after compares.
nb_dump() {
  local t
  for t in $(ovsdb-client list-tables "$NBDB" OVN_Northbound | tail -n +3 | grep -v '^NB_Global$'); do
    ovsdb-client dump "$NBDB" OVN_Northbound "$t"
  done >"$1"
}

# ------------------------------------------------------------------ the lab

if [ "$(id -u)" -ne 0 ]; then
  echo "# lab tests need root (network namespaces); skipped"
  exit 77
fi
for bin in ovn-nbctl ovn-northd ovn-controller ovs-vswitchd ovsdb-client ethtool busybox "$VNPEER" "$VIRTNAT"; do
  if ! command -v "$bin" >/dev/null; then
    echo "Bail out! $bin is missing (scripts/install-deps; build first)"
    echo "0 passed, 1 failed"
    exit 1
  fi
done
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/virtnat-ovn.XXXXXX")
CONFIG="$WORK_DIR/etc/virtnat.toml"
mkdir -p "$WORK_DIR/etc" "$WORK_DIR/state"
trap ovn_test_cleanup EXIT
trap 'exit 130' INT TERM
T_START=$(_ovn_lab_now)

if ! ovn_lab_up >"$WORK_DIR/lab-up.log" 2>&1; then
  echo "Bail out! lab/ovn.sh up failed:"
  sed 's/^/# /' "$WORK_DIR/lab-up.log"
  echo "0 passed, 1 failed"
  exit 1
fi
timing "lab up (central + 3 hypervisors + LAN)" "$(cat "$OVN_LAB_DIR/up.seconds")"

# Rows that are not virtnat's: they must survive apply and down.
ovn_lab_nbctl ls-add other -- lsp-add other other-p1 -- lb-add other-lb 203.0.113.9:80 10.7.0.2:80 \
  -- create Address_Set name=other_set addresses=10.7.0.9 >/dev/null
nb_dump "$WORK_DIR/nb-before.txt"

cat >"$CONFIG" <<EOF
[settings]
ovn_northbound = "$NBDB"
ovn_southbound = "unix:$OVN_LAB_DIR/central/sb.sock"

[[network]]
name = "fleet"
provider = "ovn"
mode = "nat"
address = "10.99.0.1/24"
dhcp_range = "10.99.0.100-10.99.0.200"
domain = "fleet.test"
uplink = "physnet1"
uplink_address = "$VIP/24"
uplink_gateway = "198.51.100.254"
gateway_chassis = ["hv1", "hv2"]

[[network.host]]
name = "web1"
address = "10.99.0.11"
mac = "02:76:6e:0a:00:0b"

[[network.host]]
name = "web2"
address = "10.99.0.12"
mac = "02:76:6e:0a:00:0c"

[[forward]]
host = "web1"
port = 8080
to_port = 80

[[forward]]
host = "web1"
protocol = "udp"
port = 8053
to_port = 53

[[forward]]
host = "web2"
protocol = "tcp,udp"
port = 8081
to_port = 80

[[forward]]
host = "web2"
port = "9000-9002"

[[forward]]
host = "web1"
port = 2222
to_port = 22
source = ["198.51.100.10/32"]
EOF
chmod 600 "$CONFIG"

OVN_LAB_IFACE_IDS[fleet-web1]=$(port_id web1)
OVN_LAB_IFACE_IDS[fleet-web2]=$(port_id web2)
note "logical ports: web1 ${OVN_LAB_IFACE_IDS[fleet-web1]}, web2 ${OVN_LAB_IFACE_IDS[fleet-web2]}"

# Guests are plugged before the network exists (a VM may start before apply).
ovn_lab_guest hv1 fleet-web1 02:76:6e:0a:00:0b
ovn_lab_guest hv3 fleet-web2 02:76:6e:0a:00:0c
serve lan lan --tcp 7000 --udp 7000
if ovn_lab_dhcp fleet-web1 2 >/dev/null; then
  fail "control: web1 gets no lease before apply"
else
  pass "control: web1 gets no lease before apply"
fi

# ------------------------------------------------------------------ apply

check "virtnat check accepts the fleet config" vn check
T0=$(_ovn_lab_now)
out=$(vn apply 2>&1)
rc=$?
took=$(_ovn_lab_since "$T0")
if [ $rc -eq 0 ] && grep -Eq "^applied: OVN northbound \(networks fleet\): rows [0-9]+ created in one transaction" <<<"$out"; then
  pass "apply creates the network in one OVN transaction ($took s)"
  timing "apply of the network (virtnat apply, one transaction, --wait=hv)" "$took"
else
  fail "apply creates the network in one OVN transaction" "exit $rc" "$out"
fi
note "$(head -1 <<<"$out")"
expect_value "every row virtnat wrote is marked virtnat=1 (count)" "$(virtnat_rows)" \
  "$(grep -o 'rows [0-9]* created' <<<"$out" | grep -o '[0-9]*')"
out=$(vn vm interface fleet web1)
if grep_q "<source bridge='br-int'/>" <<<"$out" && grep -Eq "interfaceid='[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}'" <<<"$out" &&
  grep_q "<mac address='02:76:6e:0a:00:0b'/>" <<<"$out" && grep_q "virtualport type='openvswitch'" <<<"$out"; then
  pass "vm interface fleet web1: br-int, openvswitch virtualport, a UUID interfaceid (libvirt takes no other), its MAC"
else
  fail "vm interface fleet web1" "$out"
fi
check_exit "control: vm interface of a host on no such network is bad input" 2 vn vm interface fleet nothere
has_text "network xml fleet prints the NB plan" "$(vn network xml fleet)" "create Logical_Router "

# ------------------------------------------------------------------ DHCP and DNS

serve g-fleet-web1 web1 --tcp 80,22 --udp 53
serve g-fleet-web2 web2 --tcp 80,9000-9003 --udp 53,80
for g in web1 web2; do
  T0=$(_ovn_lab_now)
  lease=$(ovn_lab_dhcp "fleet-$g" 5)
  took=$(_ovn_lab_since "$T0")
  want="ip=10.99.0.1${g#web} mask=24 router=10.99.0.1 dns=10.99.0.1 domain=fleet.test mtu=1400"
  if [[ "$lease" == "$want"* ]]; then
    pass "$g gets its configured address from OVN's DHCP in $took s ($lease)"
    timing "DHCP lease ($g, a whole udhcpc run)" "$took"
  else
    fail "$g gets its configured address from OVN's DHCP" "expected: $want ..." "got: $lease"
  fi
done
dns() { ip netns exec "$(ovn_lab_ns g-fleet-web1)" busybox nslookup -type=a "$1" 10.99.0.1 2>&1; }
out=$(dns web2.fleet.test)
if grep -A1 -F "web2.fleet.test" <<<"$out" | grep_q -F "Address: 10.99.0.12"; then
  pass "web2.fleet.test resolves to 10.99.0.12 (OVN's DNS table)"
else
  fail "web2.fleet.test resolves to 10.99.0.12" "$out"
fi
out=$(dns nothere.fleet.test)
if grep_q -F "Address: 10.99" <<<"$out"; then
  fail "control: nothere.fleet.test does not resolve" "$out"
else
  pass "control: nothere.fleet.test does not resolve"
fi

# ------------------------------------------------------------------ SNAT, forwards, hairpin

answer g-fleet-web1 tcp 198.51.100.10 7000 "lan 7000 $VIP" "web1 (hv1) -> LAN tcp: SNATed to uplink_address $VIP"
answer g-fleet-web2 tcp 198.51.100.10 7000 "lan 7000 $VIP" "web2 (hv3, no gateway) -> LAN tcp: SNATed to $VIP"
answer g-fleet-web2 udp 198.51.100.10 7000 "lan 7000 $VIP" "web2 -> LAN udp: SNATed to $VIP"
answer g-fleet-web1 tcp 203.0.113.1 7000 "lan 7000 $VIP" "web1 -> 203.0.113.1 beyond uplink_gateway: SNATed to $VIP"

answer lan tcp $VIP 8080 "web1 80 198.51.100.10" "LAN -> tcp $VIP:8080 reaches web1:80 on hv1, client address kept"
answer lan udp $VIP 8053 "web1 53 198.51.100.10" "LAN -> udp $VIP:8053 reaches web1:53"
answer lan tcp $VIP 8081 "web2 80 198.51.100.10" "LAN -> tcp $VIP:8081 reaches web2:80 on hv3"
answer lan udp $VIP 8081 "web2 80 198.51.100.10" "LAN -> udp $VIP:8081 reaches web2:80 (protocol tcp,udp)"
for p in 9000 9001 9002; do
  answer lan tcp $VIP $p "web2 $p 198.51.100.10" "range: LAN -> tcp $VIP:$p reaches web2:$p"
done
no_answer lan tcp $VIP 9003 "control: $VIP:9003 (past the range; web2 serves 9003) reaches nobody"
answer g-fleet-web2 tcp 10.99.0.12 9003 "web2 9003 10.99.0.12" "control: web2 does serve 9003"
answer lan/198.51.100.10 tcp $VIP 2222 "web1 22 198.51.100.10" "allowlist: 198.51.100.10 (listed) reaches $VIP:2222"
no_answer lan/198.51.100.11 tcp $VIP 2222 "allowlist: 198.51.100.11 (not listed) gets nothing from $VIP:2222"
answer lan/198.51.100.11 tcp $VIP 8080 "web1 80 198.51.100.11" "control: 198.51.100.11 reaches $VIP:8080 (no allowlist there)"
answer g-fleet-web2 tcp $VIP 8080 "web1 80 10.99.0.12" "hairpin: web2 -> $VIP:8080 reaches web1"
answer g-fleet-web1 tcp $VIP 8080 "web1 80 $VIP" "hairpin: web1 -> $VIP:8080 reaches itself"

# mode nat: a LAN client with a route to the subnet gets nothing in but through forwards.
ip -n "$(ovn_lab_ns lan)" route add 10.99.0.0/24 via $VIP
udp_in() { ip netns exec "$(ovn_lab_ns g-fleet-web2)" awk '/^Udp:/ { getline; print $2 + $3 }' /proc/net/snmp; }
before=$(udp_in)
for _ in 1 2 3; do connect lan udp 10.99.0.12 9999 200 >/dev/null; done
expect_value "mode nat: routed UDP from the LAN to web2:9999 (no forward) never reaches web2 (datagrams in)" \
  "$(($(udp_in) - before))" 0
before=$(udp_in)
for _ in 1 2 3; do connect lan udp 10.99.0.12 80 200 >/dev/null; done
delta=$(($(udp_in) - before))
if [ "$delta" -ge 3 ]; then
  pass "control: routed UDP from the LAN to web2:80 (a forward's backend) reaches web2 ($delta datagrams)"
else
  fail "control: routed UDP from the LAN to web2:80 reaches web2" "$delta datagrams in"
fi
ip -n "$(ovn_lab_ns lan)" route del 10.99.0.0/24 via $VIP

# ------------------------------------------------------------------ status

status=$(vn status)
has_text "status: the network is up with gateway hv1" "$status" "up, gateway hv1"
has_text "status: gateway chassis in priority order, hv1 active" "$status" "gateway chassis, in priority order: hv1 (active), hv2"
has_text "status: web1's port is up on hv1" "$status" "port fleet-web1 (web1 10.99.0.11): up on hv1"
has_text "status: web2's port is up on hv3" "$status" "port fleet-web2 (web2 10.99.0.12): up on hv3"
has_text "status: web2's range forward is active through hv1" "$status" "active (gateway hv1, VM on hv3)"
json=$(vn status --json)
if python3 -c 'import json,sys; d=json.load(sys.stdin); f=[x for x in d["forwards"] if x["network"]=="fleet"]; sys.exit(not (len(f)==5 and all(x["active"] for x in f)))' <<<"$json"; then
  pass "status --json: the five forwards of the ovn network, each active"
else
  fail "status --json: the five forwards of the ovn network, each active" "$json"
fi
leases=$(vn leases fleet)
has_text "leases: web1's address as OVN's DHCP serves it" "$leases" "10.99.0.11"

# ------------------------------------------------------------------ a second apply sends nothing

nb_dump "$WORK_DIR/nb-applied.txt"
out=$(vn apply 2>&1)
has_text "a second apply changes nothing" "$out" "no change: OVN northbound already matches the config"
nb_dump "$WORK_DIR/nb-applied-again.txt"
check_same "a second apply: NB is byte-identical" "$WORK_DIR/nb-applied.txt" "$WORK_DIR/nb-applied-again.txt"

# ------------------------------------------------------------------ forward add on the live network

no_answer lan tcp $VIP 8082 "control: no forward on $VIP:8082 yet"
T0=$(_ovn_lab_now)
out=$(vn forward add web2:9003 8082 2>&1)
t_return=$(_ovn_lab_since "$T0")
if took=$(wait_answer 10 lan tcp $VIP 8082 "web2 9003 198.51.100.10"); then
  pass "forward add web2:9003 8082 passes traffic after $took s (virtnat returned after $t_return s)"
  timing "forward add on a live network: virtnat returns (--wait=hv)" "$t_return"
  timing "forward add on a live network: traffic passes" "$took"
else
  fail "forward add web2:9003 8082 passes traffic" "$took" "$out"
fi
has_text "forward add changed the load balancer's VIPs and web2's ACL in place" "$out" "rows 2 changed"

# ------------------------------------------------------------------ a guest moves hv1 -> hv3

expect_value "control: web1's port is bound on hv1 before the move" "$(ovn_lab_chassis_of "${OVN_LAB_IFACE_IDS[fleet-web1]}")" hv1
T0=$(_ovn_lab_now)
ovn_lab_move_guest fleet-web1 hv1 hv3
if took=$(wait_answer 15 lan tcp $VIP 8080 "web1 80 198.51.100.10"); then
  pass "web1 moved hv1 -> hv3: its forward $VIP:8080 reaches it again after $took s"
  timing "guest move hv1 -> hv3 until its forward passes" "$took"
else
  fail "web1 moved hv1 -> hv3 keeps its forward" "$took"
fi
answer lan udp $VIP 8053 "web1 53 198.51.100.10" "web1 on hv3: its UDP forward passes"
answer lan/198.51.100.10 tcp $VIP 2222 "web1 22 198.51.100.10" "web1 on hv3: the allowlisted forward passes 198.51.100.10"
no_answer lan/198.51.100.11 tcp $VIP 2222 "web1 on hv3: the allowlist still holds against 198.51.100.11"
has_text "status: web1's port is up on hv3 now" "$(vn status)" "port fleet-web1 (web1 10.99.0.11): up on hv3"

# ------------------------------------------------------------------ gateway failover

# Faster detection for the uplink-cut case is NB_Global's BFD timers; a graceful stop (what
# stopping the service does) takes hv1 out of SB at once.
T0=$(_ovn_lab_now)
answer lan tcp $VIP 8081 "web2 80 198.51.100.10" "control: the forward passes through hv1 before the failure"
T0=$(_ovn_lab_now)
ovn_lab_stop_chassis hv1 controller
fwd_ok="" snat_ok="" sb_ok=""
while :; do
  [ -z "$fwd_ok" ] && [ "$(connect lan tcp $VIP 8081 200)" = "web2 80 198.51.100.10" ] && fwd_ok=$(_ovn_lab_since "$T0")
  [ -z "$snat_ok" ] && [ "$(connect g-fleet-web2 tcp 198.51.100.10 7000 200)" = "lan 7000 $VIP" ] && snat_ok=$(_ovn_lab_since "$T0")
  [ -z "$sb_ok" ] && [ "$(ovn_lab_chassis_of cr-fleet.lr.ext)" = hv2 ] && sb_ok=$(_ovn_lab_since "$T0")
  [ -n "$fwd_ok" ] && [ -n "$snat_ok" ] && [ -n "$sb_ok" ] && break
  seconds_over "$(_ovn_lab_since "$T0")" 20 && break
  sleep 0.02
done
if [ -n "$fwd_ok" ] && [ -n "$snat_ok" ] && [ -n "$sb_ok" ] && ! seconds_over "$fwd_ok" 10 && ! seconds_over "$snat_ok" 10; then
  pass "hv1's ovn-controller stopped: hv2 takes over (SB $sb_ok s), forward after $fwd_ok s, SNAT after $snat_ok s (limit 10 s)"
  timing "failover (ovn-controller stopped): SB active gateway hv2" "$sb_ok"
  timing "failover (ovn-controller stopped): forward passes again" "$fwd_ok"
  timing "failover (ovn-controller stopped): SNAT passes again" "$snat_ok"
else
  fail "hv1's ovn-controller stopped: hv2 takes over within 10 s" \
    "SB ${sb_ok:-never}, forward ${fwd_ok:-never}, SNAT ${snat_ok:-never}"
fi
status=$(vn status)
has_text "status names hv2 the active gateway" "$status" "up, gateway hv2"
answer lan tcp $VIP 8080 "web1 80 198.51.100.10" "after failover: LAN -> $VIP:8080 reaches web1 (hv3)"
answer lan udp $VIP 8053 "web1 53 198.51.100.10" "after failover: udp forward passes"
answer lan tcp $VIP 9001 "web2 9001 198.51.100.10" "after failover: the range passes"
no_answer lan/198.51.100.11 tcp $VIP 2222 "after failover: the allowlist holds"
answer g-fleet-web2 tcp $VIP 8080 "web1 80 10.99.0.12" "after failover: hairpin"

T0=$(_ovn_lab_now)
ovn_lab_start_chassis hv1
back=""
for _ in $(seq 1 150); do
  if [ "$(ovn_lab_chassis_of cr-fleet.lr.ext)" = hv1 ] && [ "$(connect lan tcp $VIP 8081 300)" = "web2 80 198.51.100.10" ]; then
    back=$(_ovn_lab_since "$T0")
    break
  fi
  sleep 0.1
done
if [ -n "$back" ]; then
  pass "hv1 back: the active gateway again (priority 20), the forward passes ($back s)"
  timing "failback: hv1 active and the forward passes" "$back"
else
  fail "hv1 back: the active gateway again" "active: $(ovn_lab_chassis_of cr-fleet.lr.ext)"
fi

# ------------------------------------------------------------------ apply again, down

nb_dump "$WORK_DIR/nb-later.txt"
out=$(vn apply 2>&1)
has_text "after all that, apply still changes nothing" "$out" "no change: OVN northbound already matches the config"
nb_dump "$WORK_DIR/nb-later-again.txt"
check_same "apply after failover and a move: NB is byte-identical" "$WORK_DIR/nb-later.txt" "$WORK_DIR/nb-later-again.txt"

T0=$(_ovn_lab_now)
out=$(vn down 2>&1)
took=$(_ovn_lab_since "$T0")
has_text "down removes virtnat's rows in one transaction ($took s)" "$out" "removed virtnat's rows from OVN northbound (networks fleet)"
timing "down" "$took"
nb_dump "$WORK_DIR/nb-after.txt"
check_same "down: NB is exactly as before apply (the foreign switch, load balancer, address set stay)" \
  "$WORK_DIR/nb-before.txt" "$WORK_DIR/nb-after.txt"
expect_value "down: no row with virtnat=1 is left" "$(virtnat_rows)" 0
no_answer lan tcp $VIP 8080 "down: $VIP:8080 reaches nobody"
has_text "status after down: the network is not in OVN" "$(vn status)" "down: not in OVN"

note "timings:"
for t in "${TIMINGS[@]}"; do note "  $t"; done
note "total: $(_ovn_lab_since "$T_START") s"
finish
