#!/bin/bash
# A bridged libvirt network (provider = "libvirt", mode = "bridged") after a reboot, with a REAL
# private libvirtd (lab/libvirt.sh, inside the lab's host namespace). At boot libvirtd
# autostarts networks (and VMs) before virtnat.service runs `virtnat apply`, netlink bridges
# are gone and /run/virtnat is empty: virtnat's network hook must build the host bridge at the
# network's `start begin` from virtnat's <metadata> in the network's own XML.
#   network lvboot  bridged  bridge vnbbr (address 192.0.2.1/24), uplink vnbup: a veth pair
#                   from the host namespace to the LAN's br0; guest namespace bg1
#                   (198.51.100.50) on vnbbr, QEMU domain bvm (autostart) on the network
# A reboot is simulated inside the lab: network stopped, bridge deleted by hand, /run/virtnat
# emptied, libvirt's "autostarted" markers removed (a fresh /run), libvirtd restarted.
#   1. apply defines lvboot with the metadata (uplink, address); a second apply changes
#      nothing; a definition without the metadata (an older virtnat's) is updated in place
#   2. control, no hook: after the reboot the network comes up without its bridge and the
#      autostarted domain cannot start ("Cannot get interface MTU on 'vnbbr'")
#   3. hook installed: `virsh net-start` with /run/virtnat empty builds the bridge (alias,
#      STP off, uplink's MAC, uplink enslaved, address); the guest reaches the LAN directly
#      (TCP both ways, and to the host on the bridge's address) and the domain starts on the network
#   4. `virsh net-destroy`: the hook releases the uplink and deletes virtnat's bridge
#   5. reboot with the hook: libvirtd autostarts the network (bridge built by the hook) and
#      the domain, whose tap is in the bridge; the guest reaches the LAN again
#   6. uplink missing: libvirt refuses to start the network and shows the hook's message;
#      nothing is left behind; with the uplink back it starts (positive control)
#   7. the hook by hand: bad XML on stdin is one line, exit 0, no change
#   8. with the hook installed, apply (a bridge move), network stop/start/undefine still work
# Takes about 40-60 s.
#   bash tests/lab/test_bridged_boot.sh BUILD_DIR
# shellcheck disable=SC2317 # helpers are called indirectly (lv_wait_for, check)
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
# shellcheck source=tests/lab/libvirt_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/libvirt_lib.sh"

T0=$EPOCHREALTIME
lv_require_root_and_tools
[ -x "$BUILD_DIR/virtnat-hook" ] || lv_bail "$BUILD_DIR/virtnat-hook is missing (build first)"
# The CLI shares /etc/virtnat and /run/virtnat with the hook (the lab's private copies).
lv_lab_for_hook

LAN_NS="$LAB_PREFIX-lan"
NET=lvboot
BR=vnbbr
UPLINK=vnbup
UPLINK_PEER=vnbupp
DOM=bvm
DOM_MAC=02:00:00:07:00:40
GUEST_ADDR=198.51.100.50

# ------------------------------------------------------------------ helpers

vn() { lv_exec "$VIRTNAT" "$@"; }

link_gone() { ! link_exists "$1"; }
link_sys() { ip netns exec "$HOST_NS" cat "/sys/class/net/$1/$2" 2>&1; }
net_active() { grep -Eq '^Active:[[:space:]]+yes' <<<"$(lv_virsh -q net-info "$1" 2>/dev/null)"; }
run_virtnat_empty() { [ -z "$(lv_exec find /run/virtnat -mindepth 1 -print -quit 2>&1)" ]; }
ports_forwarding() {
  local port
  for port in "$@"; do
    grep -q 'state forwarding' <<<"$(bridge -n "$HOST_NS" link show dev "$port" 2>/dev/null)" || return 1
  done
}

# reboot_state: what a reboot leaves: no bridge, an empty /run/virtnat, and a /run/libvirt on
# which libvirt has not autostarted anything yet (its markers are files in its state folders).
reboot_state() {
  if link_exists "$BR"; then ip -n "$HOST_NS" link del "$BR" || return 1; fi
  lv_exec find /run/virtnat -mindepth 1 -delete || return 1
  lv_exec rm -f /run/libvirt/network/autostarted /run/libvirt/qemu/autostarted
}

# bridge_is_virtnats CONTEXT: the bridge the hook (or apply) builds, exactly.
bridge_is_virtnats() {
  local context=$1
  if ip -n "$HOST_NS" -d link show dev "$BR" 2>/dev/null | grep_q ' bridge '; then
    pass "$context: $BR exists and is a bridge"
  else
    fail "$context: $BR exists and is a bridge" "$(ip -n "$HOST_NS" -br link 2>&1)"
    return 1
  fi
  expect_value "$context: $BR carries virtnat's alias" "$(link_alias "$BR")" "virtnat:$NET"
  expect_value "$context: $UPLINK is enslaved to $BR" "$(link_master "$UPLINK")" "$BR"
  expect_value "$context: $BR has STP off" "$(link_sys "$BR" bridge/stp_state)" 0
  expect_value "$context: $BR has the uplink's MAC" "$(link_sys "$BR" address)" "$(link_sys "$UPLINK" address)"
  has_text "$context: $BR has the network's address 192.0.2.1/24" \
    "$(ip -n "$HOST_NS" -4 -o addr show dev "$BR" 2>&1)" "inet 192.0.2.1/24"
}

# guest_reaches_lan CONTEXT: bg1 on the bridge and c1 on the LAN, directly, both ways.
guest_reaches_lan() {
  local context=$1
  if lv_wait_for 5 ports_forwarding lvp-bg1 "$UPLINK"; then
    pass "$context: bg1's port and the uplink forward on $BR"
  else
    fail "$context: bg1's port and the uplink forward on $BR" "$(bridge -n "$HOST_NS" link 2>&1)"
  fi
  expect_exact "$LAB_PREFIX-bg1" 198.51.100.10 7000 "c1 7000 $GUEST_ADDR" \
    "$context: bg1 -> c1:7000 on the LAN, not NATed (c1 sees $GUEST_ADDR)"
  expect_exact c1 "$GUEST_ADDR" 22 "bg1 22 198.51.100.10" "$context: c1 -> bg1:22 directly"
  expect_exact "$LAB_PREFIX-bg1" 192.0.2.1 7100 "hostsrv 7100 192.0.2.50" \
    "$context: bg1 -> the host's server on the bridge's address 192.0.2.1:7100"
}

write_boot_config() {
  cat >"$CONFIG" <<EOF
[settings]
table = "$TABLE"
vm_lifecycle = "ignore"

[[network]]
name = "$NET"
mode = "bridged"
provider = "libvirt"
bridge = "$BR"
uplink = "$UPLINK"
address = "192.0.2.1/24"
EOF
}

# ------------------------------------------------------------------ setup
note "the uplink $UPLINK (a veth pair to the LAN's br0, no address), servers, the guest"
if ip -n "$HOST_NS" link add "$UPLINK" type veth peer name "$UPLINK_PEER" netns "$LAN_NS" &&
  ip -n "$LAN_NS" link set "$UPLINK_PEER" master br0 &&
  ip -n "$LAN_NS" link set "$UPLINK_PEER" up &&
  ip -n "$HOST_NS" link set "$UPLINK" up; then
  pass "a veth pair $UPLINK (host) <-> $UPLINK_PEER (LAN's br0)"
else
  lv_bail "cannot make the uplink veth pair $UPLINK"
fi
start_server c1 c1 --tcp 7000
start_server host hostsrv --tcp 7100
lv_plug_guest bg1 nbr0 02:00:00:07:00:32 "$GUEST_ADDR/24" || lv_bail "cannot make guest bg1"
ip -n "$HOST_NS" link set lvp-bg1 nomaster # plugged into vnbbr once it exists
lv_guest bg1 ip addr add 192.0.2.50/24 dev eth0 || lv_bail "cannot address bg1 in 192.0.2.0/24"
start_server "$LAB_PREFIX-bg1" bg1 --tcp 22

# ------------------------------------------------------------------ 1. apply
note "1. apply defines $NET with virtnat's metadata"
write_boot_config
out=$(vn apply 2>&1)
rc=$?
if [ $rc -eq 0 ]; then pass "virtnat apply"; else fail "virtnat apply" "exit $rc" "$out"; fi
has_text "apply: $NET defined, started, autostart on" "$out" "network $NET: defined, started, autostart on"
has_text "apply warns that the network hook is missing" "$out" "warning: network $NET: /etc/libvirt/hooks/network.d/virtnat is not installed"
xml=$(lv_virsh net-dumpxml --inactive "$NET" 2>&1)
has_text "libvirt keeps virtnat's metadata (namespace, uplink, address)" "$xml" \
  '<virtnat:bridged xmlns:virtnat="https://virtnat.example/xmlns/network/1" uplink="vnbup" address="192.0.2.1/24"/>'
has_text "libvirt: $NET is <forward mode='bridge'/> on $BR" "$xml" "<bridge name='$BR'/>"
check "libvirt: $NET is autostarted" grep_q -E '^Autostart:[[:space:]]+yes' <<<"$(lv_virsh -q net-info "$NET" 2>&1)"
bridge_is_virtnats "after apply"
out=$(vn apply 2>&1)
if ! grep -q "^network " <<<"$out"; then
  pass "a second apply has no network action"
else
  fail "a second apply has no network action" "$out"
fi

note "a definition without the metadata (an older virtnat's) is updated in place"
uuid=$(lv_virsh net-uuid "$NET" 2>&1)
index=$(link_sys "$BR" ifindex)
cat >"$LV_WORK/old.xml" <<EOF
<network><name>$NET</name><uuid>$uuid</uuid><forward mode='bridge'/><bridge name='$BR'/></network>
EOF
check "the old-style definition (no metadata) is defined" lv_virsh -q net-define "$LV_WORK/old.xml"
out=$(vn apply 2>&1)
has_text "apply updates the definition" "$out" "network $NET: definition updated"
lacks_text "apply does not restart $NET" "$out" "restarted"
has_text "the stored definition has the metadata again" "$(lv_virsh net-dumpxml --inactive "$NET" 2>&1)" 'uplink="vnbup"'
expect_value "the same bridge (ifindex) after the update" "$(link_sys "$BR" ifindex)" "$index"
check "$NET is still active" net_active "$NET"

# ------------------------------------------------------------------ 2. control: no hook
note "2. control: without the hook a reboot leaves the network without its bridge"
check_exit "no hooks folder yet" 1 test -e "$(lv_hooks_dir)"
check "define domain $DOM on $NET (autostart)" lv_define_domain "$DOM" "$DOM_MAC" "network:$NET"
check "virsh autostart $DOM" lv_virsh -q autostart "$DOM"
check "virsh net-destroy $NET" lv_virsh -q net-destroy "$NET"
check "without the hook, net-destroy leaves $BR (nobody removes it)" link_exists "$BR"
check "reboot: $BR deleted by hand, /run/virtnat emptied, libvirt's autostart markers gone" reboot_state
check "libvirtd restart (the boot)" lv_restart
check "libvirt autostarted $NET" lv_wait_network_active "$NET" 10
check "no $BR after the boot without the hook" link_gone "$BR"
# libvirt tried to autostart the domain (the first start of it in this test) and failed.
if lv_wait_for 20 grep_q -F "Cannot get interface MTU on '$BR'" "$LV_STATE/log/libvirtd.log" &&
  ! lv_domain_is "$DOM" running; then
  pass "the autostarted domain $DOM cannot start without $BR ($(lv_domain_state "$DOM"))"
else
  fail "the autostarted domain $DOM cannot start without $BR" "state: $(lv_domain_state "$DOM")" \
    "$(tail -n 5 "$LV_STATE/log/libvirtd.log" 2>&1)"
fi
out=$(lv_virsh -q start "$DOM" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -qF "Cannot get interface MTU on '$BR'" <<<"$out"; then
  pass "virsh start $DOM fails: $(tr '\n' ' ' <<<"$out")"
else
  fail "virsh start $DOM fails for the missing bridge" "exit $rc" "$out"
fi
check "virsh net-destroy $NET" lv_virsh -q net-destroy "$NET"
check "virsh net-start $NET (no hook)" lv_virsh -q net-start "$NET"
check "no hook: net-start leaves $NET without $BR" link_gone "$BR"
expect_value "no hook: $UPLINK has no master" "$(link_master "$UPLINK")" ""
check "virsh net-destroy $NET" lv_virsh -q net-destroy "$NET"

# ------------------------------------------------------------------ 3. the hook builds the bridge
note "3. hook install; net-start with /run/virtnat empty builds the bridge"
out=$(vn hook install 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -x "$(lv_hooks_dir)/network.d/virtnat" ]; then
  pass "virtnat hook install"
else
  fail "virtnat hook install" "exit $rc" "$out"
fi
expect_value "the network hook runs virtnat-hook" "$(head -n 1 "$(lv_hooks_dir)/network.d/virtnat")" \
  "#!$BUILD_DIR/virtnat-hook --hook-state-dir=/run/virtnat"
check "libvirtd restart (to read the hooks)" lv_restart
check "reboot state again: no $BR, /run/virtnat empty" reboot_state
check "/run/virtnat is empty" run_virtnat_empty
t=$EPOCHREALTIME
out=$(lv_virsh -q net-start "$NET" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then pass "virsh net-start $NET ($(lv_elapsed "$t")s)"; else fail "virsh net-start $NET" "exit $rc" "$out"; fi
check "libvirt: $NET is active" net_active "$NET"
bridge_is_virtnats "after net-start"
check "/run/virtnat is still empty (the hook needs no state)" run_virtnat_empty
check "bg1's port joins $BR" ip -n "$HOST_NS" link set lvp-bg1 master "$BR"
guest_reaches_lan "after net-start"
if lv_virsh -q start "$DOM" >/dev/null 2>&1 && lv_wait_domain_running "$DOM" 30; then
  pass "domain $DOM starts on $NET"
  tap=$(lv_domain_ifaces "$DOM" | head -n 1)
  expect_value "$DOM's tap $tap is a port of $BR" "$(link_master "$tap")" "$BR"
else
  fail "domain $DOM starts on $NET" "$(lv_virsh -q start "$DOM" 2>&1)"
fi
check "virsh destroy $DOM (a reboot stops the VMs)" lv_virsh -q destroy "$DOM"

# ------------------------------------------------------------------ 4. stopped end
note "4. net-destroy: the hook releases the uplink and deletes virtnat's bridge"
check "virsh net-destroy $NET" lv_virsh -q net-destroy "$NET"
check "after net-destroy, $BR is gone" link_gone "$BR"
if link_exists "$UPLINK" && [ -z "$(link_master "$UPLINK")" ]; then
  pass "after net-destroy, $UPLINK still exists and has no master"
else
  fail "after net-destroy, $UPLINK still exists and has no master" "$(ip -n "$HOST_NS" -o link show dev "$UPLINK" 2>&1)"
fi
expect_no_reply "$LAB_PREFIX-bg1" tcp 198.51.100.10 7000 any "after net-destroy, bg1 no longer reaches c1"

# ------------------------------------------------------------------ 5. reboot with the hook
note "5. reboot with the hook: libvirtd autostarts $NET and $DOM"
check "reboot: no $BR, /run/virtnat emptied, libvirt's autostart markers gone" reboot_state
t=$EPOCHREALTIME
check "libvirtd restart (the boot)" lv_restart
check "libvirt autostarted $NET" lv_wait_network_active "$NET" 10
if lv_wait_domain_running "$DOM" 30; then
  pass "libvirt autostarted $DOM on $NET ($(lv_elapsed "$t")s after the restart began)"
  tap=$(lv_domain_ifaces "$DOM" | head -n 1)
  expect_value "$DOM's tap $tap is a port of $BR" "$(link_master "$tap")" "$BR"
else
  fail "libvirt autostarted $DOM on $NET" "state: $(lv_domain_state "$DOM")"
fi
bridge_is_virtnats "after the boot"
check "bg1's port joins $BR again" ip -n "$HOST_NS" link set lvp-bg1 master "$BR"
guest_reaches_lan "after the boot"
check "virsh destroy $DOM" lv_virsh -q destroy "$DOM"

# ------------------------------------------------------------------ 6. uplink missing
note "6. the uplink is missing: libvirt refuses to start $NET with the hook's message"
check "virsh net-destroy $NET" lv_virsh -q net-destroy "$NET"
check "$UPLINK renamed to vnbgone (down first)" \
  sh -c "ip -n '$HOST_NS' link set '$UPLINK' down && ip -n '$HOST_NS' link set '$UPLINK' name vnbgone"
out=$(lv_virsh -q net-start "$NET" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -qF "network $NET: uplink $UPLINK does not exist" <<<"$out"; then
  pass "net-start fails with the hook's message: $(tr '\n' ' ' <<<"$out" | sed 's/Child process ([^)]*)/Child process (...)/')"
else
  fail "net-start fails with the hook's message" "exit $rc" "$out"
fi
if net_active "$NET"; then fail "$NET is not active"; else pass "$NET is not active"; fi
check "no $BR is left behind" link_gone "$BR"
check "the uplink is back as $UPLINK" \
  sh -c "ip -n '$HOST_NS' link set vnbgone name '$UPLINK' && ip -n '$HOST_NS' link set '$UPLINK' up"
check "control: with the uplink back, net-start works" lv_virsh -q net-start "$NET"
bridge_is_virtnats "control"

# ------------------------------------------------------------------ 7. the hook by hand
note "7. bad XML on the hook's stdin: one line, exit 0, no change"
check "virsh net-destroy $NET" lv_virsh -q net-destroy "$NET"
hook=/etc/libvirt/hooks/network.d/virtnat
out=$(lv_exec env -i "$hook" "$NET" start begin - <<<"<hookData><network><name>$NET" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l <<<"$out")" -eq 1 ] &&
  grep -qF "network $NET start: unreadable network XML on stdin:" <<<"$out"; then
  pass "bad XML: exit 0 and one line ($out)"
else
  fail "bad XML: exit 0 and one line" "exit $rc" "$out"
fi
check "bad XML: no $BR" link_gone "$BR"
good=$(lv_virsh net-dumpxml --inactive "$NET")
bad=${good//'uplink="vnbup"'/'uplink="vn/bup"'}
out=$(lv_exec env -i "$hook" "$NET" start begin - <<<"<hookData>$bad</hookData>" 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -qF "uplink 'vn/bup' is not a valid interface name" <<<"$out"; then
  pass "unusable metadata: exit 1, said why ($out)"
else
  fail "unusable metadata: exit 1, said why" "exit $rc" "$out"
fi
check "unusable metadata: no $BR" link_gone "$BR"
out=$(lv_exec env -i "$hook" "$NET" start begin - <<<"<hookData>$good</hookData>" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then pass "control: libvirt's XML by hand: exit 0, silent"; else fail "control: libvirt's XML by hand" "exit $rc" "$out"; fi
bridge_is_virtnats "the hook by hand"
out=$(lv_exec env -i "$hook" "$NET" stopped end - <<<"<hookData>$good</hookData>" 2>&1)
check "stopped end by hand deletes $BR" link_gone "$BR"

# ------------------------------------------------------------------ 8. apply with the hook
note "8. with the hook installed, apply and network stop/start still do their part"
out=$(vn apply 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -qF "network $NET: started" <<<"$out"; then pass "apply starts $NET again"; else fail "apply starts $NET again" "exit $rc" "$out"; fi
lacks_text "with the hook installed apply does not warn about it" "$out" "is not installed"
bridge_is_virtnats "apply with the hook"
sed -i "s/^bridge = \"$BR\"/bridge = \"vnbbr2\"/" "$CONFIG"
out=$(vn apply 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -qF "network $NET: bridge changed: redefined and restarted" <<<"$out"; then
  pass "apply moves $NET to vnbbr2 ($(tr '\n' ' ' <<<"$out"))"
else
  fail "apply moves $NET to vnbbr2" "exit $rc" "$out"
fi
check "the old $BR is gone (the hook removed it at stopped end)" link_gone "$BR"
expect_value "vnbbr2 carries virtnat's alias" "$(link_alias vnbbr2)" "virtnat:$NET"
expect_value "$UPLINK is enslaved to vnbbr2" "$(link_master "$UPLINK")" vnbbr2
check "$NET is active on vnbbr2" net_active "$NET"
check "virtnat network stop $NET" vn network stop "$NET"
check "after network stop, vnbbr2 is gone" link_gone vnbbr2
expect_value "after network stop, $UPLINK has no master" "$(link_master "$UPLINK")" ""
check "virtnat network start $NET" vn network start "$NET"
expect_value "after network start, $UPLINK is enslaved to vnbbr2" "$(link_master "$UPLINK")" vnbbr2
check "virtnat network undefine $NET" vn network undefine "$NET"
check "after undefine, vnbbr2 is gone" link_gone vnbbr2

note "took $(lv_elapsed "$T0")s"
finish
