#!/bin/bash
# IPv6 in the lab (issue 14): the dual-stack contract proven with real TCP and UDP between
# namespaces, each "gets nothing" beside a control that shows the same probe can get through.
#   bash tests/lab/test_ipv6.sh BUILD_DIR
#   LAB6_SETUP_ONLY=1 bash tests/lab/test_ipv6.sh BUILD_DIR   # topology and controls only
#
# The lab (lab/lab.sh) is made dual-stack by lib.sh's lab6_setup: the LAN 2001:db8:100::/64
# (host 2001:db8:100::1 = public_address6, and ::2; c1 ::10, c2 ::20), nbr0 fd00:1:1::/64
# (g1 lxdev01 fd00:1:1::28 explicit, g2 lxdev02 fd00:1:1::1d derived from 10.1.1.29). The test
# adds, inside the lab's host namespace, a nat network with nat6 = false (nbr1,
# 2001:db8:202::/64, guest g3) and an isolated network (nbr2, fd00:3:3::/64, guest g4), all
# provider external. c1 routes fd00::/8 and 2001:db8:202::/64 via the host, so a "nothing"
# below is never just a missing route.
#   A. forwards over IPv6: TCP, UDP, a range, both families by default, listen "*", an
#      IPv6-only listen (opens no IPv4), allowlists per family (an IPv4-only list closes IPv6)
#   B. egress: NAT66 (the LAN sees the host's address) and routed with nat6 = false (the LAN
#      sees the guest's own address); no direct inbound to nat guests
#   C. hairpin and host-originated over IPv6; D. the isolated network over IPv6
#   E. forward add / remove of IPv6 forwards (and the end of an open UDP flow)
#   F. a second apply changes nothing; status counts IPv6 packets; down leaves no table
#   G. a standalone dual-stack network: virtnat's dnsmasq hands out DHCPv6 addresses to real
#      `dhclient -6` clients (a static host by MAC, a derived one, a dynamic one from
#      dhcp_range6), sends router advertisements, answers AAAA; its guests reach the LAN
#      masqueraded.
# shellcheck disable=SC2317 # helpers called indirectly (the EXIT trap)
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"

T0=$EPOCHREALTIME
for tool in busybox /usr/sbin/dnsmasq bridge dhclient; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "Bail out! $tool is missing (scripts/install-deps installs it)"
    echo "0 passed, 1 failed"
    exit 1
  fi
done

lab_start

# dnsmasq drops root to user dnsmasq and then reads its hosts files: let it into the folder.
chmod 0755 "$WORK_DIR"
export VIRTNAT_LIB_DIR="$WORK_DIR/lib"
export VIRTNAT_RUN_DIR="$WORK_DIR/run"

PUB=198.51.100.1
PUB6=$LAB6_PUB
PUB6B=$LAB6_PUB2
C1=$LAB6_C1
G1=$LAB6_G1
G2=$LAB6_G2
G3="$LAB_PREFIX-g3"
G3_6=2001:db8:202::1e # lxr6: derived from 10.2.2.30
G3_GW6=2001:db8:202::1
G4="$LAB_PREFIX-g4"
G4_6=fd00:3:3::28
G4_GW6=fd00:3:3::1
SA_NET=sa6
SA_BRIDGE=vsbr6
SA_GW6=fd00:5:5::1
SA_GUESTS=("$LAB_PREFIX-sg1" "$LAB_PREFIX-sg2" "$LAB_PREFIX-sg3")

ipv6_cleanup() {
  delete_namespaces "$G3" "$G4" "${SA_GUESTS[@]}"
  lab_cleanup # ends dnsmasq and every other process of the lab's host namespace
}
trap ipv6_cleanup EXIT

# add_guest NS HOSTIF MAC [BRIDGE ADDR4/PREFIX GW4 ADDR6/PREFIX GW6]: a guest namespace whose
# eth0 (MAC, no duplicate-address detection, a router solicitation every second) has its peer HOSTIF in the lab's host namespace,
# enslaved to BRIDGE when given, with both families' addresses and default routes.
add_guest() {
  local ns=$1 hostif=$2 mac=$3 bridge=${4:-}
  ip netns add "$ns" && no_dad "$ns" && fast_rs "$ns" &&
    ip -n "$ns" link set lo up &&
    ip -n "$HOST_NS" link add "$hostif" type veth peer name eth0 netns "$ns" &&
    ip -n "$ns" link set eth0 address "$mac" &&
    ip -n "$ns" link set eth0 up || return 1
  [ -n "$bridge" ] || return 0
  ip -n "$HOST_NS" link set "$hostif" master "$bridge" && ip -n "$HOST_NS" link set "$hostif" up &&
    ip -n "$ns" addr add "$5" dev eth0 && ip -n "$ns" route add default via "$6" &&
    addr6_add "$ns" eth0 "$7" && ip -n "$ns" -6 route add default via "$8"
}

# expect_none NODE PROTO ADDR PORT DESCRIPTION: nothing answers (timeout, refused or
# unreachable); a reply of any server is a failure.
expect_none() { expect_no_reply "$1" "$2" "$3" "$4" any "$5"; }

# in_range6 ADDRESS: inside fd00:5:5::100-fd00:5:5::1ff (dhcp_range6 of the standalone network).
in_range6() {
  [[ "$1" =~ ^fd00:5:5::([0-9a-f]{3})$ ]] || return 1
  local value=$((16#${BASH_REMATCH[1]}))
  [ "$value" -ge 256 ] && [ "$value" -le 511 ]
}

# ================================================================== the dual-stack lab
note "set-up: the lab dual-stack; networks routed6 (nbr1, nat6 = false) and iso (nbr2); routes on c1"
setup_ok=1
lab6_setup || setup_ok=0
for spec in "nbr1 10.2.2.1/24 $G3_GW6/64" "nbr2 10.3.3.1/24 $G4_GW6/64"; do
  read -r br addr addr6 <<<"$spec"
  ip -n "$HOST_NS" link add "$br" type bridge &&
    ip -n "$HOST_NS" link set "$br" up &&
    ip -n "$HOST_NS" addr add "$addr" dev "$br" &&
    addr6_add host "$br" "$addr6" || setup_ok=0
done
add_guest "$G3" vg3 02:ff:0a:02:02:1e nbr1 10.2.2.30/24 10.2.2.1 "$G3_6/64" "$G3_GW6" || setup_ok=0
add_guest "$G4" vg4 02:ff:0a:03:03:28 nbr2 10.3.3.40/24 10.3.3.1 "$G4_6/64" "$G4_GW6" || setup_ok=0
in_ns c1 ip -6 route add fd00::/8 via "$PUB6" || setup_ok=0
in_ns c1 ip -6 route add 2001:db8:202::/64 via "$PUB6" || setup_ok=0
wait_dad host "$G3" "$G4" || setup_ok=0
note "br_netfilter in the host namespace (bridge-nf-call-ip6tables; LAB_BR_NETFILTER=0|1 pins it): $(in_ns host cat /proc/sys/net/bridge/bridge-nf-call-ip6tables 2>/dev/null || echo 'not loaded')"
if [ $setup_ok = 1 ]; then
  pass "dual-stack lab, extra bridges, guests and c1's routes are in place"
else
  fail "dual-stack lab, extra bridges, guests and c1's routes are in place" \
    "$(for n in host g1 g2 c1 "$G3" "$G4"; do echo "== $n"; ip -n "$(node_ns "$n")" -br addr; done)"
  finish
fi

# Guests answer "NAME PORT PEERADDR" on both families; the IPv4 servers show that an
# IPv6-only forward opens nothing on IPv4.
start_server46 g1 lxdev01 --tcp 22,23,9000-9002 --udp 53
start_server46 g2 lxdev02 --tcp 22,80 --udp 53
start_server46 "$G3" lxr6 --tcp 22
start_server46 "$G4" lxiso --tcp 22
start_server46 c1 c1 --tcp 7000 --udp 7000
start_server46 host hostsrv --tcp 7100

# ================================================================== controls before apply
note "controls: before virtnat applies anything the kernel routes IPv6 everywhere"
expect_exact host "$C1" 7000 "c1 7000 $PUB6" "control: the host reaches c1 from $PUB6 (its IPv6 source address on the LAN)"
expect_exact c1 "$G1" 22 "lxdev01 22 $C1" "control: c1 (routed via the host) reaches lxdev01 [$G1]:22 directly"
expect_exact c1 "$G1" 23 "lxdev01 23 $C1" "control: c1 (routed) reaches lxdev01's unforwarded port 23"
expect_exact c1 "$G1" 53 "lxdev01 53 $C1" "control: c1 (routed) reaches lxdev01's udp 53" udp
expect_exact g1 "$C1" 7000 "c1 7000 $G1" "control: lxdev01 -> c1 is not masqueraded without virtnat (c1 sees $G1)"
expect_exact g2 "$C1" 7000 "c1 7000 $G2" "control: lxdev02 -> c1 udp is not masqueraded without virtnat" udp
expect_exact "$G3" "$C1" 7000 "c1 7000 $G3_6" "control: g3 (routed6) -> c1, c1 sees $G3_6"
expect_exact "$G4" "$C1" 7000 "c1 7000 $G4_6" "control: g4 (iso) reaches c1 on the LAN"
expect_exact "$G4" "$G1" 22 "lxdev01 22 $G4_6" "control: g4 (iso) reaches lxdev01"
expect_exact g1 "$G4_6" 22 "lxiso 22 $G1" "control: lxdev01 reaches g4 (iso)"
expect_exact "$G3" "$G4_6" 22 "lxiso 22 $G3_6" "control: g3 (routed6) reaches g4 (iso)"
expect_none c1 tcp "$PUB6" 2222 "control: without virtnat, [$PUB6]:2222 reaches no guest"
expect_none c1 udp "$PUB6" 5353 "control: without virtnat, udp [$PUB6]:5353 reaches no guest"

if [ -n "${LAB6_SETUP_ONLY:-}" ]; then
  note "LAB6_SETUP_ONLY: the topology and the controls only ($(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s)"
  finish
fi

# ================================================================== bad input
note "bad input: one line FILE:LINE: field: message, exit 2, nothing changed"
mkdir -p "$WORK_DIR/bad"
cat >"$WORK_DIR/bad/listen6-to-v4-only.toml" <<EOF
[settings]
table = "$TABLE"
public_address = "$PUB"
vm_lifecycle = "ignore"

[[network]]
name = "v4only"
mode = "nat"
provider = "external"
bridge = "nbr0"
address = "10.1.1.1/24"

[[network.host]]
name = "lxdev01"
address = "10.1.1.28"

[[forward]]
host = "lxdev01"
port = "2222"
to_port = "22"
listen = "$PUB6"
EOF
expect_refused "an IPv6 listen to a host without IPv6 (no NAT46) is bad input, naming forward[0]" \
  "$WORK_DIR/bad/listen6-to-v4-only.toml" "listen6-to-v4-only\.toml:[0-9]+: forward\[0\]\.[a-z_]+: .*([Ii][Pp]v6|address6|NAT46)"
cat >"$WORK_DIR/bad/prefix48.toml" <<EOF
[settings]
table = "$TABLE"
public_address = "$PUB"
vm_lifecycle = "ignore"

[[network]]
name = "wide"
mode = "nat"
provider = "external"
bridge = "nbr0"
address = "10.1.1.1/24"
address6 = "fd00:1::1/48"
EOF
expect_refused "an address6 prefix of /48 (not 64-126) is bad input, naming network[0].address6" \
  "$WORK_DIR/bad/prefix48.toml" "prefix48\.toml:[0-9]+: network\[0\]\.address6: .*(64|prefix)"
if nft_host list table inet "$TABLE" >/dev/null 2>&1; then
  fail "the refused configs installed no table"
else
  pass "the refused configs installed no table"
fi

# ================================================================== apply
ruleset_before="$WORK_DIR/ruleset-before"
nft_host -s list ruleset >"$ruleset_before"
cat >"$CONFIG" <<EOF
[settings]
table = "$TABLE"
public_address = "$PUB"
public_address6 = "$PUB6"
vm_lifecycle = "ignore"

[[network]]
name = "nat_bridge"
mode = "nat"
provider = "external"
bridge = "nbr0"
address = "10.1.1.1/24"
address6 = "$LAB6_GW/64"
domain = "devops.test"

[[network.host]]
name = "lxdev01"
address = "10.1.1.28"
address6 = "$G1"
mac = "02:FF:0A:0A:06:1C"

[[network.host]]
name = "lxdev02"
address = "10.1.1.29"
mac = "02:FF:0A:0A:06:1D"

[[network]]
name = "routed6"
mode = "nat"
nat6 = false
provider = "external"
bridge = "nbr1"
address = "10.2.2.1/24"
address6 = "$G3_GW6/64"

[[network.host]]
name = "lxr6"
address = "10.2.2.30"
mac = "02:FF:0A:02:02:1E"

[[network]]
name = "iso"
mode = "isolated"
provider = "external"
bridge = "nbr2"
address = "10.3.3.1/24"
address6 = "$G4_GW6/64"

[[network.host]]
name = "lxiso"
address = "10.3.3.40"
address6 = "$G4_6"
mac = "02:FF:0A:03:03:28"

[[forward]]
host = "lxdev01"
port = "2222"
to_port = "22"
description = "no listen: public_address and public_address6"

[[forward]]
host = "lxdev01"
port = "8000-8002"
to_port = "9000-9002"
description = "a range, port by port"

[[forward]]
host = "lxdev02"
protocol = "udp"
port = "5353"
to_port = "53"
description = "udp"

[[forward]]
host = "lxdev02"
port = "2223"
to_port = "22"
source = ["$C1/128", "198.51.100.10/32"]
description = "allowlist of both families: c1 only"

[[forward]]
host = "lxdev02"
port = "2225"
to_port = "22"
source = ["198.51.100.0/24"]
description = "an IPv4-only allowlist closes IPv6"

[[forward]]
host = "lxdev01"
port = "2226"
to_port = "22"
listen = "$PUB6"
description = "IPv6-only listen"

[[forward]]
host = "lxdev02"
port = "2224"
to_port = "22"
listen = "*"
description = "every local address of both families"
EOF
note "check and apply the dual-stack config"
check "virtnat check accepts the dual-stack config" virtnat check
check "virtnat apply installs it" virtnat apply
check "table inet $TABLE exists after apply" nft_host list table inet "$TABLE"

# ================================================================== A. forwards over IPv6
note "A. forwards over IPv6"
expect_exact c1 "$PUB6" 2222 "lxdev01 22 $C1" "c1 -> [$PUB6]:2222 reaches lxdev01:22, which sees c1's address"
expect_exact c2 "$PUB6" 2222 "lxdev01 22 $LAB6_C2" "c2 -> [$PUB6]:2222 reaches lxdev01:22 too (no allowlist)"
expect_exact c1 "$PUB" 2222 "lxdev01 22 198.51.100.10" "the same forward on IPv4: c1 -> $PUB:2222 reaches lxdev01:22"
expect_reply c1 tcp "$PUB6" 8000 "lxdev01 9000 " "range: [$PUB6]:8000 -> lxdev01:9000"
expect_reply c1 tcp "$PUB6" 8001 "lxdev01 9001 " "range: [$PUB6]:8001 -> lxdev01:9001"
expect_reply c1 tcp "$PUB6" 8002 "lxdev01 9002 " "range: [$PUB6]:8002 -> lxdev01:9002"
expect_exact c1 "$PUB6" 5353 "lxdev02 53 $C1" "udp: c1 -> [$PUB6]:5353 reaches lxdev02:53 (IPv6 by the derived address)" udp
expect_none c1 udp "$PUB6" 2222 "a tcp-only forward does not take udp over IPv6"
expect_none c1 tcp "$PUB6B" 2222 "the forward does not answer on the host's other IPv6 address [$PUB6B]"
expect_exact c2 "$PUB6B" 2224 "lxdev02 22 $LAB6_C2" "control: listen \"*\" answers on [$PUB6B]:2224"
expect_exact c1 "$PUB6" 2224 "lxdev02 22 $C1" "listen \"*\": [$PUB6]:2224 reaches lxdev02:22"
expect_exact c1 "$PUB" 2224 "lxdev02 22 198.51.100.10" "listen \"*\": $PUB:2224 (IPv4) reaches lxdev02:22"
expect_exact c1 "$PUB6" 2226 "lxdev01 22 $C1" "IPv6-only listen: c1 -> [$PUB6]:2226 reaches lxdev01:22"
expect_none c1 tcp "$PUB" 2226 "IPv6-only listen opens no IPv4: c1 -> $PUB:2226 gets nothing"
expect_none c1 tcp 198.51.100.2 2226 "IPv6-only listen opens no IPv4: c1 -> 198.51.100.2:2226 gets nothing"
note "allowlists per family"
expect_exact c1 "$PUB6" 2223 "lxdev02 22 $C1" "allowlisted c1 (IPv6 source) -> [$PUB6]:2223 reaches lxdev02"
expect_none c2 tcp "$PUB6" 2223 "c2's IPv6 address is not on the list of 2223: it gets nothing"
expect_exact c1 "$PUB" 2223 "lxdev02 22 198.51.100.10" "allowlisted c1 (IPv4 source) -> $PUB:2223 reaches lxdev02"
expect_none c2 tcp "$PUB" 2223 "c2's IPv4 address is not on the list of 2223: it gets nothing"
expect_exact c1 "$PUB" 2225 "lxdev02 22 198.51.100.10" "control: the IPv4-only list of 2225 lets c1 in over IPv4"
expect_none c1 tcp "$PUB6" 2225 "an IPv4-only source list closes IPv6: c1 -> [$PUB6]:2225 gets nothing"

# ================================================================== B. egress, inbound
note "B. NAT66 and routed egress; no direct inbound to nat guests"
expect_exact g1 "$C1" 7000 "c1 7000 $PUB6" "NAT66: lxdev01 -> c1, the LAN sees the host's $PUB6"
expect_exact g2 "$C1" 7000 "c1 7000 $PUB6" "NAT66: lxdev02 -> c1 udp, the LAN sees $PUB6" udp
expect_exact g1 "$G2" 22 "lxdev02 22 $G1" "guest to guest on the bridge over IPv6: not masqueraded"
expect_exact "$G3" "$C1" 7000 "c1 7000 $G3_6" "nat6 = false: g3 -> c1 is routed, the LAN sees the guest's own $G3_6"
expect_exact "$G3" 198.51.100.10 7000 "c1 7000 $PUB" "control: nat6 = false leaves IPv4 masqueraded (c1 sees $PUB)"
expect_exact c1 "$PUB6" 2222 "lxdev01 22 $C1" "control: the DNATed port [$PUB6]:2222 reaches lxdev01"
expect_none c1 tcp "$G1" 22 "c1 routed straight to lxdev01 [$G1]:22 gets no new connection in"
expect_none c1 tcp "$G1" 23 "c1 routed straight to lxdev01's unforwarded port 23 gets nothing"
expect_none c1 udp "$G1" 53 "c1 routed straight to lxdev01's udp 53 gets nothing"
expect_none c1 tcp "$G2" 22 "c1 routed straight to lxdev02 [$G2]:22 gets nothing"

# ================================================================== C. hairpin, host
note "C. hairpin and host-originated over IPv6"
expect_reply g2 tcp "$PUB6" 2222 "lxdev01 22 " "hairpin: lxdev02 -> [$PUB6]:2222 reaches lxdev01 and gets the answer"
expect_reply g1 udp "$PUB6" 5353 "lxdev02 53 " "hairpin udp: lxdev01 -> [$PUB6]:5353 reaches lxdev02"
expect_reply host tcp "$PUB6" 2222 "lxdev01 22 " "from the host itself: [$PUB6]:2222 reaches lxdev01"
expect_reply host udp "$PUB6" 5353 "lxdev02 53 " "from the host itself: udp [$PUB6]:5353 reaches lxdev02"
expect_reply host tcp "$PUB6" 2226 "lxdev01 22 " "from the host itself: the IPv6-only [$PUB6]:2226 reaches lxdev01"

# ================================================================== D. isolated
note "D. the isolated network over IPv6"
expect_exact "$G4" "$G4_GW6" 7100 "hostsrv 7100 $G4_6" "control: g4 (iso) reaches the host's service on [$G4_GW6]"
expect_none "$G4" tcp "$C1" 7000 "g4 (iso) -> c1 on the LAN gets nothing over IPv6"
expect_none "$G4" tcp "$G1" 22 "g4 (iso) -> lxdev01 (nat_bridge) gets nothing over IPv6"
expect_none "$G4" tcp "$PUB6" 2222 "g4 (iso) -> the forward [$PUB6]:2222 gets nothing"
expect_none g1 tcp "$G4_6" 22 "lxdev01 -> g4 (iso) gets nothing over IPv6"
expect_none "$G3" tcp "$G4_6" 22 "g3 (routed6) -> g4 (iso) gets nothing over IPv6"
expect_none c1 tcp "$G4_6" 22 "c1 routed straight to g4 (iso) gets nothing"

# ================================================================== E. forward add/remove
note "E. forward add and remove over IPv6"
check "virtnat forward add lxdev02:80 8080 (both families)" virtnat forward add lxdev02:80 8080
expect_exact c1 "$PUB6" 8080 "lxdev02 80 $C1" "after forward add, c1 -> [$PUB6]:8080 reaches lxdev02:80"
expect_exact c1 "$PUB" 8080 "lxdev02 80 198.51.100.10" "the added forward (no --listen) opens IPv4 too: $PUB:8080 reaches lxdev02:80"
check "virtnat forward add lxdev01:23 8023 --listen $PUB6" virtnat forward add lxdev01:23 8023 --listen "$PUB6"
expect_exact c1 "$PUB6" 8023 "lxdev01 23 $C1" "after forward add --listen $PUB6, [$PUB6]:8023 reaches lxdev01:23"
expect_none c1 tcp "$PUB" 8023 "the added IPv6-only forward opens no IPv4: $PUB:8023 gets nothing"
check "virtnat forward add lxdev02:53 5354 --protocol udp" virtnat forward add lxdev02:53 5354 --protocol udp
check "udp [$PUB6]:5354 works from c1's source port 40000" peer_connect c1 udp "$PUB6" 5354 1500 --sport 40000
check "virtnat forward remove lxdev02:53 5354 --protocol udp" virtnat forward remove lxdev02:53 5354 --protocol udp
expect_none c1 udp "$PUB6" 5354 "after removing the udp forward, a new IPv6 flow to 5354 gets nothing"
if out=$(peer_connect c1 udp "$PUB6" 5354 1500 --sport 40000); then
  fail "after removing the udp forward, the old IPv6 flow (c1 port 40000) gets nothing" "got: $out"
else
  pass "after removing the udp forward, the old IPv6 flow (c1 port 40000) gets nothing (got: $out)"
fi
check "virtnat forward remove lxdev02:80 8080" virtnat forward remove lxdev02:80 8080
expect_none c1 tcp "$PUB6" 8080 "after forward remove, [$PUB6]:8080 is closed at once"
check "virtnat forward remove lxdev01:23 8023 --listen $PUB6" virtnat forward remove lxdev01:23 8023 --listen "$PUB6"
expect_none c1 tcp "$PUB6" 8023 "after forward remove, [$PUB6]:8023 is closed at once"
expect_exact c1 "$PUB6" 2222 "lxdev01 22 $C1" "control: after the removes, [$PUB6]:2222 still reaches lxdev01"

# ================================================================== F. idempotence, status, down
note "F. a second apply changes nothing; status; down"
check "virtnat apply (again)" virtnat apply
listed=0
check "list the table after apply" save_table "$WORK_DIR/table-1" && listed=$((listed + 1))
check "virtnat apply (once more)" virtnat apply
check "list the table after the second apply" save_table "$WORK_DIR/table-2" && listed=$((listed + 1))
if [ $listed = 2 ]; then
  check_same "a second apply leaves nft -s list table inet $TABLE byte-identical" "$WORK_DIR/table-1" "$WORK_DIR/table-2"
  has_match "the table holds IPv6 rules (ip6 addresses of the config)" "$WORK_DIR/table-1" "$PUB6|$G1"
else
  fail "a second apply leaves nft -s list table inet $TABLE byte-identical" "the table could not be listed"
fi
check "use the IPv6-only forward 2226 before status" peer_connect c1 tcp "$PUB6" 2226
if virtnat status --json >"$WORK_DIR/status.json" 2>"$WORK_DIR/status.err"; then
  packets=$(forward_packets "$WORK_DIR/status.json" 2226)
  if [ -n "$packets" ] && [ "$packets" -gt 0 ] 2>/dev/null; then
    pass "status --json counts packets of the used IPv6-only forward 2226 ($packets)"
  else
    fail "status --json counts packets of the used IPv6-only forward 2226" "packets: '$packets'" "$(head -c 3000 "$WORK_DIR/status.json")"
  fi
else
  fail "virtnat status --json" "$(cat "$WORK_DIR/status.err")"
fi
check "virtnat down" virtnat down
if nft_host list table inet "$TABLE" >/dev/null 2>&1; then
  fail "after down there is no table inet $TABLE"
else
  pass "after down there is no table inet $TABLE"
fi
nft_host -s list ruleset >"$WORK_DIR/ruleset-after"
check_same "after down the host's ruleset is what it was before the first apply" "$ruleset_before" "$WORK_DIR/ruleset-after"
expect_none c1 tcp "$PUB6" 2222 "after down, [$PUB6]:2222 no longer reaches a guest"

# ================================================================== G. standalone
note "G. a standalone dual-stack network: DHCPv6, router advertisements, AAAA"
cat >"$CONFIG" <<EOF
[settings]
table = "$TABLE"
public_address = "$PUB"
public_address6 = "$PUB6"
vm_lifecycle = "ignore"

[[network]]
name = "$SA_NET"
mode = "nat"
provider = "standalone"
bridge = "$SA_BRIDGE"
address = "10.5.5.1/24"
dhcp_range = "10.5.5.100-10.5.5.150"
address6 = "$SA_GW6/64"
dhcp_range6 = "fd00:5:5::100-fd00:5:5::1ff"
domain = "sa6.test"

[[network.host]]
name = "lxsa01"
address = "10.5.5.28"
address6 = "fd00:5:5::28"
mac = "02:FF:0A:05:05:1C"

[[network.host]]
name = "lxsa02"
address = "10.5.5.29"
mac = "02:FF:0A:05:05:1D"
EOF
setup_ok=1
add_guest "${SA_GUESTS[0]}" vsg1 02:ff:0a:05:05:1c || setup_ok=0 # lxsa01's MAC
add_guest "${SA_GUESTS[1]}" vsg2 02:ff:0a:05:05:99 || setup_ok=0 # unknown
add_guest "${SA_GUESTS[2]}" vsg3 02:ff:0a:05:05:1d || setup_ok=0 # lxsa02's MAC
if [ $setup_ok = 1 ]; then pass "standalone guests sg1, sg2, sg3 made"; else fail "standalone guests sg1, sg2, sg3 made"; fi
expect_value "control: before apply sg1 has no IPv6 default route from a router advertisement" "$(ra_default_route "${SA_GUESTS[0]}")" ""
out=$(virtnat apply 2>&1)
rc=$?
if [ $rc -eq 0 ] && [[ "$out" == *"dnsmasq started"* ]]; then
  pass "virtnat apply creates $SA_BRIDGE and starts dnsmasq"
else
  fail "virtnat apply creates $SA_BRIDGE and starts dnsmasq" "exit $rc" "$out"
fi
if ip -n "$HOST_NS" -6 -br addr show dev "$SA_BRIDGE" 2>/dev/null | grep_q "$SA_GW6/64"; then
  pass "$SA_GW6/64 is on $SA_BRIDGE"
else
  fail "$SA_GW6/64 is on $SA_BRIDGE" "$(ip -n "$HOST_NS" -br addr 2>&1)"
fi
for i in 1 2 3; do # plugged side by side: STP lets each new port listen and learn first
  ip -n "$HOST_NS" link set "vsg$i" master "$SA_BRIDGE" && ip -n "$HOST_NS" link set "vsg$i" up
done
for i in 1 2 3; do
  if wait_bridge_port "vsg$i"; then
    pass "sg$i is plugged into $SA_BRIDGE (the port forwards)"
  else
    fail "sg$i is plugged into $SA_BRIDGE (the port forwards)" "$(bridge -n "$HOST_NS" link show 2>&1)"
  fi
done

router=$(link_local "$SA_BRIDGE")
route=$(await_ra_default_route "${SA_GUESTS[0]}" 10)
if [ -n "$router" ] && [ "$route" = "$router dev eth0" ]; then
  pass "RA: sg1's default route is via the bridge's link-local address ($route)"
else
  fail "RA: sg1's default route is via the bridge's link-local address" "route: '$route', bridge link-local: '$router'" \
    "$(ip -n "${SA_GUESTS[0]}" -6 route 2>&1)"
fi

expect_value "DHCPv6: sg1 (lxsa01's MAC) gets exactly lxsa01's address6" "$(dhcp6 "${SA_GUESTS[0]}")" fd00:5:5::28
expect_value "DHCPv6: sg3 (lxsa02's MAC) gets lxsa02's derived address6 (10.5.5.29 -> ::1d)" "$(dhcp6 "${SA_GUESTS[2]}")" fd00:5:5::1d
addr2=$(dhcp6 "${SA_GUESTS[1]}")
if in_range6 "$addr2"; then
  pass "DHCPv6: an unknown MAC gets an address from dhcp_range6 ($addr2)"
else
  fail "DHCPv6: an unknown MAC gets an address from dhcp_range6" "got '$addr2'" "$(cat "$WORK_DIR/dhclient6-${SA_GUESTS[1]}/log" 2>&1)"
fi
expect_value "the LAN gets no DHCPv6 lease from the network's dnsmasq (c1)" "$(dhcp6 c1 3)" ""

expect_value "DNS: AAAA of lxsa01.sa6.test (static)" "$(resolve6 "${SA_GUESTS[1]}" lxsa01.sa6.test "$SA_GW6")" fd00:5:5::28
expect_value "DNS: AAAA of lxsa02.sa6.test (derived)" "$(resolve6 "${SA_GUESTS[1]}" lxsa02.sa6.test "$SA_GW6")" fd00:5:5::1d
expect_value "DNS: an unknown name of the domain has no AAAA" "$(resolve6 "${SA_GUESTS[1]}" nosuch.sa6.test "$SA_GW6")" ""
expect_exact "${SA_GUESTS[0]}" "$C1" 7000 "c1 7000 $PUB6" "sg1 (by DHCPv6 and RA) -> c1: NAT66, the LAN sees $PUB6"

check "virtnat network stop $SA_NET" virtnat network stop "$SA_NET"
check "virtnat down (standalone)" virtnat down
if nft_host list table inet "$TABLE" >/dev/null 2>&1; then
  fail "after the standalone network's down there is no table inet $TABLE"
else
  pass "after the standalone network's down there is no table inet $TABLE"
fi

note "total $(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s"
finish
