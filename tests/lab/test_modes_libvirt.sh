#!/bin/bash
# The five network modes with provider = "libvirt", in the lab with a REAL private libvirtd
# (lab/libvirt.sh, inside the lab's host namespace): one `virtnat apply` defines five libvirt
# networks side by side, and guest namespaces plugged into their bridges stand in for VMs.
#   lvnat    nat       vnm0  10.5.1.0/24  guests nat1 nat2, forwards 2301 2302 (tcp) 5301 (udp)
#   lvrouted routed    vnm1  10.5.2.0/24  guests rt1 rt2, forwards 2311 2312 (tcp) 5311 (udp)
#   lviso    isolated  vnm2  10.5.3.0/24  guests iso1 iso2
#   lvopen   open      vnm3  10.5.4.0/24  guests opn1 opn2
#   lvlan    bridged   vnmlan, uplink vnup: a veth pair from the host namespace to the LAN's
#            br0; virtnat creates vnmlan and enslaves vnup; guests lan1 lan2 on 198.51.100.0/24
# For each mode the whole matrix of issue 4 is asserted with real TCP and UDP connections, both
# directions, including what must fail (lib.sh's mode_matrix; bridged below). Each must-fail
# has a positive control: the same probes succeed once virtnat's table is gone (libvirt adds
# no rules of its own: <forward mode='open'/>), and the bridged guests are out of reach before
# apply and after `network stop`. Also: the generated libvirt XML per mode, a QEMU domain on
# the bridged network (libvirt puts its tap into virtnat's bridge), a second apply changes
# nothing, the bridged network moved to another bridge and back (redefined, old bridge gone),
# a bridge virtnat did not make (used, left in place), an uplink with an address refused,
# network stop/start/undefine of the bridged network. Takes about 40-60 s.
#   bash tests/lab/test_modes_libvirt.sh BUILD_DIR
# shellcheck disable=SC2317 # helpers are called indirectly (lv_wait_for, check)
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
# shellcheck source=tests/lab/libvirt_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/libvirt_lib.sh"

T0=$EPOCHREALTIME
lv_require_root_and_tools
command -v bridge >/dev/null 2>&1 || lv_bail "bridge (iproute2) is missing"
lab_start
lv_start "$HOST_NS"
brnf_detect

LAN_NS="$LAB_PREFIX-lan"
UPLINK=vnup      # host side of a second veth pair to the LAN (the bridged network's uplink)
UPLINK_PEER=vhost3
LANBR=vnmlan

# ------------------------------------------------------------------ helpers

# vn ARGS...: virtnat inside libvirtd's namespaces (it talks to the private libvirtd), with
# the test's config and the lab's private state folder (both under /tmp, seen on both sides).
vn() { lv_exec "$VIRTNAT" --config "$CONFIG" "$@"; }
vn_with() {
  local file=$1
  shift
  lv_exec "$VIRTNAT" --config "$file" "$@"
}

write_modes_config() {
  cat >"$CONFIG" <<EOF
[settings]
table = "$TABLE"
public_address = "198.51.100.1"
vm_lifecycle = "ignore"

[[network]]
name = "lvnat"
mode = "nat"
provider = "libvirt"
bridge = "vnm0"
address = "10.5.1.1/24"
dhcp_range = "10.5.1.100-10.5.1.150"

[[network.host]]
name = "nat1"
address = "10.5.1.28"
mac = "02:00:00:05:01:1C"

[[network.host]]
name = "nat2"
address = "10.5.1.29"
mac = "02:00:00:05:01:1D"

[[network]]
name = "lvrouted"
mode = "routed"
provider = "libvirt"
bridge = "vnm1"
address = "10.5.2.1/24"

[[network.host]]
name = "rt1"
address = "10.5.2.28"
mac = "02:00:00:05:02:1C"

[[network.host]]
name = "rt2"
address = "10.5.2.29"
mac = "02:00:00:05:02:1D"

[[network]]
name = "lviso"
mode = "isolated"
provider = "libvirt"
bridge = "vnm2"
address = "10.5.3.1/24"

[[network.host]]
name = "iso1"
address = "10.5.3.28"
mac = "02:00:00:05:03:1C"

[[network.host]]
name = "iso2"
address = "10.5.3.29"
mac = "02:00:00:05:03:1D"

[[network]]
name = "lvopen"
mode = "open"
provider = "libvirt"
bridge = "vnm3"
address = "10.5.4.1/24"

[[network.host]]
name = "opn1"
address = "10.5.4.28"
mac = "02:00:00:05:04:1C"

[[network.host]]
name = "opn2"
address = "10.5.4.29"
mac = "02:00:00:05:04:1D"

[[network]]
name = "lvlan"
mode = "bridged"
provider = "libvirt"
bridge = "${LVLAN_BRIDGE:-$LANBR}"
uplink = "$UPLINK"

[[forward]]
host = "nat1"
port = "2301"
to_port = "22"

[[forward]]
address = "10.5.1.29"
port = "2302"
to_port = "22"

[[forward]]
host = "nat1"
protocol = "udp"
port = "5301"
to_port = "53"

[[forward]]
host = "rt1"
port = "2311"
to_port = "22"

[[forward]]
address = "10.5.2.29"
port = "2312"
to_port = "22"

[[forward]]
host = "rt1"
protocol = "udp"
port = "5311"
to_port = "53"
EOF
}

net_active() { grep -Eq '^Active:[[:space:]]+yes' <<<"$(lv_virsh -q net-info "$1" 2>/dev/null)"; }
net_forward_mode() {
  lv_virsh net-dumpxml --inactive "$1" 2>/dev/null | sed -n "s/.*<forward mode='\([a-z]*\)'.*/\1/p"
}

# Every guest port forwards (libvirt's bridges run STP: new ports listen and learn first).
ports_forwarding() {
  local port
  for port in "$@"; do
    grep -q 'state forwarding' <<<"$(bridge -n "$HOST_NS" link show dev "$port" 2>/dev/null)" || return 1
  done
}

plug() { # NAME BRIDGE MAC ADDR/PREFIX [GATEWAY]
  lv_plug_guest "$@" || lv_bail "lv_plug_guest $* failed"
  start_server "$LAB_PREFIX-$1" "$1" --tcp 22 --udp 53
}

# ------------------------------------------------------------------ before apply
note "the LAN uplink $UPLINK (a veth pair to the LAN's br0, no address) and the servers"
if ip -n "$HOST_NS" link add "$UPLINK" type veth peer name "$UPLINK_PEER" netns "$LAN_NS" &&
  ip -n "$LAN_NS" link set "$UPLINK_PEER" master br0 &&
  ip -n "$LAN_NS" link set "$UPLINK_PEER" up &&
  ip -n "$HOST_NS" link set "$UPLINK" up; then
  pass "a second veth pair $UPLINK (host, no address) <-> $UPLINK_PEER (LAN's br0)"
else
  lv_bail "cannot make the uplink veth pair $UPLINK"
fi
start_server c1 c1 --tcp 7000 --udp 7000
start_server c2 c2 --tcp 7000
start_server host hostsrv --tcp 7100 --udp 7100
for i in 1 2 3 4; do
  check "c1 gets a route to 10.5.$i.0/24 via 198.51.100.1" in_ns c1 ip route add "10.5.$i.0/24" via 198.51.100.1
done
if link_exists "$LANBR"; then fail "control: no $LANBR before apply"; else pass "control: no $LANBR before apply"; fi
expect_value "control: $UPLINK has no master before apply" "$(link_master "$UPLINK")" ""
check_exit "control: libvirt has no network lvlan before apply" 1 lv_virsh -q net-info lvlan
note "br_netfilter settings tested: ${BRNF_SETTINGS[*]}"

# ------------------------------------------------------------------ apply
note "one apply defines and starts the five networks"
write_modes_config
check "virtnat check accepts the five networks" vn check
t=$EPOCHREALTIME
out=$(vn apply 2>&1)
rc=$?
note "apply said: $(tr '\n' ';' <<<"$out")"
if [ $rc -eq 0 ]; then pass "virtnat apply ($(lv_elapsed "$t")s)"; else fail "virtnat apply" "exit $rc" "$out"; fi
for net in lvnat lvrouted lviso lvopen lvlan; do
  has_text "apply: network $net defined, started, autostart on" "$out" "network $net: defined, started, autostart on"
  check "libvirt: $net is active" net_active "$net"
done
has_text "apply: bridge $LANBR created (STP off, the uplink's MAC)" "$out" "network lvlan: bridge $LANBR created (STP off, the MAC of $UPLINK)"
has_text "apply: uplink $UPLINK enslaved to $LANBR" "$out" "network lvlan: uplink $UPLINK enslaved to $LANBR"
# The host bridge came before libvirt's definition (libvirt needs it to exist).
order=$(grep -n -e "bridge $LANBR created" -e "network lvlan: defined" <<<"$out" | cut -d: -f1 | tr '\n' ' ')
if [[ "$order" =~ ^([0-9]+)\ ([0-9]+)\ $ ]] && [ "${BASH_REMATCH[1]}" -lt "${BASH_REMATCH[2]}" ]; then
  pass "apply made the host bridge before it defined lvlan in libvirt"
else
  fail "apply made the host bridge before it defined lvlan in libvirt" "$out"
fi

note "the generated libvirt XML per mode"
for net in lvnat lvrouted lviso lvopen; do
  expect_value "libvirt: $net has <forward mode='open'/> (virtnat's table implements the mode)" "$(net_forward_mode "$net")" open
done
expect_value "libvirt: lvlan has <forward mode='bridge'/>" "$(net_forward_mode lvlan)" bridge
xml=$(lv_virsh net-dumpxml --inactive lvlan 2>&1)
has_text "libvirt: lvlan's bridge is $LANBR" "$xml" "<bridge name='$LANBR'/>"
if grep -q "<ip " <<<"$xml"; then fail "libvirt: lvlan has no <ip> (the LAN serves DHCP)" "$xml"; else pass "libvirt: lvlan has no <ip> (the LAN serves DHCP)"; fi
xml=$(lv_virsh net-dumpxml --inactive lviso 2>&1)
has_text "libvirt: lviso keeps its address and DHCP hosts" "$xml" "<host mac='02:00:00:05:03:1c' name='iso1' ip='10.5.3.28'/>"
for br in vnm0 vnm1 vnm2 vnm3; do
  check "libvirt made bridge $br" link_exists "$br"
done

note "the host bridge $LANBR"
if ip -n "$HOST_NS" -d link show dev "$LANBR" 2>/dev/null | grep_q ' bridge '; then pass "$LANBR is a bridge"; else fail "$LANBR is a bridge" "$(ip -n "$HOST_NS" -d link show dev "$LANBR" 2>&1)"; fi
expect_value "$LANBR carries virtnat's mark (alias)" "$(link_alias "$LANBR")" "virtnat:lvlan"
expect_value "$UPLINK is enslaved to $LANBR" "$(link_master "$UPLINK")" "$LANBR"
expect_value "$LANBR has STP off (no BPDUs on the LAN)" "$(ip netns exec "$HOST_NS" cat "/sys/class/net/$LANBR/bridge/stp_state" 2>&1)" 0
expect_value "$LANBR has the uplink's MAC" "$(ip netns exec "$HOST_NS" cat "/sys/class/net/$LANBR/address")" \
  "$(ip netns exec "$HOST_NS" cat "/sys/class/net/$UPLINK/address")"
if ip -n "$HOST_NS" -br addr show dev "$LANBR" 2>/dev/null | grep_q -E '([0-9]+\.){3}[0-9]+/'; then
  fail "no IPv4 address on $LANBR" "$(ip -n "$HOST_NS" -br addr show dev "$LANBR" 2>&1)"
else
  pass "no IPv4 address on $LANBR"
fi

note "virtnat's table per mode"
nft_host list table inet "$TABLE" >"$WORK_DIR/table" 2>&1
check "the table lists" grep_q "chain forward" "$WORK_DIR/table"
no_match "open: no rule names vnm3, 10.5.4.0/24 or lvopen" "$WORK_DIR/table" 'vnm3|10\.5\.4\.|"lvopen:'
no_match "bridged: no rule names $LANBR, $UPLINK or lvlan" "$WORK_DIR/table" "$LANBR|$UPLINK|\"lvlan:"
grep masquerade "$WORK_DIR/table" | grep -v "ct status dnat" >"$WORK_DIR/masquerade"
no_match "only the nat network's guests are masqueraded" "$WORK_DIR/masquerade" '10\.5\.[234]\.'
check "the nat network's guests are masqueraded" grep_q '10\.5\.1\.0/24 .*masquerade' "$WORK_DIR/masquerade"

# ------------------------------------------------------------------ guests
note "guests on every bridge"
plug nat1 vnm0 02:00:00:05:01:1c 10.5.1.28/24 10.5.1.1
plug nat2 vnm0 02:00:00:05:01:1d 10.5.1.29/24 10.5.1.1
plug rt1 vnm1 02:00:00:05:02:1c 10.5.2.28/24 10.5.2.1
plug rt2 vnm1 02:00:00:05:02:1d 10.5.2.29/24 10.5.2.1
plug iso1 vnm2 02:00:00:05:03:1c 10.5.3.28/24 10.5.3.1
plug iso2 vnm2 02:00:00:05:03:1d 10.5.3.29/24 10.5.3.1
plug opn1 vnm3 02:00:00:05:04:1c 10.5.4.28/24 10.5.4.1
plug opn2 vnm3 02:00:00:05:04:1d 10.5.4.29/24 10.5.4.1
plug lan1 "$LANBR" 02:00:00:05:05:32 198.51.100.50/24
plug lan2 "$LANBR" 02:00:00:05:05:33 198.51.100.51/24
PORTS=(lvp-nat1 lvp-nat2 lvp-rt1 lvp-rt2 lvp-iso1 lvp-iso2 lvp-opn1 lvp-opn2 lvp-lan1 lvp-lan2 "$UPLINK")
t=$EPOCHREALTIME
if lv_wait_for 20 ports_forwarding "${PORTS[@]}"; then
  pass "every guest port and the uplink forward ($(lv_elapsed "$t")s)"
else
  fail "every guest port and the uplink forward" "$(bridge -n "$HOST_NS" link 2>&1)"
fi

# ------------------------------------------------------------------ the matrix
g() { echo "$LAB_PREFIX-$1,$1,$2"; }
note "mode nat (lvnat)"
mode_matrix nat --tag "nat, libvirt" --gateway 10.5.1.1 --guest "$(g nat1 10.5.1.28)" \
  --guest "$(g nat2 10.5.1.29)" --forward 2301 --forward 2302 --udp --udp-forward 5301
note "mode routed (lvrouted)"
mode_matrix routed --tag "routed, libvirt" --gateway 10.5.2.1 --guest "$(g rt1 10.5.2.28)" \
  --guest "$(g rt2 10.5.2.29)" --forward 2311 --forward 2312 --udp --udp-forward 5311
note "mode isolated (lviso)"
mode_matrix isolated --tag "isolated, libvirt" --gateway 10.5.3.1 --guest "$(g iso1 10.5.3.28)" \
  --guest "$(g iso2 10.5.3.29)" --udp
note "mode open (lvopen)"
mode_matrix open --tag "open, libvirt" --gateway 10.5.4.1 --guest "$(g opn1 10.5.4.28)" \
  --guest "$(g opn2 10.5.4.29)" --udp

L1="$LAB_PREFIX-lan1"
L2="$LAB_PREFIX-lan2"
# bridged_matrix TAG: guests on the LAN through the uplink: no NAT either way, the host reaches
# them over the LAN like any LAN client.
bridged_matrix() {
  local brnf t
  for brnf in "${BRNF_SETTINGS[@]}"; do
    set_brnf "$brnf"
    t="[$1, br_netfilter $brnf]"
    note "$t"
    expect_exact "$L1" 198.51.100.10 7000 "c1 7000 198.51.100.50" "$t lan1 -> c1 directly, not NATed (c1 sees 198.51.100.50)"
    expect_exact "$L1" 198.51.100.10 7000 "c1 7000 198.51.100.50" "$t lan1 -> c1 udp directly, not NATed" udp
    expect_exact "$L2" 198.51.100.20 7000 "c2 7000 198.51.100.51" "$t lan2 -> c2 directly, not NATed (c2 sees 198.51.100.51)"
    expect_exact c1 198.51.100.50 22 "lan1 22 198.51.100.10" "$t c1 -> lan1 (198.51.100.50:22) directly"
    expect_exact c1 198.51.100.50 53 "lan1 53 198.51.100.10" "$t c1 -> lan1 udp 198.51.100.50:53 directly" udp
    expect_exact c2 198.51.100.51 22 "lan2 22 198.51.100.20" "$t c2 -> lan2 (198.51.100.51:22) directly"
    expect_exact "$L1" 198.51.100.51 22 "lan2 22 198.51.100.50" "$t guest to guest: lan1 -> lan2:22"
    expect_exact "$L2" 198.51.100.50 53 "lan1 53 198.51.100.51" "$t guest to guest: lan2 -> lan1 udp 53" udp
    expect_exact host 198.51.100.50 22 "lan1 22 198.51.100.1" "$t host (its LAN address) -> lan1:22 over the LAN"
    expect_exact "$L1" 198.51.100.1 7100 "hostsrv 7100 198.51.100.50" "$t lan1 -> the host's server on its LAN address 198.51.100.1:7100"
    expect_exact "$L2" 198.51.100.1 7100 "hostsrv 7100 198.51.100.51" "$t lan2 -> the host's server udp 198.51.100.1:7100" udp
  done
}
note "mode bridged (lvlan)"
bridged_matrix "bridged, libvirt"

refused="$WORK_DIR/bridged-forward/virtnat.toml"
mkdir -p "$(dirname "$refused")"
cat >"$refused" <<EOF
[settings]
table = "$TABLE"
public_address = "198.51.100.1"

[[network]]
name = "lvlan"
mode = "bridged"
provider = "libvirt"
bridge = "$LANBR"
uplink = "$UPLINK"
address = "198.51.100.3/24"

[[network.host]]
name = "lan1"
address = "198.51.100.50"

[[forward]]
host = "lan1"
port = "2399"
to_port = "22"
EOF
out=$(vn_with "$refused" check 2>&1)
rc=$?
if [ $rc -eq 2 ] && grep -Eq 'virtnat\.toml:[0-9]+: forward\[0\]\.host: .*bridged' <<<"$out"; then
  pass "bridged: check refuses a forward to a guest of the bridged network (exit 2: $out)"
else
  fail "bridged: check refuses a forward to a guest of the bridged network" "exit $rc" "$out"
fi

note "a QEMU domain on the bridged network: libvirt puts its tap into virtnat's bridge"
if lv_define_domain lanvm 02:00:00:05:05:40 network:lvlan && lv_virsh -q start lanvm >/dev/null 2>&1 &&
  lv_wait_domain_running lanvm 30; then
  pass "domain lanvm (<interface type='network'> on lvlan) runs"
  tap=$(lv_domain_ifaces lanvm | head -n 1)
  expect_value "lanvm's tap $tap is a port of $LANBR" "$(link_master "$tap")" "$LANBR"
  lv_virsh -q destroy lanvm >/dev/null 2>&1
else
  fail "domain lanvm (<interface type='network'> on lvlan) runs" "$(lv_virsh -q start lanvm 2>&1)"
fi

# ------------------------------------------------------------------ a second apply
note "a second apply changes nothing"
index=$(ip netns exec "$HOST_NS" cat "/sys/class/net/$LANBR/ifindex")
for net in lvnat lvrouted lviso lvopen lvlan; do lv_virsh net-dumpxml "$net" 2>&1; done >"$WORK_DIR/nets-1"
save_table "$WORK_DIR/table-1"
out=$(vn apply 2>&1)
rc=$?
for net in lvnat lvrouted lviso lvopen lvlan; do lv_virsh net-dumpxml "$net" 2>&1; done >"$WORK_DIR/nets-2"
save_table "$WORK_DIR/table-2"
if [ $rc -eq 0 ] && ! grep -q "^network " <<<"$out"; then
  pass "second apply: no network action ($(tr '\n' ' ' <<<"$out"))"
else
  fail "second apply: no network action" "exit $rc" "$out"
fi
check_same "second apply: the five libvirt networks are identical" "$WORK_DIR/nets-1" "$WORK_DIR/nets-2"
check_same "second apply: the table is identical" "$WORK_DIR/table-1" "$WORK_DIR/table-2"
expect_value "second apply: the same $LANBR (ifindex)" "$(ip netns exec "$HOST_NS" cat "/sys/class/net/$LANBR/ifindex")" "$index"

# ------------------------------------------------------------------ positive controls
note "controls: without virtnat's table every must-fail probe above succeeds (libvirt adds no rules)"
check "virtnat down" vn down
mode_matrix none --tag "nat network, no table" --gateway 10.5.1.1 --guest "$(g nat1 10.5.1.28)" \
  --guest "$(g nat2 10.5.1.29)" --forward 2301 --udp --udp-forward 5301
mode_matrix none --tag "isolated network, no table" --gateway 10.5.3.1 --guest "$(g iso1 10.5.3.28)" \
  --guest "$(g iso2 10.5.3.29)" --udp
check "apply again" vn apply

# ------------------------------------------------------------------ the bridged network moves
note "lvlan moves to bridge vnmlan2 and back: virtnat's old bridge goes, the uplink follows"
replug_lan1() { # BRIDGE DESCRIPTION: lan1's port into BRIDGE, then c1 reaches lan1
  ip -n "$HOST_NS" link set lvp-lan1 master "$1" 2>/dev/null
  if [ "$(link_master lvp-lan1)" != "$1" ]; then
    fail "$2" "lvp-lan1 could not join $1:" "$(ip -n "$HOST_NS" -br link 2>&1)"
  elif lv_wait_for 5 ports_forwarding lvp-lan1 "$UPLINK"; then
    expect_exact c1 198.51.100.50 22 "lan1 22 198.51.100.10" "$2"
  else
    fail "$2" "lvp-lan1 or $UPLINK does not forward on $1:" "$(bridge -n "$HOST_NS" link 2>&1)"
  fi
}
LVLAN_BRIDGE=vnmlan2 write_modes_config
out=$(vn apply 2>&1)
rc=$?
note "apply said: $(tr '\n' ';' <<<"$out")"
if [ $rc -eq 0 ]; then pass "apply with lvlan on vnmlan2"; else fail "apply with lvlan on vnmlan2" "exit $rc" "$out"; fi
has_text "apply says lvlan's bridge changed" "$out" "network lvlan: bridge changed: redefined and restarted"
has_text "apply removed the old bridge $LANBR" "$out" "network lvlan: bridge $LANBR removed"
has_text "apply created vnmlan2" "$out" "network lvlan: bridge vnmlan2 created"
if link_exists "$LANBR"; then fail "after the move, $LANBR is gone"; else pass "after the move, $LANBR is gone"; fi
expect_value "after the move, $UPLINK is enslaved to vnmlan2" "$(link_master "$UPLINK")" vnmlan2
check "after the move, libvirt's lvlan is active" net_active lvlan
replug_lan1 vnmlan2 "after the move (lan1 plugged into vnmlan2), c1 reaches lan1"
write_modes_config
out=$(vn apply 2>&1)
has_text "apply back to $LANBR removes vnmlan2" "$out" "network lvlan: bridge vnmlan2 removed"
expect_value "back on $LANBR: $UPLINK is enslaved to $LANBR" "$(link_master "$UPLINK")" "$LANBR"
if link_exists vnmlan2; then fail "back on $LANBR: vnmlan2 is gone"; else pass "back on $LANBR: vnmlan2 is gone"; fi
replug_lan1 "$LANBR" "back on $LANBR (lan1 plugged again), c1 reaches lan1"

# ------------------------------------------------------------------ a bridge virtnat did not make
note "a bridged network on a bridge that existed before: used, and left in place"
other="$WORK_DIR/foreign/virtnat.toml"
mkdir -p "$(dirname "$other")"
cat >"$other" <<EOF
[settings]
table = "$TABLE"

[[network]]
name = "lvfor"
mode = "bridged"
provider = "libvirt"
bridge = "vnmfor"
uplink = "vnup2"
EOF
if ip -n "$HOST_NS" link add vnmfor type bridge && ip -n "$HOST_NS" link set vnmfor up &&
  ip -n "$HOST_NS" link add vnup2 type veth peer name vnup2p; then
  pass "the admin's bridge vnmfor and an uplink vnup2 (a veth pair inside the host namespace)"
else
  fail "the admin's bridge vnmfor and an uplink vnup2 (a veth pair inside the host namespace)"
fi
out=$(vn_with "$other" network start lvfor 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q "network lvfor: defined, started" <<<"$out" && ! grep -q "created" <<<"$out"; then
  pass "network start lvfor uses vnmfor as it is ($(tr '\n' ' ' <<<"$out"))"
else
  fail "network start lvfor uses vnmfor as it is" "exit $rc" "$out"
fi
expect_value "vnup2 is enslaved to vnmfor" "$(link_master vnup2)" vnmfor
out=$(vn_with "$other" network undefine lvfor 2>&1)
has_text "undefine lvfor says vnmfor stays" "$out" "network lvfor: bridge vnmfor left in place with its ports: virtnat did not create it"
check "vnmfor still exists" link_exists vnmfor
expect_value "vnup2 is still a port of vnmfor" "$(link_master vnup2)" vnmfor
check_exit "libvirt has no lvfor after undefine" 1 lv_virsh -q net-info lvfor

# ------------------------------------------------------------------ refused uplink
note "an uplink that carries the host's address is refused, and nothing changes"
bad="$WORK_DIR/bad-uplink/virtnat.toml"
mkdir -p "$(dirname "$bad")"
cat >"$bad" <<EOF
[settings]
table = "$TABLE"

[[network]]
name = "lvbad"
mode = "bridged"
provider = "libvirt"
bridge = "vnmbad"
uplink = "uplink"
EOF
save_table "$WORK_DIR/table-before-bad"
out=$(vn_with "$bad" apply 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q "network lvbad: uplink uplink has the address 198.51.100.1/24" <<<"$out"; then
  pass "apply with uplink = \"uplink\" (198.51.100.1/24 on it) exits 1 ($out)"
else
  fail "apply with uplink = \"uplink\" (198.51.100.1/24 on it) exits 1" "exit $rc" "$out"
fi
if link_exists vnmbad; then fail "refused: no bridge vnmbad"; else pass "refused: no bridge vnmbad"; fi
expect_value "refused: uplink has no master" "$(link_master uplink)" ""
check_exit "refused: libvirt has no network lvbad" 1 lv_virsh -q net-info lvbad
save_table "$WORK_DIR/table-after-bad"
check_same "refused: the table is as it was" "$WORK_DIR/table-before-bad" "$WORK_DIR/table-after-bad"
expect_exact c1 198.51.100.50 22 "lan1 22 198.51.100.10" "refused: the bridged guests still reach the LAN"

# ------------------------------------------------------------------ stop and start
note "network stop lvlan: the uplink is released (not deleted), virtnat's bridge goes"
out=$(vn network stop lvlan 2>&1)
rc=$?
note "network stop said: $(tr '\n' ';' <<<"$out")"
if [ $rc -eq 0 ]; then pass "virtnat network stop lvlan"; else fail "virtnat network stop lvlan" "exit $rc" "$out"; fi
has_text "stop reports the uplink released" "$out" "network lvlan: uplink $UPLINK released from $LANBR"
has_text "stop reports the bridge removed" "$out" "network lvlan: bridge $LANBR removed"
if net_active lvlan; then fail "libvirt: lvlan is inactive after stop"; else pass "libvirt: lvlan is inactive after stop"; fi
if link_exists "$LANBR"; then fail "after stop, $LANBR is gone" "$(ip -n "$HOST_NS" -br link)"; else pass "after stop, $LANBR is gone"; fi
if link_exists "$UPLINK" && [ -z "$(link_master "$UPLINK")" ]; then
  pass "after stop, $UPLINK still exists and has no master"
else
  fail "after stop, $UPLINK still exists and has no master" "$(ip -n "$HOST_NS" -o link show dev "$UPLINK" 2>&1)"
fi
expect_no_reply c1 tcp 198.51.100.50 22 any "after stop, c1 no longer reaches lan1 (it did above)"
check "the other networks still run: lvnat is active" net_active lvnat
expect_exact c1 198.51.100.1 2301 "nat1 22 198.51.100.10" "after stopping lvlan the nat forward still works"

note "network start lvlan: bridge and uplink are back before libvirt starts the network"
out=$(vn network start lvlan 2>&1)
rc=$?
note "network start said: $(tr '\n' ';' <<<"$out")"
if [ $rc -eq 0 ]; then pass "virtnat network start lvlan"; else fail "virtnat network start lvlan" "exit $rc" "$out"; fi
has_text "start reports the bridge created" "$out" "network lvlan: bridge $LANBR created"
check "libvirt: lvlan is active after start" net_active lvlan
expect_value "after start, $UPLINK is enslaved to $LANBR" "$(link_master "$UPLINK")" "$LANBR"
ip -n "$HOST_NS" link set lvp-lan1 master "$LANBR" 2>/dev/null
if lv_wait_for 5 ports_forwarding lvp-lan1 "$UPLINK"; then
  expect_exact c1 198.51.100.50 22 "lan1 22 198.51.100.10" "after start (lan1 plugged again), c1 reaches lan1"
else
  fail "after start, lvp-lan1 and $UPLINK forward" "$(bridge -n "$HOST_NS" link 2>&1)"
fi

note "network undefine lvlan"
out=$(vn network undefine lvlan 2>&1)
has_text "undefine removes the bridge too" "$out" "network lvlan: bridge $LANBR removed"
check_exit "libvirt has no lvlan after undefine" 1 lv_virsh -q net-info lvlan
expect_value "after undefine, $UPLINK has no master" "$(link_master "$UPLINK")" ""

check "virtnat down" vn down
note "took $(lv_elapsed "$T0")s"
finish
