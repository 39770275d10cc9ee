#!/bin/bash
# What must NOT get through, with real connections between namespaces:
#   bash tests/lab/test_isolation.sh BUILD_DIR
#
# Besides the lab's nat network (nbr0: g1 lxdev01, g2 lxdev02) the test makes, inside the
# lab's host namespace, a second nat network nat2 (nbr1, guest g3) and an isolated network
# iso (nbr2, guest g4), both provider external, and a standalone nat network svc (vsbr5,
# virtnat's own bridge and dnsmasq, guest g5 configured by DHCP). c1 gets a route to
# 10.0.0.0/8 through the host, so a "nothing" below is never just a missing route.
#   A. a guest's unforwarded ports, and guests straight, from the LAN
#   B. the ports of a stopped VM (vm_lifecycle = "libvirt"; start/stop through `virtnat hook`)
#   C. from the isolated network to the LAN, to the other networks, through forwards
#   D. between guests of two different networks (nat and nat, nat and standalone nat)
#   E. a forward on its listen address only
#   F. the host's own services: virtnat opens, hijacks and NATs nothing on the way to them
#      (same answers as before apply), none gets through an admin's input policy drop
#      beside virtnat's table while the forwards keep working, and the DNS of a served
#      network answers its own guests only
# Every "gets nothing" has a control: the same probe getting through before apply, or a
# probe in the same state that differs only in what is forbidden.
# shellcheck disable=SC2317 # helpers called indirectly (the EXIT trap, check)
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"

T0=$EPOCHREALTIME
for tool in busybox /usr/sbin/dnsmasq bridge; do
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
PUB2=198.51.100.2
G3="$LAB_PREFIX-g3"
G4="$LAB_PREFIX-g4"
G5="$LAB_PREFIX-g5"
EXTRA_NS=("$G3" "$G4" "$G5")

isolation_cleanup() {
  local ns pid
  for ns in "${EXTRA_NS[@]}"; do
    ns_exists "$ns" || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  lab_cleanup # ends dnsmasq and every other process of the lab's host namespace
}
trap isolation_cleanup EXIT

# ------------------------------------------------------------------ helpers

# add_guest NS HOSTIF MAC [BRIDGE ADDR/PREFIX GATEWAY]: a guest namespace whose eth0 (MAC) has
# its peer HOSTIF in the lab's host namespace, enslaved to BRIDGE when given.
add_guest() {
  local ns=$1 hostif=$2 mac=$3 bridge=${4:-} addr=${5:-} gw=${6:-}
  ip netns add "$ns" &&
    ip -n "$ns" link set lo up &&
    ip -n "$HOST_NS" link add "$hostif" type veth peer name eth0 netns "$ns" &&
    ip -n "$ns" link set eth0 address "$mac" &&
    ip -n "$ns" link set eth0 up || return 1
  if [ -n "$bridge" ]; then
    ip -n "$HOST_NS" link set "$hostif" master "$bridge" && ip -n "$HOST_NS" link set "$hostif" up || return 1
  fi
  if [ -n "$addr" ]; then
    ip -n "$ns" addr add "$addr" dev eth0 && ip -n "$ns" route add default via "$gw" || return 1
  fi
}

# port_forwarding HOSTIF: the bridge port forwards frames (STP lets a new port listen first).
port_forwarding() { bridge -n "$HOST_NS" link show dev "$1" 2>/dev/null | grep_q "state forwarding"; }
wait_port_forwarding() {
  local i
  for i in $(seq 1 150); do
    port_forwarding "$1" && return 0
    sleep 0.1
  done
  return 1
}

# expect_none NODE PROTO ADDR PORT DESCRIPTION: nothing answers (timeout, refused or
# unreachable); a reply of any server is a failure.
expect_none() { expect_no_reply "$1" "$2" "$3" "$4" any "$5"; }

# expect_exact NODE PROTO ADDR PORT EXPECTED DESCRIPTION: the reply is exactly EXPECTED.
expect_exact() {
  local out rc
  out=$(peer_connect "$1" "$2" "$3" "$4" 2000)
  rc=$?
  if [ $rc -eq 0 ] && [ "$out" = "$5" ]; then
    pass "$6 (got: $out)"
  else
    fail "$6" "vnpeer connect --$2 $3 $4 in $1" "expected exactly '$5', got: $out (exit $rc)"
  fi
}

# hook START|STOPPED DOMAIN MAC: what libvirt's qemu hook does when DOMAIN starts or stops.
hook() {
  local op=$1 name=$2 mac=$3
  [ "$op" = stopped ] && op="stopped end"
  [ "$op" = start ] && op="start begin"
  # shellcheck disable=SC2086 # op is two words on purpose
  printf "<domain type='kvm'><name>%s</name><devices><interface type='bridge'><mac address='%s'/></interface></devices></domain>\n" \
    "$name" "$mac" | virtnat hook qemu "$name" $op -
}

# dns NODE NAME SERVER: the IPv4 addresses busybox nslookup gets (UDP), one per line.
dns() {
  ip netns exec "$(node_ns "$1")" timeout 2 busybox nslookup -type=a "$2" "$3" 2>&1 |
    sed -n '/^Name:/,$p' | sed -n 's/^Address:[[:space:]]*\([0-9.]*\).*/\1/p'
}

# tcp_open NODE ADDR PORT: a TCP handshake to ADDR:PORT completes within 2 s.
tcp_open() {
  ip netns exec "$(node_ns "$1")" timeout 1.5 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}

# ------------------------------------------------------------------ the extra networks
note "set-up: networks nat2 (nbr1) and iso (nbr2) with guests g3 and g4; routes on c1"
setup_ok=1
for spec in "nbr1 10.2.2.1/24" "nbr2 10.3.3.1/24"; do
  read -r br addr <<<"$spec"
  ip -n "$HOST_NS" link add "$br" type bridge &&
    ip -n "$HOST_NS" link set "$br" up &&
    ip -n "$HOST_NS" addr add "$addr" dev "$br" || setup_ok=0
done
add_guest "$G3" vg3 02:ff:0a:02:02:1e nbr1 10.2.2.30/24 10.2.2.1 || setup_ok=0
add_guest "$G4" vg4 02:ff:0a:03:03:28 nbr2 10.3.3.40/24 10.3.3.1 || setup_ok=0
# g5 waits for the standalone bridge that apply makes; it gets its address by DHCP.
add_guest "$G5" vg5 02:ff:0a:05:05:32 || setup_ok=0
in_ns c1 ip route add 10.0.0.0/8 via "$PUB" || setup_ok=0
if [ $setup_ok = 1 ]; then pass "extra bridges, guests and c1's route are in place"; else
  fail "extra bridges, guests and c1's route are in place"
  finish
fi

start_server g1 lxdev01 --tcp 22,23,9000 --udp 53
start_server g2 lxdev02 --tcp 22
start_server "$G3" lxnat2 --tcp 22
start_server "$G4" lxiso --tcp 22
start_server c1 c1 --tcp 7000
# The host's own services: on every address, and one bound to nbr0's address only.
start_server host hostsvc --tcp 8080 --udp 5353
start_server host brsvc --tcp 8081 --bind 10.1.1.1

# The host-service probes of part F: "NODE PROTO ADDR PORT" each.
HOST_PROBES=(
  "c1 tcp $PUB 8080" "c1 tcp $PUB2 8080" "c1 udp $PUB 5353" "c1 tcp 10.1.1.1 8081" "c1 tcp 10.2.2.1 8080"
  "g1 tcp 10.1.1.1 8081" "g1 tcp $PUB 8080" "g1 udp 10.1.1.1 5353"
  "$G3 tcp 10.2.2.1 8080" "$G3 tcp 10.1.1.1 8081"
  "$G4 tcp 10.3.3.1 8080" "$G4 udp 10.3.3.1 5353" "$G4 tcp $PUB 8080"
)
# probe_all FILE: one line per probe, "PROBE => ANSWER" (the probes run side by side).
probe_all() {
  local p i=0 j pids=()
  for p in "${HOST_PROBES[@]}"; do
    # shellcheck disable=SC2086 # the probe is four words
    (echo "$p => $(peer_connect $p 1000)" >"$1.$i") &
    pids+=($!)
    i=$((i + 1))
  done
  wait "${pids[@]}"
  for ((j = 0; j < i; j++)); do cat "$1.$j"; done >"$1"
  for ((j = 0; j < i; j++)); do rm -f "$1.$j"; done
}

# ================================================================== controls before apply
note "controls: before virtnat applies anything the kernel routes everything"
expect_exact c1 tcp 10.1.1.28 23 "lxdev01 23 198.51.100.10" "control: c1 (routed) reaches lxdev01's unforwarded port 23"
expect_exact c1 tcp 10.2.2.30 22 "lxnat2 22 198.51.100.10" "control: c1 (routed) reaches g3 (nat2)"
expect_exact c1 tcp 10.3.3.40 22 "lxiso 22 198.51.100.10" "control: c1 (routed) reaches g4 (iso)"
expect_exact "$G4" tcp 198.51.100.10 7000 "c1 7000 10.3.3.40" "control: g4 (iso) reaches c1 on the LAN"
expect_exact "$G4" tcp 10.1.1.28 22 "lxdev01 22 10.3.3.40" "control: g4 (iso) reaches g1 (nat_bridge)"
expect_exact "$G4" tcp 10.2.2.30 22 "lxnat2 22 10.3.3.40" "control: g4 (iso) reaches g3 (nat2)"
expect_exact g1 tcp 10.3.3.40 22 "lxiso 22 10.1.1.28" "control: g1 reaches g4 (iso)"
expect_exact g1 tcp 10.2.2.30 22 "lxnat2 22 10.1.1.28" "control: g1 (nat_bridge) reaches g3 (nat2)"
expect_exact "$G3" tcp 10.1.1.28 22 "lxdev01 22 10.2.2.30" "control: g3 (nat2) reaches g1 (nat_bridge)"
expect_exact "$G3" tcp 10.1.1.29 22 "lxdev02 22 10.2.2.30" "control: g3 (nat2) reaches g2 (nat_bridge)"
probe_all "$WORK_DIR/host-probes-before"
if ! grep -q -E '=> (timeout|refused|unreachable|error)' "$WORK_DIR/host-probes-before"; then
  pass "control: every probe of the host's own services is answered before apply"
else
  fail "control: every probe of the host's own services is answered before apply" "$(cat "$WORK_DIR/host-probes-before")"
fi

# ================================================================== apply
cat >"$CONFIG" <<EOF
[settings]
table = "$TABLE"
public_address = "$PUB"
vm_lifecycle = "libvirt"
# No libvirt in this test: the running VMs come from the hook calls below.
libvirt_uri = "qemu+unix:///system?socket=/nonexistent/virtnat-test/libvirt-sock"

[[network]]
name = "nat_bridge"
mode = "nat"
provider = "external"
bridge = "nbr0"
address = "10.1.1.1/24"

[[network.host]]
name = "lxdev01"
address = "10.1.1.28"
mac = "02:FF:0A:0A:06:1C"

[[network.host]]
name = "lxdev02"
address = "10.1.1.29"
mac = "02:FF:0A:0A:06:1D"

[[network]]
name = "nat2"
mode = "nat"
provider = "external"
bridge = "nbr1"
address = "10.2.2.1/24"

[[network.host]]
name = "lxnat2"
address = "10.2.2.30"
mac = "02:FF:0A:02:02:1E"

[[network]]
name = "iso"
mode = "isolated"
provider = "external"
bridge = "nbr2"
address = "10.3.3.1/24"

[[network.host]]
name = "lxiso"
address = "10.3.3.40"
mac = "02:FF:0A:03:03:28"

[[network]]
name = "svc"
mode = "nat"
provider = "standalone"
bridge = "vsbr5"
address = "10.5.5.1/24"
dhcp_range = "10.5.5.100-10.5.5.150"
domain = "svc.test"

[[network.host]]
name = "lxsvc"
address = "10.5.5.50"
mac = "02:FF:0A:05:05:32"

[[forward]]
host = "lxdev01"
port = 2222
to_port = 22

[[forward]]
host = "lxdev01"
protocol = "udp"
port = 5300
to_port = 53

[[forward]]
host = "lxdev02"
port = 2223
to_port = 22

[[forward]]
host = "lxnat2"
port = 2230
to_port = 22

[[forward]]
host = "lxnat2"
port = 2231
to_port = 22
listen = "*"
source = ["198.51.100.0/24", "10.0.0.0/8"]
EOF
note "apply: nat_bridge, nat2 (nat), iso (isolated), svc (standalone nat); VMs lxdev01 and lxnat2 run"
if out=$(virtnat apply 2>&1); then pass "virtnat apply ($(tail -n 1 <<<"$out"))"; else fail "virtnat apply" "$out"; fi
check "hook: lxdev01 starts" hook start lxdev01 02:ff:0a:0a:06:1c
check "hook: lxnat2 starts" hook start lxnat2 02:ff:0a:02:02:1e
if ip -n "$HOST_NS" link set vg5 master vsbr5 && ip -n "$HOST_NS" link set vg5 up && wait_port_forwarding vg5; then
  pass "g5 is plugged into the standalone bridge vsbr5"
else
  fail "g5 is plugged into the standalone bridge vsbr5" "$(bridge -n "$HOST_NS" link show 2>&1)"
fi
UDHCPC_SCRIPT="$WORK_DIR/udhcpc.script"
cat >"$UDHCPC_SCRIPT" <<'EOF'
#!/bin/sh
case "$1" in
  bound | renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}"
    echo "lease $ip"
    ;;
esac
EOF
chmod +x "$UDHCPC_SCRIPT"
lease=$(ip netns exec "$G5" busybox udhcpc -i eth0 -f -q -n -t 10 -T 1 -s "$UDHCPC_SCRIPT" 2>/dev/null | sed -n 's/^lease //p' | tail -n 1)
if [ "$lease" = 10.5.5.50 ]; then
  pass "served network svc: g5 (lxsvc's MAC) gets 10.5.5.50 by DHCP from virtnat's dnsmasq"
else
  fail "served network svc: g5 gets 10.5.5.50 by DHCP" "got '$lease'"
  ip -n "$G5" addr replace 10.5.5.50/24 dev eth0
fi
ip -n "$G5" route replace default via 10.5.5.1
start_server "$G5" lxsvc --tcp 22

# ================================================================== A. from the LAN
note "A. a guest's unforwarded ports, and the guests straight, from the LAN"
expect_exact c1 tcp "$PUB" 2222 "lxdev01 22 198.51.100.10" "control: the forward $PUB:2222 reaches lxdev01:22"
expect_none c1 tcp "$PUB" 23 "lxdev01 listens on 23, not forwarded: c1 -> $PUB:23 gets nothing"
expect_none c1 tcp "$PUB" 9000 "lxdev01 listens on 9000, not forwarded: c1 -> $PUB:9000 gets nothing"
expect_none c1 tcp "$PUB" 22 "the guest port itself on the host's address: c1 -> $PUB:22 gets nothing"
expect_none c1 udp "$PUB" 53 "lxdev01 listens on udp 53, not forwarded: c1 -> udp $PUB:53 gets nothing"
expect_none c1 tcp 10.1.1.28 23 "c1 routed straight to lxdev01's unforwarded port 23 gets nothing"
expect_none c1 tcp 10.1.1.28 22 "c1 routed straight to lxdev01's forwarded guest port 22 gets nothing"
expect_none c1 tcp 10.2.2.30 22 "c1 routed straight to g3 (nat2) gets nothing"
expect_none c1 tcp 10.3.3.40 22 "c1 routed straight to g4 (iso) gets nothing"
check "control: the host reaches g5's server 10.5.5.50:22" peer_connect host tcp 10.5.5.50 22 2000
expect_none c1 tcp 10.5.5.50 22 "c1 routed straight to g5 (standalone nat) gets nothing"

# ================================================================== B. a stopped VM
note "B. the ports of a stopped VM"
check "control: lxdev02's server answers the host directly" peer_connect host tcp 10.1.1.29 22 2000
expect_none c1 tcp "$PUB" 2223 "lxdev02 never started: c1 -> $PUB:2223 gets nothing"
expect_none g1 tcp "$PUB" 2223 "lxdev02 never started: a guest (hairpin) -> $PUB:2223 gets nothing"
expect_none host tcp "$PUB" 2223 "lxdev02 never started: the host itself -> $PUB:2223 gets nothing"
check "hook: lxdev02 starts" hook start lxdev02 02:ff:0a:0a:06:1d
expect_exact c1 tcp "$PUB" 2223 "lxdev02 22 198.51.100.10" "control: lxdev02 running: c1 -> $PUB:2223 reaches it"
check "control: udp flow c1:40001 -> $PUB:5300 reaches lxdev01:53" peer_connect c1 udp "$PUB" 5300 1500 --sport 40001
check "hook: lxdev02 stops" hook stopped lxdev02 02:ff:0a:0a:06:1d
expect_none c1 tcp "$PUB" 2223 "lxdev02 stopped: c1 -> $PUB:2223 gets nothing"
expect_none g1 tcp "$PUB" 2223 "lxdev02 stopped: a guest (hairpin) -> $PUB:2223 gets nothing"
expect_none host tcp "$PUB" 2223 "lxdev02 stopped: the host itself -> $PUB:2223 gets nothing"
expect_exact c1 tcp "$PUB" 2222 "lxdev01 22 198.51.100.10" "control: lxdev01 still runs: $PUB:2222 still reaches it"
check "hook: lxdev01 stops" hook stopped lxdev01 02:ff:0a:0a:06:1c
expect_none c1 tcp "$PUB" 2222 "lxdev01 stopped: c1 -> $PUB:2222 gets nothing"
expect_none c1 udp "$PUB" 5300 "lxdev01 stopped: a new udp flow to $PUB:5300 gets nothing"
if out=$(peer_connect c1 udp "$PUB" 5300 1500 --sport 40001); then
  fail "lxdev01 stopped: the udp flow that was open (c1:40001) gets nothing" "got: $out"
else
  pass "lxdev01 stopped: the udp flow that was open (c1:40001) gets nothing (got: $out)"
fi
check "hook: lxdev01 starts again" hook start lxdev01 02:ff:0a:0a:06:1c
expect_exact c1 tcp "$PUB" 2222 "lxdev01 22 198.51.100.10" "control: lxdev01 running again: $PUB:2222 reaches it"

# ================================================================== C. isolated
note "C. the isolated network reaches nothing but itself and the host"
expect_exact "$G4" tcp 10.3.3.1 8080 "hostsvc 8080 10.3.3.40" "control: g4 (iso) reaches the host's service on its gateway"
expect_none "$G4" tcp 198.51.100.10 7000 "g4 (iso) -> c1 on the LAN gets nothing"
expect_none "$G4" tcp 10.1.1.28 22 "g4 (iso) -> g1 (nat_bridge) gets nothing"
expect_none "$G4" tcp 10.2.2.30 22 "g4 (iso) -> g3 (nat2) gets nothing"
expect_none "$G4" tcp 10.5.5.50 22 "g4 (iso) -> g5 (svc) gets nothing"
expect_reply "$G3" tcp "$PUB" 2222 "lxdev01 22 " "control: g3 (nat2) reaches lxdev01 through the forward $PUB:2222"
expect_none "$G4" tcp "$PUB" 2222 "g4 (iso) -> the forward $PUB:2222 (to lxdev01) gets nothing"
expect_reply g1 tcp 10.1.1.1 2231 "lxnat2 22 " "control: g1 (nat) reaches lxnat2 through the listen=\"*\" forward on its gateway"
expect_none "$G4" tcp 10.3.3.1 2231 "g4 (iso) -> the listen=\"*\" forward on its own gateway gets nothing"
expect_none "$G4" tcp "$PUB" 2231 "g4 (iso) -> the listen=\"*\" forward on $PUB gets nothing"
expect_none g1 tcp 10.3.3.40 22 "g1 (nat_bridge) -> g4 (iso) gets nothing"
expect_none "$G3" tcp 10.3.3.40 22 "g3 (nat2) -> g4 (iso) gets nothing"

# ================================================================== D. nat <-> nat
note "D. guests of two different networks do not reach each other"
expect_exact g1 tcp 198.51.100.10 7000 "c1 7000 198.51.100.1" "control: g1 (nat_bridge) reaches the LAN, masqueraded"
expect_exact "$G3" tcp 198.51.100.10 7000 "c1 7000 198.51.100.1" "control: g3 (nat2) reaches the LAN, masqueraded"
expect_exact "$G5" tcp 198.51.100.10 7000 "c1 7000 198.51.100.1" "control: g5 (svc) reaches the LAN, masqueraded"
expect_exact g1 tcp 10.1.1.29 22 "lxdev02 22 10.1.1.28" "control: g1 reaches g2 on its own network"
expect_none g1 tcp 10.2.2.30 22 "g1 (nat_bridge) -> g3 (nat2) gets nothing"
expect_none g2 tcp 10.2.2.30 22 "g2 (nat_bridge) -> g3 (nat2) gets nothing"
expect_none "$G3" tcp 10.1.1.28 22 "g3 (nat2) -> g1 (nat_bridge) gets nothing"
expect_none "$G3" tcp 10.1.1.29 22 "g3 (nat2) -> g2 (nat_bridge) gets nothing"
expect_none g1 tcp 10.5.5.50 22 "g1 (nat_bridge) -> g5 (svc) gets nothing"
expect_none "$G5" tcp 10.1.1.28 22 "g5 (svc) -> g1 (nat_bridge) gets nothing"
expect_none "$G5" tcp 10.2.2.30 22 "g5 (svc) -> g3 (nat2) gets nothing"

# ================================================================== E. listen address
note "E. a forward answers on its listen address only"
expect_exact c1 tcp "$PUB" 2230 "lxnat2 22 198.51.100.10" "control: c1 -> $PUB:2230 reaches lxnat2"
expect_none c1 tcp "$PUB2" 2230 "c1 -> the host's other address $PUB2:2230 gets nothing"
expect_reply c1 udp "$PUB" 5300 "lxdev01 53 198.51.100.10" "control: c1 -> udp $PUB:5300 reaches lxdev01"
expect_none c1 udp "$PUB2" 5300 "c1 -> udp on the host's other address $PUB2:5300 gets nothing"
expect_none c1 tcp 10.1.1.1 2230 "c1 -> the host's address on nbr0 10.1.1.1:2230 gets nothing"
expect_none c1 tcp 10.2.2.1 2230 "c1 -> the host's address on nbr1 10.2.2.1:2230 gets nothing"
expect_none g1 tcp 10.1.1.1 2230 "g1 -> its gateway 10.1.1.1:2230 gets nothing"
expect_none host tcp "$PUB2" 2230 "the host itself -> $PUB2:2230 gets nothing"
expect_exact host tcp "$PUB" 2230 "lxnat2 22 198.51.100.1" "control: the host itself -> $PUB:2230 reaches lxnat2"
expect_exact c2 tcp "$PUB2" 2231 "lxnat2 22 198.51.100.20" "control: listen=\"*\" answers on $PUB2 too (documented)"

# ================================================================== F. the host's own services
note "F. the host's own services"
probe_all "$WORK_DIR/host-probes-after"
check_same "virtnat changed no answer of the host's own services (same server, same client address as before apply)" \
  "$WORK_DIR/host-probes-before" "$WORK_DIR/host-probes-after"

note "the DNS of the served network svc answers its own guests only"
got=$(dns "$G5" lxsvc.svc.test 10.5.5.1)
if [ "$got" = 10.5.5.50 ]; then pass "g5 (svc) resolves lxsvc.svc.test at 10.5.5.1 (udp 53)"; else fail "g5 (svc) resolves lxsvc.svc.test at 10.5.5.1" "got '$got'"; fi
check "g5 (svc) opens tcp 10.5.5.1:53" tcp_open "$G5" 10.5.5.1 53
check "control: c1 reaches the host's address on vsbr5 (tcp 10.5.5.1:8080 answers)" peer_connect c1 tcp 10.5.5.1 8080 2000
for node in c1 g1 "$G4"; do
  got=$(dns "$node" lxsvc.svc.test 10.5.5.1)
  if [ -z "$got" ]; then pass "$node -> DNS at 10.5.5.1 gets no answer"; else fail "$node -> DNS at 10.5.5.1 gets no answer" "got '$got'"; fi
  if tcp_open "$node" 10.5.5.1 53; then fail "$node -> tcp 10.5.5.1:53 gets no connection"; else pass "$node -> tcp 10.5.5.1:53 gets no connection"; fi
done
got=$(dns c1 lxsvc.svc.test "$PUB")
if [ -z "$got" ]; then pass "c1 -> DNS at $PUB gets no answer"; else fail "c1 -> DNS at $PUB gets no answer" "got '$got'"; fi

note "an admin's input policy drop beside virtnat's table: nothing reaches the host, forwards still work"
ip netns exec "$HOST_NS" nft -f - <<'EOF'
table inet adminfw {
	chain input {
		type filter hook input priority filter; policy drop;
		iif "lo" accept
		ct state established,related accept
	}
}
EOF
nft_host -s list table inet adminfw >"$WORK_DIR/adminfw-before" 2>&1
if out=$(virtnat apply 2>&1); then pass "virtnat apply with the admin's table present ($(tail -n 1 <<<"$out"))"; else fail "virtnat apply with the admin's table present" "$out"; fi
nft_host -s list table inet adminfw >"$WORK_DIR/adminfw-after" 2>&1
check_same "apply left the admin's table alone" "$WORK_DIR/adminfw-before" "$WORK_DIR/adminfw-after"
probe_all "$WORK_DIR/host-probes-adminfw"
if ! grep -v -E '=> (timeout|refused|unreachable)$' "$WORK_DIR/host-probes-adminfw" | grep_q .; then
  pass "with the admin's drop no probe reaches a host service ($(wc -l <"$WORK_DIR/host-probes-adminfw") probes)"
else
  fail "with the admin's drop no probe reaches a host service" "$(cat "$WORK_DIR/host-probes-adminfw")"
fi
expect_exact c1 tcp "$PUB" 2222 "lxdev01 22 198.51.100.10" "with the admin's drop the forward $PUB:2222 still reaches lxdev01"
expect_exact c2 tcp "$PUB2" 2231 "lxnat2 22 198.51.100.20" "with the admin's drop the listen=\"*\" forward still reaches lxnat2"
expect_reply "$G3" tcp "$PUB" 2222 "lxdev01 22 " "with the admin's drop g3 (nat2) still reaches the forward $PUB:2222"
expect_none "$G4" tcp "$PUB" 2222 "with the admin's drop g4 (iso) still gets nothing from the forward"
ip netns exec "$HOST_NS" nft delete table inet adminfw

check "virtnat down" virtnat down
note "total $(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s"
finish
