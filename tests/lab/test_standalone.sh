#!/bin/bash
# provider = "standalone" in the lab: virtnat builds the bridge, its dummy NIC and one
# dnsmasq itself, inside the lab's host namespace. Real dnsmasq, real DHCP clients (busybox
# udhcpc) in guest namespaces plugged into the new bridge, real DNS queries.
#   bash tests/lab/test_standalone.sh BUILD_DIR
# The bridge vsbr0 does not exist in the lab before the first apply; lib_dir and run_dir
# point at the test's temp folder (VIRTNAT_LIB_DIR, VIRTNAT_RUN_DIR).
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"

for tool in busybox /usr/sbin/dnsmasq; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "Bail out! $tool is missing (scripts/install-deps installs it)"
    echo "0 passed, 1 failed"
    exit 1
  fi
done

lab_start

NET=sa_net
BRIDGE=vsbr0
NIC=vsbr0-nic
# dnsmasq drops root to user dnsmasq and then reads its hosts files: let it into the folder.
chmod 0755 "$WORK_DIR"
export VIRTNAT_LIB_DIR="$WORK_DIR/lib"
export VIRTNAT_RUN_DIR="$WORK_DIR/run"
NET_DIR="$VIRTNAT_LIB_DIR/$NET"
PID_FILE="$VIRTNAT_RUN_DIR/dnsmasq-$NET.pid"
LEASES="$NET_DIR/leases"

# Guest namespaces of this test, plugged into vsbr0 (lab.sh knows nothing of them).
GUESTS=(sg1 sg2 sg3)
guest_ns() { echo "$LAB_PREFIX-$1"; }

# shellcheck disable=SC2317 # run by the EXIT trap
standalone_cleanup() {
  delete_namespaces "${GUESTS[@]/#/$LAB_PREFIX-}"
  lab_cleanup # ends dnsmasq with every other process of the lab's host namespace
}
trap standalone_cleanup EXIT

# write_standalone_config [EXTRA_TOML]: the standalone network, plus what EXTRA adds.
write_standalone_config() {
  {
    lab_settings
    lab_network name="$NET" provider=standalone bridge="$BRIDGE" address=10.2.2.1/24 \
      dhcp_range=10.2.2.100-10.2.2.150 mac_prefix=-
    lab_host lxdev01 address=10.2.2.28 mac=02:FF:0A:0A:07:1C
    lab_host lxdev02 address=10.2.2.29 mac=02:FF:0A:0A:07:1D
    echo "${1:-}"
  } >"$CONFIG"
}

# add_guest NAME MAC: a namespace whose eth0 has MAC; the peer v<NAME> stays in the host.
add_guest() {
  local ns
  ns=$(guest_ns "$1")
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$HOST_NS" link add "v$1" type veth peer name eth0 netns "$ns"
  ip -n "$ns" link set eth0 address "$2"
  ip -n "$ns" link set eth0 up
}

# plug_guest NAME: enslaves v<NAME> to the bridge and waits until STP lets it forward.
plug_guest() {
  ip -n "$HOST_NS" link set "v$1" master "$BRIDGE" &&
    ip -n "$HOST_NS" link set "v$1" up || return 1
  for _ in $(seq 1 100); do
    if bridge -n "$HOST_NS" link show dev "v$1" | grep_q "state forwarding"; then return 0; fi
    sleep 0.1
  done
  return 1
}

UDHCPC_SCRIPT="$WORK_DIR/udhcpc.script"
cat >"$UDHCPC_SCRIPT" <<'EOF'
#!/bin/sh
# udhcpc's event script: configure the address and report it.
case "$1" in
  deconfig) ip addr flush dev "$interface" ;;
  bound | renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    echo "lease $ip"
    ;;
esac
EOF
chmod +x "$UDHCPC_SCRIPT"

# dhcp NODE: one busybox udhcpc run on eth0; prints the address it was given (nothing if none).
dhcp() {
  ip netns exec "$(node_ns "$1")" busybox udhcpc -i eth0 -f -q -n -t "${2:-10}" -T 1 \
    -s "$UDHCPC_SCRIPT" 2>/dev/null | sed -n 's/^lease //p' | tail -n 1
}

# resolve NODE NAME SERVER: the IPv4 addresses busybox nslookup gets, one per line.
resolve() {
  ip netns exec "$(node_ns "$1")" timeout 5 busybox nslookup -type=a "$2" "$3" 2>&1 |
    sed -n '/^Name:/,$p' | sed -n 's/^Address:[[:space:]]*\([0-9.]*\).*/\1/p'
}

in_range() { # ADDRESS: inside 10.2.2.100-10.2.2.150
  local last=${1##*.}
  [[ "$1" == 10.2.2.* ]] && [ "$last" -ge 100 ] && [ "$last" -le 150 ]
}

bridge_mac() { ip -n "$HOST_NS" -br link show dev "$BRIDGE" 2>/dev/null | awk '{print $3}'; }
dnsmasq_pid() { cat "$PID_FILE" 2>/dev/null; }

# Whether a process runs dnsmasq with this network's configuration file.
our_dnsmasq_runs() {
  local pid
  for pid in $(pgrep -x dnsmasq); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep_q -- "--conf-file=$NET_DIR/dnsmasq.conf"; then
      return 0
    fi
  done
  return 1
}

# check_gone WHEN: after a stop, nothing of the network is left.
check_gone() {
  if ip -n "$HOST_NS" link show dev "$BRIDGE" >/dev/null 2>&1; then
    fail "$1: bridge $BRIDGE is gone" "$(ip -n "$HOST_NS" -br link)"
  else
    pass "$1: bridge $BRIDGE is gone"
  fi
  if ip -n "$HOST_NS" link show dev "$NIC" >/dev/null 2>&1; then
    fail "$1: dummy NIC $NIC is gone" "$(ip -n "$HOST_NS" -br link)"
  else
    pass "$1: dummy NIC $NIC is gone"
  fi
  if our_dnsmasq_runs; then
    fail "$1: no dnsmasq of $NET runs" "$(pgrep -a dnsmasq)"
  else
    pass "$1: no dnsmasq of $NET runs"
  fi
  if [ -e "$PID_FILE" ]; then fail "$1: the pid file is removed"; else pass "$1: the pid file is removed"; fi
  local rules
  rules=$(nft_host list ruleset 2>&1 | grep -E "$BRIDGE|10\.2\.2\.")
  if [ -z "$rules" ]; then
    pass "$1: no rule mentions $BRIDGE or 10.2.2.0/24"
  else
    fail "$1: no rule mentions $BRIDGE or 10.2.2.0/24" "$rules"
  fi
}

# ------------------------------------------------------------------ before
write_standalone_config
add_guest sg1 02:ff:0a:0a:07:1c # lxdev01's MAC
add_guest sg2 02:ff:0a:0a:07:99 # unknown
add_guest sg3 02:ff:0a:0a:07:1e # unknown at first, then lxdev03's MAC
note "controls"
if ip -n "$HOST_NS" link show dev "$BRIDGE" >/dev/null 2>&1; then
  fail "control: no $BRIDGE before apply"
else
  pass "control: no $BRIDGE before apply"
fi

# ------------------------------------------------------------------ first apply
note "apply creates the bridge, its dummy NIC and dnsmasq"
out=$(virtnat apply 2>&1)
rc=$?
if [ $rc -eq 0 ] && [[ "$out" == *"bridge $BRIDGE created"* ]] && [[ "$out" == *"dnsmasq started"* ]]; then
  pass "virtnat apply creates the bridge and starts dnsmasq"
else
  fail "virtnat apply creates the bridge and starts dnsmasq" "exit $rc" "$out"
fi
MAC1=$(bridge_mac)
if [[ "$MAC1" == 52:54:00:* ]]; then pass "bridge MAC is 52:54:00:xx:xx:xx ($MAC1)"; else fail "bridge MAC is 52:54:00:xx:xx:xx" "got '$MAC1'"; fi
details=$(ip -n "$HOST_NS" -d link show dev "$BRIDGE" 2>&1)
if [[ "$details" == *"stp_state 1"* ]]; then pass "STP is on"; else fail "STP is on" "$details"; fi
nic=$(ip -n "$HOST_NS" -br link show dev "$NIC" 2>&1)
if [[ "$(ip -n "$HOST_NS" link show dev "$NIC" 2>&1)" == *"master $BRIDGE"* ]] && [ "$(awk '{print $3}' <<<"$nic")" = "$MAC1" ]; then
  pass "dummy NIC $NIC is enslaved to $BRIDGE with the bridge's MAC"
else
  fail "dummy NIC $NIC is enslaved to $BRIDGE with the bridge's MAC" "$(ip -n "$HOST_NS" link show dev "$NIC" 2>&1)"
fi
if ip -n "$HOST_NS" -br addr show dev "$BRIDGE" | grep_q "10.2.2.1/24"; then
  pass "10.2.2.1/24 is on $BRIDGE"
else
  fail "10.2.2.1/24 is on $BRIDGE" "$(ip -n "$HOST_NS" -br addr)"
fi
PID1=$(dnsmasq_pid)
if [ -n "$PID1" ] && our_dnsmasq_runs && [ "$(readlink "/proc/$PID1/exe")" = /usr/sbin/dnsmasq ]; then
  pass "dnsmasq runs with pid $PID1 from $PID_FILE"
else
  fail "dnsmasq runs with the pid in $PID_FILE" "pid '$PID1'" "$(pgrep -a dnsmasq)"
fi
if [ -n "$PID1" ] && [ "$(stat -c %U "/proc/$PID1" 2>/dev/null)" = dnsmasq ]; then
  pass "dnsmasq dropped root (runs as user dnsmasq)"
else
  fail "dnsmasq dropped root (runs as user dnsmasq)" "owner: $(stat -c %U "/proc/$PID1" 2>&1)"
fi
check "dnsmasq.conf binds to $BRIDGE only" grep -qx "interface=$BRIDGE" "$NET_DIR/dnsmasq.conf"
check "the hosts file holds lxdev01" grep -qx "02:ff:0a:0a:07:1c,10.2.2.28,lxdev01" "$NET_DIR/hostsfile"

out=$(virtnat apply 2>&1)
if [[ "$out" != *"network $NET:"* ]] && [ "$(dnsmasq_pid)" = "$PID1" ]; then
  pass "a second apply changes nothing of $NET (same dnsmasq pid)"
else
  fail "a second apply changes nothing of $NET (same dnsmasq pid)" "pid $(dnsmasq_pid), was $PID1" "$out"
fi

# ------------------------------------------------------------------ DHCP
note "DHCP with busybox udhcpc"
for g in sg1 sg2 sg3; do
  if plug_guest "$g"; then pass "guest $g plugged into $BRIDGE (STP forwarding)"; else fail "guest $g plugged into $BRIDGE (STP forwarding)" "$(bridge -n "$HOST_NS" link)"; fi
done
expect_value "the guest with lxdev01's MAC gets exactly lxdev01's address" "$(dhcp "$(guest_ns sg1)")" 10.2.2.28
addr2=$(dhcp "$(guest_ns sg2)")
if in_range "$addr2"; then pass "an unknown MAC gets an address from dhcp_range ($addr2)"; else fail "an unknown MAC gets an address from dhcp_range" "got '$addr2'"; fi
addr3=$(dhcp "$(guest_ns sg3)")
if in_range "$addr3"; then pass "sg3 (not a host yet) gets an address from dhcp_range ($addr3)"; else fail "sg3 (not a host yet) gets an address from dhcp_range" "got '$addr3'"; fi
expect_value "guests with lower MACs joining leave the bridge MAC alone" "$(bridge_mac)" "$MAC1"
if grep -q "02:ff:0a:0a:07:1c 10.2.2.28 " "$LEASES" 2>/dev/null; then
  pass "the lease file holds lxdev01's lease"
else
  fail "the lease file holds lxdev01's lease" "$(cat "$LEASES" 2>&1)"
fi
if out=$(virtnat leases "$NET" --json 2>&1) && [[ "$out" == *10.2.2.28* ]] && [[ "$out" == *"$addr2"* ]]; then
  pass "virtnat leases $NET --json lists the leases"
else
  fail "virtnat leases $NET --json lists the leases" "$out"
fi

# ------------------------------------------------------------------ DNS
note "DNS through dnsmasq"
expect_value "sg2 resolves lxdev01.devops.test through dnsmasq" "$(resolve "$(guest_ns sg2)" lxdev01.devops.test 10.2.2.1)" 10.2.2.28
expect_value "sg2 resolves lxdev02.devops.test (no lease: from addn-hosts)" "$(resolve "$(guest_ns sg2)" lxdev02.devops.test 10.2.2.1)" 10.2.2.29
expect_value "sg1 resolves lxdev01.devops.test too" "$(resolve "$(guest_ns sg1)" lxdev01.devops.test 10.2.2.1)" 10.2.2.28
expect_value "an unknown name of the local domain is not resolved" "$(resolve "$(guest_ns sg2)" nosuch.devops.test 10.2.2.1)" ""

note "the LAN cannot reach dnsmasq"
in_ns c1 ip route add 10.2.2.0/24 via 198.51.100.1
start_server host hostsrv --udp 5300
expect_reply c1 udp 10.2.2.1 5300 "hostsrv 5300" "control: c1 (LAN) reaches a UDP server on the host's 10.2.2.1"
expect_value "c1 (LAN) gets no DNS answer from 10.2.2.1" "$(resolve c1 lxdev01.devops.test 10.2.2.1)" ""
expect_value "c1 (LAN) gets no DNS answer from the host's LAN address" "$(resolve c1 lxdev01.devops.test 198.51.100.1)" ""
in_ns c1 ip route del 10.2.2.0/24 via 198.51.100.1
expect_value "c1 (LAN) gets no DHCP lease from dnsmasq" "$(dhcp c1 3)" ""

# ------------------------------------------------------------------ a host is added
note "adding a host: SIGHUP, same pid, leases kept"
write_standalone_config '
[[network.host]]
name = "lxdev03"
address = "10.2.2.30"
mac = "02:FF:0A:0A:07:1E"'
cp "$NET_DIR/dnsmasq.conf" "$WORK_DIR/dnsmasq.conf.before"
out=$(virtnat apply 2>&1)
rc=$?
if [ $rc -eq 0 ] && [[ "$out" == *"SIGHUP"* ]]; then pass "apply reloads dnsmasq with SIGHUP"; else fail "apply reloads dnsmasq with SIGHUP" "exit $rc" "$out"; fi
expect_value "dnsmasq keeps its pid" "$(dnsmasq_pid)" "$PID1"
check "the hosts file now holds lxdev03" grep -qx "02:ff:0a:0a:07:1e,10.2.2.30,lxdev03" "$NET_DIR/hostsfile"
check_same "dnsmasq.conf is unchanged by a new host" "$WORK_DIR/dnsmasq.conf.before" "$NET_DIR/dnsmasq.conf"
if grep -q "02:ff:0a:0a:07:1c 10.2.2.28 " "$LEASES" && grep -q " $addr2 " "$LEASES"; then
  pass "the earlier leases are still in the lease file"
else
  fail "the earlier leases are still in the lease file" "$(cat "$LEASES" 2>&1)"
fi
expect_value "sg3 now gets lxdev03's address" "$(dhcp "$(guest_ns sg3)")" 10.2.2.30
expect_value "sg2 resolves the new lxdev03.devops.test" "$(resolve "$(guest_ns sg2)" lxdev03.devops.test 10.2.2.1)" 10.2.2.30
expect_value "dnsmasq still has the same pid" "$(dnsmasq_pid)" "$PID1"

note "a dnsmasq that died is restarted by the next apply"
kill -9 "$PID1" 2>/dev/null
for _ in $(seq 1 50); do our_dnsmasq_runs || break; sleep 0.1; done
if grep -E "^$NET .* degraded: dnsmasq not running *$" <<<"$(virtnat status 2>&1)" >/dev/null; then
  pass "status: $NET is degraded: dnsmasq not running"
else
  fail "status: $NET is degraded: dnsmasq not running" "$(virtnat status 2>&1)"
fi
out=$(virtnat apply 2>&1)
PID2=$(dnsmasq_pid)
if [[ "$out" == *"dnsmasq started"* ]] && [ -n "$PID2" ] && [ "$PID2" != "$PID1" ] && our_dnsmasq_runs; then
  pass "apply restarts the dead dnsmasq (pid $PID2)"
else
  fail "apply restarts the dead dnsmasq" "pid '$PID2', was $PID1" "$out"
fi
expect_value "the restarted dnsmasq answers" "$(resolve "$(guest_ns sg2)" lxdev01.devops.test 10.2.2.1)" 10.2.2.28

note "virtnat watch restarts a dnsmasq that died, and leaves a stopped network stopped"
WATCH_LOG="$WORK_DIR/watch.log"
ip netns exec "$HOST_NS" "$VIRTNAT" --config "$CONFIG" watch --recheck 1 >"$WATCH_LOG" 2>&1 &
WATCH_PID=$!
# new_dnsmasq_runs OLD_PID: our dnsmasq runs under another pid than OLD_PID.
new_dnsmasq_runs() { our_dnsmasq_runs && [ -n "$(dnsmasq_pid)" ] && [ "$(dnsmasq_pid)" != "$1" ]; }
# wait_for SECONDS CMD...: poll CMD every 0.1 s.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -ge "$deadline" ] && return 1
    sleep 0.1
  done
}
sleep 1 # watch loaded the config and made its first check
kill -9 "$PID2" 2>/dev/null
if wait_for 5 new_dnsmasq_runs "$PID2"; then
  pass "watch restarted the dead dnsmasq (pid $(dnsmasq_pid)) without an apply"
else
  fail "watch restarted the dead dnsmasq" "$(cat "$WATCH_LOG")"
fi
if grep_q "repaired network $NET: dnsmasq started" "$WATCH_LOG"; then
  pass "watch logged the repair"
else
  fail "watch logged the repair" "$(cat "$WATCH_LOG")"
fi
expect_value "the dnsmasq watch started answers" "$(resolve "$(guest_ns sg2)" lxdev01.devops.test 10.2.2.1)" 10.2.2.28
check "virtnat network stop $NET while watch runs" virtnat network stop "$NET"
sleep 3 # three of watch's checks
check_gone "three seconds after a stop with watch running"
out=$(virtnat status 2>&1)
if grep -E "^$NET .* stopped *$" <<<"$out" >/dev/null && grep_q "^table inet virtnat: in sync" <<<"$out"; then
  pass "status: $NET is stopped, and that is no drift"
else
  fail "status: $NET is stopped, and that is no drift" "$out"
fi
check "virtnat network start $NET while watch runs" virtnat network start "$NET"
if our_dnsmasq_runs && ip -n "$HOST_NS" link show dev "$BRIDGE" >/dev/null 2>&1; then
  pass "network start brings it back"
else
  fail "network start brings it back" "$(ip -n "$HOST_NS" -br link)"
fi
if grep -E "^$NET .* up *$" <<<"$(virtnat status 2>&1)" >/dev/null; then
  pass "status: $NET is up"
else
  fail "status: $NET is up" "$(virtnat status 2>&1)"
fi
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null
note "watch said: $(tr '\n' ';' <"$WATCH_LOG")"

# ------------------------------------------------------------------ stop, start, stop
note "network stop, start, stop"
check "virtnat network stop $NET" virtnat network stop "$NET"
check_gone "after the first stop"
check "virtnat network start $NET" virtnat network start "$NET"
expect_value "after stop and start the bridge MAC is the same" "$(bridge_mac)" "$MAC1"
if our_dnsmasq_runs; then pass "dnsmasq runs again"; else fail "dnsmasq runs again" "$(pgrep -a dnsmasq)"; fi
if plug_guest sg1; then pass "sg1 plugged into the new $BRIDGE"; else fail "sg1 plugged into the new $BRIDGE"; fi
expect_value "sg1 gets lxdev01's address again" "$(dhcp "$(guest_ns sg1)")" 10.2.2.28
check "virtnat network stop $NET again" virtnat network stop "$NET"
check_gone "after the second stop"
check "virtnat network start $NET a third time" virtnat network start "$NET"
expect_value "after the second stop and start the bridge MAC is the same" "$(bridge_mac)" "$MAC1"
check "virtnat network stop $NET at the end" virtnat network stop "$NET"
check_gone "at the end"

finish
