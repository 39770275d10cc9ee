#!/bin/bash
# provider "ovn" (issue 16) with a REAL QEMU guest plugged the way a fleet host plugs it: the
# lab's libvirtd runs in hypervisor hv1's namespace of the OVN fleet lab (lab/ovn.sh), and the
# domain's NIC is exactly what `virtnat vm interface fleet vm1` prints: br-int, a virtualport
# of type openvswitch, interfaceid fleet-vm1. libvirt's ovs-vsctl adds the tap to hv1's br-int
# (hv1's OVS run folder is bound over /run/openvswitch in libvirt's mount namespace, where
# ovs-vsctl looks), ovn-controller binds the logical port, and the guest (lab/guest-image:
# a Debian kernel and busybox) takes its address from OVN's DHCP.
#
#   bash tests/lab/test_ovn_vm.sh BUILD_DIR      (as root; ctest: lab_ovn_vm)
#
# Checks, each with a control: libvirt plugs the tap with the iface-id and SB binds the port to
# hv1; the VM's DHCP lease from OVN is its static address; it resolves a name from OVN's DNS;
# the LAN reaches it through a forward (an OVN load balancer), also through one whose listen is
# another address that the LAN routes to uplink_address; it goes out SNATed to
# uplink_address; after destroy the port is unplugged and unbound and the forward gets
# nothing; down leaves none of virtnat's rows. The guest's NIC has checksum offload off: the
# userspace datapath passes no partial checksums (as the lab's veths need tx off).
# shellcheck disable=SC2317 # lab_cleanup is called by lv_cleanup (the EXIT trap)
# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh" "$1"
export OVN_LAB_DIR="${OVN_LAB_DIR:-/tmp/virtnat-ovn-vm.$$}"
export OVN_LAB_PREFIX="${OVN_LAB_PREFIX:-vnov$$}"
# shellcheck source=lab/ovn.sh
source "$REPO_DIR/lab/ovn.sh"
# shellcheck source=tests/lab/ovn_test_lib.sh
source "$REPO_DIR/tests/lab/ovn_test_lib.sh"
# shellcheck source=tests/lab/libvirt_lib.sh
source "$(dirname "$0")/libvirt_lib.sh"
# shellcheck source=tests/lab/guest_lib.sh
source "$(dirname "$0")/guest_lib.sh"

VIP=198.51.100.50
NBDB="unix:$OVN_LAB_DIR/central/nb.sock"
VM=vm1
VM_MAC=02:76:6e:0a:00:15
VM_ADDR=10.99.0.21
OTHER_LISTEN=198.18.0.77 # a forward's listen other than uplink_address: the LAN routes it there
PORT="" # the logical port: the UUID virtnat derives (vm interface's interfaceid)

# lv_cleanup (the EXIT trap) stops libvirt first (its destroy unplugs the tap while hv1's OVS
# still runs), then calls lab_cleanup: here the OVN lab's.
lab_cleanup() {
  local pid
  for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${SERVERS[@]}"; do wait "$pid" 2>/dev/null; done
  ovn_lab_down >/dev/null 2>&1
  [ -z "$WORK_DIR" ] || rm -rf "$WORK_DIR"
}

# the OVS interface on hv1 that carries iface-id PORT (libvirt's tap), if any
ovs_iface() { ovn_lab_vsctl hv1 --bare --columns=name find Interface "external_ids:iface-id=$PORT" 2>/dev/null; }
port_up() { [ "$(ovn_lab_nbctl get Logical_Switch_Port "$PORT" up 2>/dev/null)" = true ]; }
port_down() { ! port_up; }

# ------------------------------------------------------------------ the labs
if [ "$(id -u)" -ne 0 ]; then
  echo "# lab tests need root (network namespaces); skipped"
  exit 77
fi
lv_require_root_and_tools
for bin in ovn-nbctl ovn-northd ovn-controller ovs-vswitchd ethtool busybox python3 "$VNPEER" "$VIRTNAT"; do
  command -v "$bin" >/dev/null || lv_bail "$bin is missing (scripts/install-deps; build first)"
done
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/virtnat-ovn-vm.XXXXXX")
CONFIG="$WORK_DIR/etc/virtnat.toml"
mkdir -p "$WORK_DIR/etc" "$WORK_DIR/state"
trap lv_cleanup EXIT
trap 'exit 130' INT TERM
T0=$EPOCHREALTIME

ovn_lab_up >"$WORK_DIR/lab-up.log" 2>&1 || lv_bail "lab/ovn.sh up failed:" "$WORK_DIR/lab-up.log"
note "OVN lab up in $(cat "$OVN_LAB_DIR/up.seconds") s"
lv_make_work
vg_prepare >"$WORK_DIR/guest-image.log" 2>&1 || lv_bail "the guest image could not be made:" "$WORK_DIR/guest-image.log"
lv_start "$(ovn_lab_ns hv1)"
# ovs-vsctl, as libvirt runs it, looks for /run/openvswitch/db.sock: hv1's.
lv_bind "$OVN_LAB_DIR/hv1" /run/openvswitch || lv_bail "cannot bind hv1's OVS run folder into libvirt's lab"
expect_value "inside libvirt's lab ovs-vsctl (no options, as libvirt runs it) talks to hv1's OVS" \
  "$(lv_exec ovs-vsctl --timeout=5 get Open_vSwitch . external_ids:system-id 2>&1)" hv1

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
name = "$VM"
address = "$VM_ADDR"
mac = "$VM_MAC"

[[network.host]]
name = "web1"
address = "10.99.0.11"
mac = "02:76:6e:0a:00:0b"

[[forward]]
host = "$VM"
port = 2222
to_port = 22

[[forward]]
host = "$VM"
port = 2223
to_port = 22
listen = "$OTHER_LISTEN"
EOF
chmod 600 "$CONFIG"
PORT=$(port_id "$VM")
note "logical port of $VM: $PORT"
serve lan lan --tcp 7000

out=$(vn apply 2>&1)
rc=$?
if [ $rc -eq 0 ] && [[ "$out" == *"in one transaction"* ]]; then pass "virtnat apply creates the fleet network in OVN"; else fail "virtnat apply" "exit $rc" "$out"; fi
expect_no_reply_via connect lan tcp "$VIP" 2222 any "control: before the VM runs the LAN gets nothing through $VIP:2222"
if port_down; then pass "control: logical port $PORT is down before the VM runs"; else fail "control: $PORT is down before the VM runs"; fi

# ------------------------------------------------------------------ the VM
note "the VM, its NIC from virtnat vm interface fleet $VM"
iface=$(vn vm interface fleet "$VM")
# Checksum offload off on both sides of the virtio NIC (see above); no option ROM (Debian's
# QEMU here has no iPXE ROMs).
iface=${iface%</interface>*}"  <driver name='qemu'>
    <host csum='off' tso4='off' tso6='off' ecn='off' ufo='off'/>
    <guest csum='off' tso4='off' tso6='off' ecn='off' ufo='off'/>
  </driver>
  <rom enabled='no'/>
</interface>"
vg_domain_xml "$VM" "$VM_MAC" br-int >"$WORK_DIR/base.xml"
python3 - "$WORK_DIR/base.xml" "$iface" >"$LV_WORK/guest-$VM.xml" <<'PY'
import re, sys
xml = open(sys.argv[1]).read()
new, n = re.subn(r"<interface type='bridge'>.*?</interface>", lambda m: sys.argv[2], xml, flags=re.S)
assert n == 1
print(new)
PY
if grep_q "interfaceid='$PORT'" "$LV_WORK/guest-$VM.xml" && grep_q "<source bridge='br-int'/>" "$LV_WORK/guest-$VM.xml"; then
  pass "the domain's NIC is virtnat's: br-int, openvswitch virtualport, interfaceid $PORT"
else
  fail "the domain's NIC is virtnat's" "$(cat "$LV_WORK/guest-$VM.xml")"
fi
check "virsh define $VM" lv_virsh -q define "$LV_WORK/guest-$VM.xml"
t=$EPOCHREALTIME
check "virsh start $VM ($VG_VIRT)" vg_start "$VM"
tap=$(ovs_iface)
if [ -n "$tap" ]; then pass "libvirt plugged its tap $tap into hv1's br-int with iface-id $PORT"; else fail "libvirt plugged its tap into hv1's br-int" "$(ovn_lab_vsctl hv1 show 2>&1)"; fi
if lv_wait_for 20 port_up; then
  pass "ovn-controller bound $PORT: up, on chassis $(ovn_lab_chassis_of "$PORT")"
else
  fail "ovn-controller bound $PORT" "$(ovn_lab_sbctl show 2>&1)"
fi
expect_value "SB: $PORT is bound to hv1" "$(ovn_lab_chassis_of "$PORT")" hv1
if vg_wait_ready "$VM" 240; then
  note "timing: $VM ready $(lv_elapsed "$t") s after virsh start"
  expect_value "the VM's DHCP lease from OVN is its static address" "$(vg_address "$VM")" "$VM_ADDR/24"
else
  fail "the VM boots and gets a lease from OVN" "$(vg_dump "$VM")"
fi
expect_value "the VM resolves web1.fleet.test through OVN's DNS" "$(vg_resolve "$VM" web1.fleet.test)" 10.99.0.11
expect_value "control: an unknown name resolves to nothing" "$(vg_resolve "$VM" nothere.fleet.test)" ""
expect_reply_via connect lan tcp "$VIP" 2222 "$VM 22 198.51.100.10" "the LAN reaches the VM through the forward (lan -> $VIP:2222 -> $VM:22)"
expect_no_reply_via connect lan tcp "$OTHER_LISTEN" 2223 any "control: before the LAN routes $OTHER_LISTEN to the gateway it gets nothing there"
check "the LAN routes $OTHER_LISTEN to uplink_address $VIP" ip -n "$(ovn_lab_ns lan)" route replace "$OTHER_LISTEN/32" via "$VIP"
expect_reply_via connect lan tcp "$OTHER_LISTEN" 2223 "$VM 22 198.51.100.10" \
  "a forward whose listen is not uplink_address: lan -> $OTHER_LISTEN:2223 -> $VM:22"
vg_expect_reply "$VM" tcp 198.51.100.10 7000 "lan 7000 $VIP" "the VM goes out SNATed to uplink_address ($VM -> lan:7000)"
vg_expect_no_reply "$VM" tcp 198.51.100.10 7001 "control: a closed port on the LAN gets nothing"

# ------------------------------------------------------------------ destroy, down
note "destroy the VM, then down"
check "virsh destroy $VM" lv_virsh -q destroy "$VM"
expect_value "libvirt unplugged the tap from br-int" "$(ovs_iface)" ""
if lv_wait_for 10 port_down; then pass "$PORT is down after the destroy"; else fail "$PORT is down after the destroy"; fi
expect_no_reply_via connect lan tcp "$VIP" 2222 any "after the destroy the LAN gets nothing through $VIP:2222"
check "virtnat down" vn down
expect_value "down leaves none of virtnat's rows" "$(virtnat_rows)" 0

note "total $(lv_elapsed "$T0") s"
finish
