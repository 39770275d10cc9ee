#!/bin/bash
# `virtnat watch` with a REAL libvirtd and no hook installed:
#   bash tests/lab/test_watch_libvirt.sh BUILD_DIR
#
# libvirtd runs isolated inside the lab's host namespace (lab/libvirt.sh); virtnat watch runs
# in the same mount namespace, sharing /etc/virtnat and /run/virtnat with the CLI. The network
# nat_bridge is defined by virtnat with libvirt_forward = "nat": libvirt does the NAT and
# rejects new inbound connections in LIBVIRT_FWI, and virtnat keeps its shim on top there.
# No hook is installed, so every change of the forwards below comes from watch.
#   1. a QEMU domain started: its forwards open (real TCP from the LAN) within 2 s;
#      destroyed: they close within 2 s (by name, by MAC, and a transient domain by MAC)
#   2. iptables -F (libvirt's rules and the shim gone): the shim is back within 1 s
#   3. nft flush ruleset (every table gone, libvirt's iptables-nft tables too), and what
#      `systemctl restart nftables` does (flush + the admin's file in one transaction):
#      virtnat's table is back within 1 s
#   4. libvirtd restart: watch reconnects, libvirt's re-created rules get the shim on top
#      again, and a domain started after the restart is followed
#   5. libvirtd down for a while (a VM dies meanwhile), then up: watch keeps repairing
#      nftables while libvirt is gone, reconnects, closes the dead VM's forward
#   6. one log line per repair, none while nothing happens (no loop on its own changes)
# Every "gets nothing" has a control that gets through in the same state.
# shellcheck disable=SC2317 # helpers are called indirectly (lv_wait_for, check)
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
# shellcheck source=tests/lab/libvirt_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/libvirt_lib.sh"

T0=$EPOCHREALTIME
lv_require_root_and_tools
command -v jq >/dev/null 2>&1 || lv_bail "jq is missing (run scripts/install-deps)"
# The CLI and watch share /run/virtnat (libvirt's mount namespace): no private state folder.
lv_lab_for_hook --without-nbr0

PUB=198.51.100.1
NET=nat_bridge
BR=vnat0
WATCH_LOG="$WORK_DIR/watch.log"
WATCH_PID=""

{
  lab_settings public_address="$PUB" vm_lifecycle=libvirt
  lab_network name="$NET" provider=libvirt bridge="$BR" mac_prefix=- libvirt_forward=nat
  lab_host lxdev01
  lab_host lxdev02 mac=02:FF:0A:0A:06:1D
  lab_forward ssh port=2222 to_port=22 description=-
  lab_forward - host=lxdev02 port=2223 to_port=22
} >"$CONFIG"

# ------------------------------------------------------------------ helpers

vn() { lv_exec "$VIRTNAT" "$@"; }

has_elem() { grep -qx "$PUB tcp $1 $2 22" <<<"$(lv_dnat_elements)"; } # PORT TARGET
has_no_elem() { ! grep -q "^$PUB tcp $1 " <<<"$(lv_dnat_elements)"; }  # PORT

fwi() { ip netns exec "$HOST_NS" iptables -w -S LIBVIRT_FWI 2>&1; }
shim_present() { grep -q -- '--comment virtnat-shim' <<<"$(fwi)"; }
reject_present() { grep -q -- "-o $BR -j REJECT" <<<"$(fwi)"; }
# The shim is the first rule of LIBVIRT_FWI, above libvirt's reject for the bridge.
shim_on_top() {
  fwi | awk -v br="$BR" '
    /^-A / && !first { first = NR; top = /--comment virtnat-shim/ }
    $0 ~ ("-o " br " -j REJECT") && !rej { rej = NR }
    END { exit !(top && rej) }'
}
table_present() { nft_host list table inet "$TABLE" >/dev/null 2>&1; }

# ms_since START: milliseconds since START (an $EPOCHREALTIME value).
ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }'; }

# within DESC MS CMD...: CMD succeeds within MS milliseconds (polled every 20 ms; waits at
# most 3 s longer to say how late it was).
within() {
  local desc=$1 limit=$2 t=$EPOCHREALTIME took
  shift 2
  while ! "$@" >/dev/null 2>&1; do
    if [ "$(ms_since "$t")" -ge $((limit + 3000)) ]; then
      fail "$desc: not within $(((limit + 3000) / 1000)) s" "watch log (last lines):" "$(tail -n 8 "$WATCH_LOG")"
      return 1
    fi
    sleep 0.02
  done
  took=$(ms_since "$t")
  if [ "$took" -le "$limit" ]; then
    pass "$desc: in $took ms"
  else
    fail "$desc: took $took ms (limit $limit ms)" "$(tail -n 8 "$WATCH_LOG")"
    return 1
  fi
}

# tcp_gets NODE PORT NAME: a TCP connection to $PUB:PORT answers NAME (short timeout).
tcp_gets() { [[ "$(peer_connect "$1" tcp "$PUB" "$2" 400)" == "$3 22 "* ]]; }

repairs() { grep -c "repaired" "$WATCH_LOG"; }
log_count() { grep -c -- "$1" "$WATCH_LOG"; }

# expect_new_repairs DESC BEFORE WANT PATTERN: exactly WANT new lines matching PATTERN since
# the repair count was BEFORE (a short settle first, so a late duplicate shows).
expect_new_repairs() {
  local desc=$1 before=$2 want=$3 pattern=$4 now new
  sleep 0.6
  now=$(repairs)
  new=$(grep "repaired" "$WATCH_LOG" | tail -n +$((before + 1)))
  if [ $((now - before)) -eq "$want" ] && { [ "$want" -eq 0 ] || grep -q -- "$pattern" <<<"$new"; }; then
    pass "$desc ($(tr '\n' '|' <<<"$new"))"
  else
    fail "$desc" "expected $want new repair line(s) matching '$pattern', got $((now - before)):" "$new"
  fi
}

watch_alive() { [ -n "$WATCH_PID" ] && kill -0 "$WATCH_PID" 2>/dev/null; }

# ================================================================== set-up
note "apply (no hook installed), then watch"
check_exit "control: libvirt's hooks folder does not exist (no hook can run)" 1 test -e "$(lv_hooks_dir)"
if out=$(vn apply 2>&1); then pass "virtnat apply ($(tr '\n' ' ' <<<"$out"))"; else fail "virtnat apply" "$out"; fi
check "the network's bridge $BR exists" ip -n "$HOST_NS" link show "$BR"
if reject_present && shim_on_top; then
  pass "libvirt rejects new connections into $BR in LIBVIRT_FWI; the shim is on top"
else
  fail "libvirt rejects new connections into $BR in LIBVIRT_FWI; the shim is on top" "$(fwi)"
fi
lv_plug_guest lxg1 "$BR" 02:00:00:0a:01:1c 10.1.1.28/24 10.1.1.1 || lv_bail "cannot plug guest lxg1"
lv_plug_guest lxg2 "$BR" 02:00:00:0a:01:1d 10.1.1.29/24 10.1.1.1 || lv_bail "cannot plug guest lxg2"
start_server "$LAB_PREFIX-lxg1" lxdev01 --tcp 22
start_server "$LAB_PREFIX-lxg2" lxdev02 --tcp 22
check "define domain lxdev01 (NIC on network $NET)" lv_define_domain lxdev01 02:FF:0A:0A:06:1C "network:$NET"
check "define domain web2 (another name, lxdev02's MAC)" lv_define_domain web2 02:FF:0A:0A:06:1D "network:$NET"
lv_wait_for 15 lv_port_forwarding lvp-lxg1
lv_wait_for 15 lv_port_forwarding lvp-lxg2
check "control: the host reaches lxdev01's server 10.1.1.28:22 directly" peer_connect host tcp 10.1.1.28 22 2000
check "control: the host reaches lxdev02's server 10.1.1.29:22 directly" peer_connect host tcp 10.1.1.29 22 2000

lv_exec "$VIRTNAT" watch --recheck 30 >"$WATCH_LOG" 2>&1 &
WATCH_PID=$!
SERVER_PIDS+=("$WATCH_PID")
if lv_wait_for 10 grep -q "connected to qemu:///system" "$WATCH_LOG"; then
  pass "watch connects to libvirt"
else
  fail "watch connects to libvirt" "$(cat "$WATCH_LOG")"
fi

# ================================================================== 1. VMs without a hook
note "1. without a hook, watch follows domains through libvirt's events"
check_exit "no domain runs: no element for 2222" 0 has_no_elem 2222
expect_no_reply c1 tcp "$PUB" 2222 any "lxdev01 not running: c1 -> $PUB:2222 gets nothing"
check "virsh start lxdev01" lv_virsh -q start lxdev01
within "lxdev01 started: its forward's element is there" 2000 has_elem 2222 10.1.1.28
within "lxdev01 started: c1 -> $PUB:2222 reaches lxdev01 through libvirt's reject (shim)" 2000 tcp_gets c1 2222 lxdev01
expect_no_reply c1 tcp "$PUB" 2223 any "lxdev02's forward stays closed (no domain of it runs)"
check "virsh start web2 (lxdev02's MAC)" lv_virsh -q start web2
within "web2 started: c2 -> $PUB:2223 reaches lxdev02 (domain found by MAC)" 2000 tcp_gets c2 2223 lxdev02
check "virsh destroy lxdev01" lv_virsh -q destroy lxdev01
within "lxdev01 destroyed: its element is gone" 2000 has_no_elem 2222
expect_no_reply c1 tcp "$PUB" 2222 any "lxdev01 destroyed: c1 -> $PUB:2222 gets nothing"
expect_reply c1 tcp "$PUB" 2223 "lxdev02 22 198.51.100.10" "control: web2 still runs, c1 -> $PUB:2223 still reaches lxdev02"
check "virsh destroy web2" lv_virsh -q destroy web2
within "web2 destroyed: lxdev02's element is gone" 2000 has_no_elem 2223
expect_no_reply c2 tcp "$PUB" 2223 any "web2 destroyed: c2 -> $PUB:2223 gets nothing"
# A transient domain (virsh create): once stopped its XML (and so its MAC) is gone.
lv_domain_xml web3 02:FF:0A:0A:06:1D "network:$NET" >"$LV_WORK/domain-web3.xml"
check "virsh create web3 (transient, lxdev02's MAC)" lv_virsh -q create "$LV_WORK/domain-web3.xml"
within "web3 created: c2 -> $PUB:2223 reaches lxdev02" 2000 tcp_gets c2 2223 lxdev02
check "virsh destroy web3 (the transient domain is gone)" lv_virsh -q destroy web3
within "web3 destroyed: lxdev02's element is gone" 2000 has_no_elem 2223
expect_no_reply c2 tcp "$PUB" 2223 any "web3 destroyed: c2 -> $PUB:2223 gets nothing"
# libvirt sends RESUMED after STARTED and SHUTDOWN before STOPPED: one start, one stop each.
if [ "$(log_count "domain lxdev01 started")" = 1 ] && [ "$(log_count "domain lxdev01 stopped")" = 1 ] &&
  [ "$(log_count "domain web2 started")" = 1 ] && [ "$(log_count "domain web2 stopped")" = 1 ]; then
  pass "watch logs each start and stop once"
else
  fail "watch logs each start and stop once" "$(cat "$WATCH_LOG")"
fi
if [ "$(repairs)" = 0 ]; then
  pass "domain starts and stops are no repairs (0 repair lines)"
else
  fail "domain starts and stops are no repairs" "$(cat "$WATCH_LOG")"
fi
check "virsh start lxdev01 (for the repairs below)" lv_virsh -q start lxdev01
within "lxdev01 runs again: c1 -> $PUB:2222 reaches lxdev01" 2000 tcp_gets c1 2222 lxdev01

# ================================================================== 2. iptables -F
note "2. iptables -F in the lab's host namespace"
before=$(repairs)
ip netns exec "$HOST_NS" iptables -w -F
t=$EPOCHREALTIME
within "after iptables -F the shim is back in LIBVIRT_FWI" 1000 shim_present
check_exit "control: iptables -F removed libvirt's own reject (nothing re-adds it but libvirt)" 1 reject_present
within "after iptables -F c1 -> $PUB:2222 reaches lxdev01" 2000 tcp_gets c1 2222 lxdev01
expect_new_repairs "iptables -F: exactly one repair logged, naming the shim" "$before" 1 "repaired the libvirt shim"

# ================================================================== 3. nft flush ruleset
note "3. nft flush ruleset in the lab's host namespace"
before=$(repairs)
ip netns exec "$HOST_NS" nft flush ruleset
within "after nft flush ruleset table inet $TABLE is back" 1000 table_present
within "after nft flush ruleset lxdev01's element is back" 1000 has_elem 2222 10.1.1.28
within "after nft flush ruleset c1 -> $PUB:2222 reaches lxdev01" 2000 tcp_gets c1 2222 lxdev01
expect_no_reply c1 tcp "$PUB" 2223 any "after the repair lxdev02's forward is still closed (web2 does not run)"
expect_new_repairs "nft flush ruleset: exactly one repair logged (table missing)" "$before" 1 "table missing"

note "3b. what systemctl restart nftables does: flush ruleset + /etc/nftables.conf, one transaction"
before=$(repairs)
ip netns exec "$HOST_NS" nft -f - <<'NFT'
flush ruleset
table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
	}
}
NFT
within "after the nftables.service-like reload table inet $TABLE is back" 1000 table_present
within "after the nftables.service-like reload c1 -> $PUB:2222 reaches lxdev01" 2000 tcp_gets c1 2222 lxdev01
check "the reloaded admin table is left alone" nft_host list table inet filter
expect_new_repairs "nftables.service-like reload: exactly one repair logged (table missing)" "$before" 1 "table missing"

# ================================================================== 4. libvirtd restart
note "4. libvirtd restart while watch runs"
connects=$(log_count "connected to qemu:///system")
before=$(repairs)
check "libvirtd restart (lv_restart)" lv_restart
if lv_wait_for 15 bash -c "[ \$(grep -c 'connected to qemu:///system' '$WATCH_LOG') -gt $connects ]"; then
  pass "watch reconnected to the new libvirtd"
else
  fail "watch reconnected to the new libvirtd" "$(tail -n 10 "$WATCH_LOG")"
fi
check "watch still runs" watch_alive
within "libvirt re-created its rules (its reject for $BR is back)" 5000 reject_present
within "the shim is on top of libvirt's re-created rules" 1000 shim_on_top
if lv_wait_for 5 shim_on_top && sleep 1 && shim_on_top; then
  pass "the shim stays on top after libvirt's restart"
else
  fail "the shim stays on top after libvirt's restart" "$(fwi)"
fi
within "after the restart c1 -> $PUB:2222 reaches lxdev01" 2000 tcp_gets c1 2222 lxdev01
expect_no_reply c2 tcp "$PUB" 2223 any "control: web2 not started yet, c2 -> $PUB:2223 gets nothing"
check "virsh start web2 after the restart" lv_virsh -q start web2
within "web2 started after the restart: c2 -> $PUB:2223 reaches lxdev02" 2000 tcp_gets c2 2223 lxdev02
check "virsh destroy web2" lv_virsh -q destroy web2
within "web2 destroyed after the restart: its element is gone" 2000 has_no_elem 2223
new=$(($(repairs) - before))
note "libvirtd restart: $new repair line(s): $(grep repaired "$WATCH_LOG" | tail -n +$((before + 1)) | tr '\n' '|')"

# ================================================================== 5. libvirtd down, then up
note "5. libvirtd down for a while, a VM dies meanwhile, then libvirtd starts again"
lost=$(log_count "lost the connection to libvirt")
connects=$(log_count "connected to qemu:///system")
lvpid=$(lv_daemon_pid libvirtd)
qemu_pid=$(lv_domain_pid lxdev01)
if [ -n "$lvpid" ] && kill -TERM "$lvpid" && lv_wait_for 20 bash -c "! kill -0 $lvpid 2>/dev/null"; then
  pass "libvirtd ($lvpid) stopped"
else
  fail "libvirtd stopped" "pid '$lvpid'"
fi
if lv_wait_for 10 bash -c "[ \$(grep -c 'lost the connection to libvirt' '$WATCH_LOG') -gt $lost ]"; then
  pass "watch noticed that libvirtd is gone"
else
  fail "watch noticed that libvirtd is gone" "$(tail -n 10 "$WATCH_LOG")"
fi
# nftables drift while libvirt is away is still repaired.
before=$(repairs)
nft_host delete element inet "$TABLE" fwd_dnat "{ $PUB . tcp . 2222 }"
within "libvirtd down: a deleted element is repaired" 1000 has_elem 2222 10.1.1.28
expect_new_repairs "libvirtd down: one repair logged" "$before" 1 "1 element missing, 0 extra"
within "libvirtd down: c1 -> $PUB:2222 still reaches lxdev01" 2000 tcp_gets c1 2222 lxdev01
# lxdev01's qemu dies while nobody watches it for libvirt.
if [ -n "$qemu_pid" ] && kill -KILL "$qemu_pid"; then pass "lxdev01's qemu ($qemu_pid) killed while libvirtd is down"; else fail "kill lxdev01's qemu" "pid '$qemu_pid'"; fi
sleep 3
check "watch survives 3 s without libvirtd" watch_alive
check "libvirtd starts again" lv_restart
if lv_wait_for 15 bash -c "[ \$(grep -c 'connected to qemu:///system' '$WATCH_LOG') -gt $connects ]"; then
  pass "watch reconnected after libvirtd came back"
else
  fail "watch reconnected after libvirtd came back" "$(tail -n 10 "$WATCH_LOG")"
fi
check "lxdev01 is shut off in libvirt" lv_wait_domain_state lxdev01 "shut off" 10
within "the dead VM's forward is closed after the reconnect" 3000 has_no_elem 2222
expect_no_reply c1 tcp "$PUB" 2222 any "the dead VM's forward: c1 -> $PUB:2222 gets nothing"
check "virsh start lxdev01 after libvirtd came back" lv_virsh -q start lxdev01
within "lxdev01 started after the outage: c1 -> $PUB:2222 reaches lxdev01" 2000 tcp_gets c1 2222 lxdev01
within "the shim is on top after the outage" 2000 shim_on_top

# ================================================================== 6. no loop
note "6. nothing happens: nothing is logged"
sleep 1
before=$(repairs)
lines=$(wc -l <"$WATCH_LOG")
sleep 4
after=$(repairs)
if [ "$after" -eq "$before" ]; then
  pass "4 s idle: no repair logged ($after repairs in total), no loop on its own changes"
else
  fail "4 s idle: no repair logged" "$(tail -n +$((lines + 1)) "$WATCH_LOG")"
fi
check "watch still runs" watch_alive
kill "$WATCH_PID" 2>/dev/null
lv_wait_for 10 bash -c "! kill -0 $WATCH_PID 2>/dev/null"
if grep -q "stopped" "$WATCH_LOG" && ! watch_alive; then pass "watch stops on SIGTERM"; else fail "watch stops on SIGTERM" "$(tail -n 5 "$WATCH_LOG")"; fi
note "watch log:"
sed 's/^/#   /' "$WATCH_LOG"
note "total $(lv_elapsed "$T0")s"
finish
