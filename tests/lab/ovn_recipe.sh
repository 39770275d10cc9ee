#!/bin/bash
# The manual OVN recipe for virtnat's provider "ovn" (issue 16), proven with real packets in the
# OVN fleet lab (lab/ovn.sh): what the provider will generate, written out by hand as ONE
# ovn-nbctl transaction, then checked. Not a test_*.sh: run it by hand (as root):
#
#   nice -n 10 bash tests/lab/ovn_recipe.sh BUILD_DIR      (BUILD_DIR holds vnpeer)
#
# OVN_LAB_KEEP=1 leaves the lab up afterwards (bash lab/ovn.sh down removes it; set
# OVN_LAB_DIR and OVN_LAB_PREFIX as printed). Output: "ok N - ..." / "not ok N - ...",
# "# " lines with details and timings, then "N passed, M failed".
#
# The network, as virtnat's config would say it:
#   [[network]] name = "fleet", provider = "ovn", mode = "nat", address = "10.99.0.1/24",
#     domain = "fleet.test", uplink = "physnet1", uplink_address = "198.51.100.50/24",
#     uplink_gateway = "198.51.100.254", gateway_chassis = ["hv1", "hv2"]
#   hosts web1 10.99.0.11 02:76:6e:0a:00:0b (on hv1, later moved to hv3),
#         web2 10.99.0.12 02:76:6e:0a:00:0c (on hv3)
#   forwards (listen 198.51.100.50): tcp 8080 -> web1:80, udp 8053 -> web1:53,
#     tcp 8081 -> web2:80, udp 8054 -> web2:53, tcp 9000-9002 -> web2:9000-9002,
#     tcp 2222 -> web1:22 with source = ["198.51.100.10/32"]

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh" "$1"
export OVN_LAB_DIR="${OVN_LAB_DIR:-/tmp/virtnat-ovn-recipe.$$}"
export OVN_LAB_PREFIX="${OVN_LAB_PREFIX:-vnor$$}"
# shellcheck source=lab/ovn.sh
source "$REPO_DIR/lab/ovn.sh"

NET=fleet
LR=fleet.lr                # infrastructure names: NETWORK + '.' + ...: never NETWORK-HOST
EXT=fleet.ext
LRP_INT=fleet.lr.int
LRP_EXT=fleet.lr.ext
MAC_INT=02:76:6e:00:00:01
MAC_EXT=02:76:6e:00:00:02
VIP=198.51.100.50
WEB1_MAC=02:76:6e:0a:00:0b
WEB2_MAC=02:76:6e:0a:00:0c
MARK=(external_ids:virtnat=1 "external_ids:virtnat-network=$NET")
NBDB="unix:$OVN_LAB_DIR/central/nb.sock"
TIMINGS=()

timing() { # WHAT SECONDS
  TIMINGS+=("$1: $2 s")
  note "timing: $1: $2 s"
}

SERVERS=()
recipe_cleanup() {
  local pid
  for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${SERVERS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -z "${OVN_LAB_KEEP:-}" ]; then
    ovn_lab_down >/dev/null 2>&1
  else
    echo "# lab kept: OVN_LAB_DIR=$OVN_LAB_DIR OVN_LAB_PREFIX=$OVN_LAB_PREFIX bash lab/ovn.sh down"
  fi
}

# serve NODE NAME ARGS...: a vnpeer server in an OVN lab node (lan, g-fleet-web1, ...).
serve() {
  local node=$1 name=$2 log
  shift 2
  log="$OVN_LAB_DIR/serve-$node-$name.log"
  ip netns exec "$(ovn_lab_ns "$node")" "$VNPEER" serve --name "$name" "$@" >"$log" 2>&1 &
  SERVERS+=($!)
  for _ in $(seq 1 50); do
    grep -q "^ready " "$log" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "Bail out! vnpeer $name in $node did not start: $(cat "$log")"
  exit 1
}

# connect NODE[/BIND] PROTO ADDR PORT [TIMEOUT_MS]: what vnpeer connect prints.
connect() {
  local node=${1%%/*} bind=() timeout=${5:-1500}
  [[ "$1" == */* ]] && bind=(--bind "${1#*/}")
  ip netns exec "$(ovn_lab_ns "$node")" "$VNPEER" connect "--$2" "$3" "$4" \
    --timeout-ms "$timeout" "${bind[@]}" 2>&1
}

# answer NODE PROTO ADDR PORT EXPECTED DESCRIPTION: exactly EXPECTED comes back.
answer() {
  local out
  out=$(connect "$1" "$2" "$3" "$4" 2000)
  if [ "$out" = "$5" ]; then pass "$6 (got: $out)"; else fail "$6" "expected '$5', got '$out'"; fi
}

# no_answer NODE PROTO ADDR PORT DESCRIPTION: nothing comes back (timeout, refused, unreachable).
no_answer() {
  local out
  out=$(connect "$1" "$2" "$3" "$4" 1500)
  case $out in
    timeout | refused | unreachable) pass "$5 (got: $out)" ;;
    *) fail "$5" "expected no answer, got '$out'" ;;
  esac
}

# wait_answer MAX_S NODE PROTO ADDR PORT EXPECTED: polls (300 ms probes) until EXPECTED comes
# back; prints the seconds it took; fails after MAX_S.
wait_answer() {
  local max=$1 t0 out
  shift
  t0=$(_ovn_lab_now)
  while :; do
    out=$(connect "$1" "$2" "$3" "$4" 300)
    if [ "$out" = "$5" ]; then
      _ovn_lab_since "$t0"
      return 0
    fi
    if [ "$(awk -v s="$(_ovn_lab_since "$t0")" -v m="$max" 'BEGIN { print (s > m) }')" = 1 ]; then
      echo "gave up after $max s (last: $out)"
      return 1
    fi
    sleep 0.05
  done
}

# nb_dump: every NB table but NB_Global (whose counters move), for before/after comparisons.
nb_dump() {
  local t
  for t in $(ovsdb-client list-tables "$NBDB" OVN_Northbound | tail -n +3 | grep -v '^NB_Global$'); do
    ovsdb-client dump "$NBDB" OVN_Northbound "$t"
  done
}

# ------------------------------------------------------------------ the lab

if [ "$(id -u)" -ne 0 ]; then
  echo "# needs root (network namespaces); skipped"
  exit 77
fi
for bin in ovn-nbctl ovn-northd ovn-controller ovs-vswitchd ethtool busybox "$VNPEER"; do
  if ! command -v "$bin" >/dev/null; then
    echo "Bail out! $bin is missing (scripts/install-deps; build vnpeer)"
    echo "0 passed, 1 failed"
    exit 1
  fi
done
trap recipe_cleanup EXIT
trap 'exit 130' INT TERM
T_START=$(_ovn_lab_now)

if ! ovn_lab_up; then
  echo "Bail out! lab/ovn.sh up failed"
  echo "0 passed, 1 failed"
  exit 1
fi
timing "lab up (central + 3 hypervisors + LAN)" "$(cat "$OVN_LAB_DIR/up.seconds")"

# Rows that are not virtnat's: they must survive everything below.
ovn_lab_nbctl ls-add other -- lsp-add other other-p1 -- lb-add other-lb 203.0.113.9:80 10.7.0.2:80 \
  -- create Address_Set name=other_set addresses=10.7.0.9 >/dev/null
nb_dump >"$OVN_LAB_DIR/nb-before.txt"

# Guests are plugged before the network exists (as a VM may start before apply).
ovn_lab_guest hv1 fleet-web1 "$WEB1_MAC"
ovn_lab_guest hv3 fleet-web2 "$WEB2_MAC"
serve lan lan --tcp 7000 --udp 7000
note "control: no network in OVN yet, so no DHCP answer"
if ovn_lab_dhcp fleet-web1 2 >/dev/null; then
  fail "control: web1 gets no lease before the network exists"
else
  pass "control: web1 gets no lease before the network exists"
fi

# ------------------------------------------------------------------ the recipe: one transaction

TXN=()
cmd() { TXN+=(-- "$@"); }

# network: DHCP options (static hosts only; mode nat)
cmd --id=@dhcp create DHCP_Options 'cidr="10.99.0.0/24"' \
  options:server_id=10.99.0.1 "options:server_mac=$MAC_INT" options:lease_time=3600 \
  options:router=10.99.0.1 'options:dns_server="{10.99.0.1}"' \
  'options:domain_name="\"fleet.test\""' options:mtu=1400 "${MARK[@]}"
# network: DNS records of the hosts (domain fleet.test)
cmd --id=@dns create DNS records:web1.fleet.test=10.99.0.11 records:web2.fleet.test=10.99.0.12 \
  "${MARK[@]}"
# hosts: one port NETWORK-HOST each, "MAC IP", with the network's DHCP options
cmd --id=@web1 create Logical_Switch_Port name=fleet-web1 "addresses=\"$WEB1_MAC 10.99.0.11\"" \
  dhcpv4_options=@dhcp "${MARK[@]}" external_ids:virtnat-host=web1
cmd --id=@web2 create Logical_Switch_Port name=fleet-web2 "addresses=\"$WEB2_MAC 10.99.0.12\"" \
  dhcpv4_options=@dhcp "${MARK[@]}" external_ids:virtnat-host=web2

# forwards: one load balancer per forward and protocol, one VIP per port (no ranges in OVN)
lb() { # ID NAME PROTO FORWARD_TEXT VIP=BACKEND...
  local id=$1 name=$2 proto=$3 text=$4 vips=() v
  shift 4
  for v in "$@"; do vips+=("vips:\"${v%%=*}\"=\"${v#*=}\""); done
  cmd "--id=@$id" create Load_Balancer "name=$name" "protocol=$proto" "${vips[@]}" \
    "${MARK[@]}" "external_ids:virtnat-forward=\"$text\""
}
lb lb1 fleet.fwd.tcp.8080 tcp "tcp $VIP:8080 -> web1:80" "$VIP:8080=10.99.0.11:80"
lb lb2 fleet.fwd.udp.8053 udp "udp $VIP:8053 -> web1:53" "$VIP:8053=10.99.0.11:53"
lb lb3 fleet.fwd.tcp.8081 tcp "tcp $VIP:8081 -> web2:80" "$VIP:8081=10.99.0.12:80"
lb lb4 fleet.fwd.udp.8054 udp "udp $VIP:8054 -> web2:53" "$VIP:8054=10.99.0.12:53"
lb lb5 fleet.fwd.tcp.9000-9002 tcp "tcp $VIP:9000-9002 -> web2:9000-9002" \
  "$VIP:9000=10.99.0.12:9000" "$VIP:9001=10.99.0.12:9001" "$VIP:9002=10.99.0.12:9002"
lb lb6 fleet.fwd.tcp.2222 tcp "tcp $VIP:2222 -> web1:22" "$VIP:2222=10.99.0.11:22"
LBS="[@lb1,@lb2,@lb3,@lb4,@lb5,@lb6]"
# Stateful ACLs on the switch, for what comes in from the router port (after the router's DNAT:
# backend address and port; the client's address is kept):
#   mode nat: nothing new from outside the subnet gets in (OVN would route it in otherwise) ...
#   ... but through a forward: allow-related per forward and protocol, its backend port or range;
#   an allowlist (source) narrows that ACL to an address set of the sources.
RP='inport == "fleet.int.rp"'
ACLS=()
acl() { # ID PRIORITY ACTION MATCH [FORWARD_TEXT]
  local m=${4//\"/\\\"} fwd=()
  [ -n "${5:-}" ] && fwd=("external_ids:virtnat-forward=\"$5\"")
  cmd "--id=@$1" create ACL direction=to-lport "priority=$2" "action=$3" "match=\"$m\"" \
    "${MARK[@]}" "${fwd[@]}"
  ACLS+=("@$1")
}
acl acl0 1000 drop "$RP && ip4 && ip4.src != 10.99.0.0/24"
acl acl1 1001 allow-related "$RP && ip4.dst == 10.99.0.11 && tcp.dst == 80" "tcp $VIP:8080 -> web1:80"
acl acl2 1001 allow-related "$RP && ip4.dst == 10.99.0.11 && udp.dst == 53" "udp $VIP:8053 -> web1:53"
acl acl3 1001 allow-related "$RP && ip4.dst == 10.99.0.12 && tcp.dst == 80" "tcp $VIP:8081 -> web2:80"
acl acl4 1001 allow-related "$RP && ip4.dst == 10.99.0.12 && udp.dst == 53" "udp $VIP:8054 -> web2:53"
acl acl5 1001 allow-related "$RP && ip4.dst == 10.99.0.12 && tcp.dst >= 9000 && tcp.dst <= 9002" \
  "tcp $VIP:9000-9002 -> web2:9000-9002"
cmd --id=@as6 create Address_Set name=vn_fleet_fwd_tcp_2222 'addresses="198.51.100.10/32"' \
  "${MARK[@]}" "external_ids:virtnat-forward=\"tcp $VIP:2222 -> web1:22\""
acl acl6 1001 allow-related "$RP && ip4.dst == 10.99.0.11 && tcp.dst == 22 && ip4.src == \$vn_fleet_fwd_tcp_2222" \
  "tcp $VIP:2222 -> web1:22"
ACLS_REF="[$(IFS=,; echo "${ACLS[*]}")]"

# network: the switch, its router port, the router, the gateway port on the provider network
cmd --id=@rp_int create Logical_Switch_Port name=fleet.int.rp type=router addresses=router \
  "options:router-port=$LRP_INT" "${MARK[@]}"
cmd --id=@ls create Logical_Switch "name=$NET" "ports=[@web1,@web2,@rp_int]" dns_records=@dns \
  "load_balancer=$LBS" "acls=$ACLS_REF" "${MARK[@]}"
cmd --id=@lrp_int create Logical_Router_Port "name=$LRP_INT" "mac=\"$MAC_INT\"" \
  'networks="10.99.0.1/24"' "${MARK[@]}"
# gateway chassis: one row per chassis, priority falling with the list order
cmd --id=@gc1 create Gateway_Chassis "name=$LRP_EXT-hv1" chassis_name=hv1 priority=20 "${MARK[@]}"
cmd --id=@gc2 create Gateway_Chassis "name=$LRP_EXT-hv2" chassis_name=hv2 priority=10 "${MARK[@]}"
cmd --id=@lrp_ext create Logical_Router_Port "name=$LRP_EXT" "mac=\"$MAC_EXT\"" \
  'networks="198.51.100.50/24"' "gateway_chassis=[@gc1,@gc2]" "${MARK[@]}"
cmd --id=@snat create NAT type=snat 'logical_ip="10.99.0.0/24"' 'external_ip="198.51.100.50"' "${MARK[@]}"
cmd --id=@route create Logical_Router_Static_Route 'ip_prefix="0.0.0.0/0"' 'nexthop="198.51.100.254"' \
  "${MARK[@]}"
cmd --id=@lr create Logical_Router "name=$LR" "ports=[@lrp_int,@lrp_ext]" nat=@snat \
  static_routes=@route "load_balancer=$LBS" "${MARK[@]}"
# the provider network: a switch with a localnet port (uplink) and the router's gateway port;
# nat-addresses=router sends gratuitous ARPs from the active gateway (the LAN learns failovers)
cmd --id=@rp_ext create Logical_Switch_Port name=fleet.ext.rp type=router addresses=router \
  "options:router-port=$LRP_EXT" options:nat-addresses=router "${MARK[@]}"
cmd --id=@ln create Logical_Switch_Port name=fleet.ext.localnet type=localnet addresses=unknown \
  options:network_name=physnet1 "${MARK[@]}"
cmd --id=@ext create Logical_Switch "name=$EXT" "ports=[@rp_ext,@ln]" "${MARK[@]}"

printf '%q ' ovn-nbctl --wait=hv "${TXN[@]}" >"$OVN_LAB_DIR/recipe-transaction.sh"
T0=$(_ovn_lab_now)
if out=$(ovn_lab_nbctl --wait=hv --timeout=30 "${TXN[@]}" 2>&1); then
  pass "the whole network in one ovn-nbctl transaction (--wait=hv: $(_ovn_lab_since "$T0") s)"
else
  fail "the whole network in one ovn-nbctl transaction" "$out"
  finish
fi
timing "apply of the network (one transaction, --wait=hv)" "$(_ovn_lab_since "$T0")"

# ------------------------------------------------------------------ DHCP and DNS

serve g-fleet-web1 web1 --tcp 80,22 --udp 53
serve g-fleet-web2 web2 --tcp 80,9000-9003 --udp 53
for g in web1 web2; do
  T0=$(_ovn_lab_now)
  lease=$(ovn_lab_dhcp fleet-$g 5)
  took=$(_ovn_lab_since "$T0")
  want="ip=10.99.0.1${g#web} mask=24 router=10.99.0.1 dns=10.99.0.1 domain=fleet.test mtu=1400"
  if [[ "$lease" == "$want"* ]]; then
    pass "$g gets its lease from OVN's DHCP in $took s ($lease)"
    timing "DHCP lease ($g)" "$took"
  else
    fail "$g gets its lease from OVN's DHCP" "expected: $want ..." "got: $lease"
  fi
done

dns() { ip netns exec "$(ovn_lab_ns g-fleet-web1)" busybox nslookup -type=a "$1" 10.99.0.1 2>&1; }
T0=$(_ovn_lab_now)
out=$(dns web2.fleet.test)
took=$(_ovn_lab_since "$T0")
if grep -A1 -F "web2.fleet.test" <<<"$out" | grep_q -F "Address: 10.99.0.12"; then
  pass "web2.fleet.test resolves to 10.99.0.12 from OVN's DNS table ($took s)"
else
  fail "web2.fleet.test resolves to 10.99.0.12" "$out"
fi
out=$(dns nothere.fleet.test)
if grep_q -F "Address: 10.99" <<<"$out"; then
  fail "control: nothere.fleet.test does not resolve" "$out"
else
  pass "control: nothere.fleet.test does not resolve ($(tr '\n' ' ' <<<"$out" | cut -c1-90))"
fi

# ------------------------------------------------------------------ SNAT egress

answer g-fleet-web1 tcp 198.51.100.10 7000 "lan 7000 $VIP" "web1 (hv1) -> LAN tcp: seen as $VIP (SNAT)"
answer g-fleet-web2 tcp 198.51.100.10 7000 "lan 7000 $VIP" "web2 (hv3, not a gateway) -> LAN tcp: seen as $VIP"
answer g-fleet-web2 udp 198.51.100.10 7000 "lan 7000 $VIP" "web2 -> LAN udp: seen as $VIP"
answer g-fleet-web1 tcp 203.0.113.1 7000 "lan 7000 $VIP" "web1 -> 203.0.113.1 (via the default route 198.51.100.254): seen as $VIP"

# ------------------------------------------------------------------ forwards

answer lan tcp $VIP 8080 "web1 80 198.51.100.10" "LAN -> tcp $VIP:8080 reaches web1:80, client address kept"
answer lan udp $VIP 8053 "web1 53 198.51.100.10" "LAN -> udp $VIP:8053 reaches web1:53"
answer lan tcp $VIP 8081 "web2 80 198.51.100.10" "LAN -> tcp $VIP:8081 reaches web2:80 (on hv3)"
answer lan udp $VIP 8054 "web2 53 198.51.100.10" "LAN -> udp $VIP:8054 reaches web2:53 (on hv3)"
for p in 9000 9001 9002; do
  answer lan tcp $VIP $p "web2 $p 198.51.100.10" "range: LAN -> tcp $VIP:$p reaches web2:$p"
done
no_answer lan tcp $VIP 9003 "control: $VIP:9003 (outside the range; web2 serves 9003) reaches nobody"
answer g-fleet-web2 tcp 10.99.0.12 9003 "web2 9003 10.99.0.12" "control: web2 does serve 9003"

# hairpin: guests reach the VIP too (the load balancers are on the switch as well)
answer g-fleet-web2 tcp $VIP 8080 "web1 80 10.99.0.12" "hairpin: web2 -> $VIP:8080 reaches web1"
answer g-fleet-web1 tcp $VIP 8080 "web1 80 $VIP" "hairpin: web1 -> $VIP:8080 reaches itself (source: the VIP)"
answer g-fleet-web1 udp $VIP 8054 "web2 53 10.99.0.11" "hairpin: web1 -> udp $VIP:8054 reaches web2"

# allowlist
answer lan/198.51.100.10 tcp $VIP 2222 "web1 22 198.51.100.10" "allowlist: 198.51.100.10 (listed) reaches $VIP:2222"
no_answer lan/198.51.100.11 tcp $VIP 2222 "allowlist: 198.51.100.11 (not listed) gets nothing from $VIP:2222"
answer lan/198.51.100.11 tcp $VIP 8080 "web1 80 198.51.100.11" "control: 198.51.100.11 reaches $VIP:8080 (no allowlist there)"
answer g-fleet-web2 tcp 10.99.0.11 22 "web1 22 10.99.0.12" "allowlist: web2 -> web1:22 inside the network is not affected"

# mode nat: a LAN client with a route to the subnet gets nothing new in but through forwards
ip -n "$(ovn_lab_ns lan)" route add 10.99.0.0/24 via $VIP
udp_in() { ip netns exec "$(ovn_lab_ns g-fleet-web1)" awk '/^Udp:/ { getline; print $2 + $3 }' /proc/net/snmp; }
before=$(udp_in)
for _ in 1 2 3; do connect lan udp 10.99.0.11 9999 200 >/dev/null; done
expect_value "mode nat: routed UDP from the LAN to web1:9999 (no forward) never reaches web1 (datagrams in)" "$(($(udp_in) - before))" 0
before=$(udp_in)
for _ in 1 2 3; do connect lan udp 10.99.0.11 53 200 >/dev/null; done
delta=$(($(udp_in) - before))
if [ "$delta" -ge 3 ]; then
  pass "control: routed UDP from the LAN to web1:53 (a forward's backend) does reach web1 ($delta datagrams in)"
else
  fail "control: routed UDP from the LAN to web1:53 (a forward's backend) does reach web1" "$delta datagrams in"
fi
ip -n "$(ovn_lab_ns lan)" route del 10.99.0.0/24 via $VIP

# a new forward (its load balancer and its ACL in one transaction): time until traffic passes
no_answer lan tcp $VIP 8082 "control: no forward on $VIP:8082 yet"
T0=$(_ovn_lab_now)
ovn_lab_nbctl -- --id=@lb create Load_Balancer name=fleet.fwd.tcp.8082 protocol=tcp \
  "vips:\"$VIP:8082\"=\"10.99.0.12:9003\"" "${MARK[@]}" \
  -- --id=@acl create ACL direction=to-lport priority=1001 action=allow-related \
  "match=\"inport == \\\"fleet.int.rp\\\" && ip4.dst == 10.99.0.12 && tcp.dst == 9003\"" "${MARK[@]}" \
  -- add Logical_Router $LR load_balancer @lb -- add Logical_Switch $NET load_balancer @lb \
  -- add Logical_Switch $NET acls @acl >/dev/null
t_return=$(_ovn_lab_since "$T0")
if took=$(wait_answer 10 lan tcp $VIP 8082 "web2 9003 198.51.100.10"); then
  took=$(_ovn_lab_since "$T0")
  pass "a new forward $VIP:8082 -> web2:9003 (no --wait) passes traffic after $took s (nbctl returned after $t_return s)"
  timing "new forward (1 VIP + 1 ACL): nbctl returns" "$t_return"
  timing "new forward (1 VIP + 1 ACL): traffic passes" "$took"
else
  fail "a new forward passes traffic" "$took"
fi

# ------------------------------------------------------------------ a guest moves hv1 -> hv3

chassis=$(ovn_lab_chassis_of fleet-web1)
expect_value "control: web1's port is bound on hv1 before the move" "$chassis" hv1
T0=$(_ovn_lab_now)
ovn_lab_move_guest fleet-web1 hv1 hv3
if took=$(wait_answer 15 lan tcp $VIP 8080 "web1 80 198.51.100.10"); then
  took=$(_ovn_lab_since "$T0")
  pass "web1 moved hv1 -> hv3: the forward $VIP:8080 reaches it again after $took s"
  timing "guest move hv1 -> hv3 until its forward passes" "$took"
else
  fail "web1 moved hv1 -> hv3 keeps its forward" "$took"
fi
expect_value "web1's port is bound on hv3 after the move" "$(ovn_lab_chassis_of fleet-web1)" hv3
answer g-fleet-web1 tcp 198.51.100.10 7000 "lan 7000 $VIP" "web1 on hv3 -> LAN: still SNATed to $VIP"
answer lan/198.51.100.10 tcp $VIP 2222 "web1 22 198.51.100.10" "web1 on hv3: the allowlisted forward still passes 198.51.100.10"
no_answer lan/198.51.100.11 tcp $VIP 2222 "web1 on hv3: the allowlist still holds against 198.51.100.11"

# ------------------------------------------------------------------ gateway failover

active_gw() { ovn_lab_chassis_of "cr-$LRP_EXT"; }
lan_fdb_port() { bridge -n "$(ovn_lab_ns lan)" fdb show br br0 | awk -v m="$MAC_EXT" '$1 == m { print $3 }'; }
bfd_up() { ovn_lab_appctl "$1" ovs-vswitchd bfd/show 2>/dev/null | grep -c "Local Session State: up"; }

expect_value "control: the active gateway chassis is hv1 (priority 20)" "$(active_gw)" hv1
note "BFD sessions up: hv1 $(bfd_up hv1), hv2 $(bfd_up hv2), hv3 $(bfd_up hv3); LAN learnt the router MAC on: $(lan_fdb_port)"

# failover_run WHAT MODE: stops hv1 in MODE, measures until forward and SNAT pass through hv2.
failover_run() {
  local what=$1 mode=$2 t0 t_fwd t_snat t_sb fwd_ok=0 snat_ok=0 sb_ok=0 out deadline=30 s
  answer lan tcp $VIP 8081 "web2 80 198.51.100.10" "[$what] control: the forward passes before the failure"
  t0=$(_ovn_lab_now)
  ovn_lab_stop_chassis hv1 "$mode"
  while :; do
    s=$(_ovn_lab_since "$t0")
    if [ $fwd_ok = 0 ] && [ "$(connect lan tcp $VIP 8081 200)" = "web2 80 198.51.100.10" ]; then
      fwd_ok=1 t_fwd=$(_ovn_lab_since "$t0")
    fi
    if [ $snat_ok = 0 ] && [ "$(connect g-fleet-web2 tcp 198.51.100.10 7000 200)" = "lan 7000 $VIP" ]; then
      snat_ok=1 t_snat=$(_ovn_lab_since "$t0")
    fi
    if [ $sb_ok = 0 ] && [ "$(active_gw)" = hv2 ]; then
      sb_ok=1 t_sb=$(_ovn_lab_since "$t0")
    fi
    [ $fwd_ok = 1 ] && [ $snat_ok = 1 ] && [ $sb_ok = 1 ] && break
    if [ "$(awk -v s="$s" -v m=$deadline 'BEGIN { print (s > m) }')" = 1 ]; then break; fi
    sleep 0.02
  done
  note "[$what] after the stop: forward ${t_fwd:-never} s, SNAT ${t_snat:-never} s, SB names hv2 ${t_sb:-never} s (BFD up on hv2: $(bfd_up hv2))"
  if [ $sb_ok = 1 ]; then
    pass "[$what] hv1 stopped ($mode): hv2 becomes the active gateway after $t_sb s"
    timing "failover [$what]: SB active gateway hv2" "$t_sb"
  else
    fail "[$what] hv1 stopped ($mode): hv2 becomes the active gateway" "active: $(active_gw)"
  fi
  if [ $fwd_ok = 1 ] && [ $snat_ok = 1 ]; then
    pass "[$what] forward and SNAT work again through hv2: forward after $t_fwd s, SNAT after $t_snat s"
    timing "failover [$what]: forward passes again" "$t_fwd"
    timing "failover [$what]: SNAT passes again" "$t_snat"
  else
    fail "[$what] forward and SNAT work again through hv2 within $deadline s" \
      "forward ${t_fwd:-never}, SNAT ${t_snat:-never}"
  fi
  expect_value "[$what] the LAN switch learnt the router's MAC on hv2's port (gratuitous ARP)" "$(lan_fdb_port)" hv2
  answer lan tcp $VIP 8080 "web1 80 198.51.100.10" "[$what] after failover: LAN -> $VIP:8080 reaches web1 (on hv3)"
  answer lan udp $VIP 8053 "web1 53 198.51.100.10" "[$what] after failover: LAN -> udp $VIP:8053 reaches web1"
  no_answer lan/198.51.100.11 tcp $VIP 2222 "[$what] after failover: the allowlist holds"

  # back: hv1 returns and takes over again (highest priority)
  t0=$(_ovn_lab_now)
  ovn_lab_start_chassis hv1
  local back=""
  for _ in $(seq 1 150); do
    if [ "$(active_gw)" = hv1 ] && [ "$(connect lan tcp $VIP 8081 300)" = "web2 80 198.51.100.10" ]; then
      back=$(_ovn_lab_since "$t0")
      break
    fi
    sleep 0.1
  done
  if [ -n "$back" ]; then
    pass "[$what] hv1 back: active gateway again, the forward passes ($back s; LAN learnt the MAC on: $(lan_fdb_port))"
    timing "failback [$what]: hv1 active and forward passes" "$back"
  else
    fail "[$what] hv1 back: active gateway again" "active: $(active_gw)"
  fi
  out=$(ovn_lab_nbctl --wait=hv --timeout=20 sync 2>&1) || fail "[$what] --wait=hv returns after hv1 is back" "$out"
}

# An ovn-controller that crashes (SIGKILL) leaves ovs-vswitchd running with its flows and BFD
# sessions: no failover is needed, traffic keeps flowing through hv1, but --wait=hv hangs.
ovn_lab_stop_chassis hv1 kill
sleep 2
expect_value "[ovn-controller killed] hv1 stays the active gateway (its BFD sessions live on)" "$(active_gw)" hv1
answer lan tcp $VIP 8081 "web2 80 198.51.100.10" "[ovn-controller killed] the forward still passes through hv1's datapath"
answer g-fleet-web2 tcp 198.51.100.10 7000 "lan 7000 $VIP" "[ovn-controller killed] SNAT still passes through hv1's datapath"
T0=$(_ovn_lab_now)
ovn_lab_nbctl --wait=hv --timeout=3 sync >/dev/null 2>&1
rc=$?
if [ $rc -ne 0 ]; then
  pass "[ovn-controller killed] ovn-nbctl --wait=hv --timeout=3 gives up (exit $rc after $(_ovn_lab_since "$T0") s): a dead chassis blocks --wait=hv"
else
  fail "[ovn-controller killed] --wait=hv cannot complete with a dead chassis" "it returned 0"
fi
ovn_lab_start_chassis hv1
if out=$(ovn_lab_nbctl --wait=hv --timeout=20 sync 2>&1); then
  pass "[ovn-controller killed] restarted: --wait=hv returns again"
else
  fail "[ovn-controller killed] restarted: --wait=hv returns again" "$out"
fi

failover_run "ovn-controller stopped (ovn-appctl exit, as the service stop does)" controller
failover_run "host crash (ovn-controller + ovs-vswitchd SIGKILL), BFD default 1000 ms x 3" host
# Faster detection: BFD timers of the tunnels (NB_Global options, copied to SB_Global).
ovn_lab_nbctl set NB_Global . options:bfd-min-rx=100 options:bfd-min-tx=100 options:bfd-mult=3
sleep 1
failover_run "uplink cut, BFD 100 ms x 3" uplink
ovn_lab_nbctl remove NB_Global . options bfd-min-rx bfd-min-tx bfd-mult

# ------------------------------------------------------------------ down: only virtnat's rows

DOWN=()
for table in Logical_Switch Logical_Router Load_Balancer DHCP_Options DNS Address_Set; do
  for uuid in $(ovn_lab_nbctl --bare --columns=_uuid find "$table" external_ids:virtnat=1); do
    DOWN+=(-- destroy "$table" "$uuid")
  done
done
note "down: ${#DOWN[@]} words, one transaction: destroy of every root row with external_ids:virtnat=1"
T0=$(_ovn_lab_now)
if out=$(ovn_lab_nbctl --wait=hv --timeout=30 "${DOWN[@]}" 2>&1); then
  pass "down: one transaction removes virtnat's rows ($(_ovn_lab_since "$T0") s)"
else
  fail "down: one transaction removes virtnat's rows" "$out"
fi
nb_dump >"$OVN_LAB_DIR/nb-after.txt"
check_same "down: NB is exactly as before (the foreign switch, LB and address set untouched)" \
  "$OVN_LAB_DIR/nb-before.txt" "$OVN_LAB_DIR/nb-after.txt"
left=$(ovn_lab_nbctl --bare --columns=_uuid find Logical_Switch_Port external_ids:virtnat=1; \
  ovn_lab_nbctl --bare --columns=_uuid find ACL external_ids:virtnat=1; \
  ovn_lab_nbctl --bare --columns=_uuid find NAT external_ids:virtnat=1)
expect_value "down: no child row with virtnat=1 is left" "$(echo -n "$left" | tr -d '\n')" ""
no_answer lan tcp $VIP 8080 "down: $VIP:8080 reaches nobody any more"

note "timings:"
for t in "${TIMINGS[@]}"; do note "  $t"; done
note "recipe total: $(_ovn_lab_since "$T_START") s"
finish
