#!/bin/bash
# virtnat's Debian 13 package with Debian 13's REAL libvirt 11 and its nftables firewall
# backend (issue 12), real QEMU domains, real nftables and real TCP:
#   bash tests/lab/test_libvirt11.sh BUILD_DIR DEB13
#
# DEB13 is virtnat_*_deb13_*.deb (make deb13). libvirt 11.3, QEMU 10 and nft 1.1.3 come from a
# cached trixie chroot (scripts/debian-chroot libvirt-root DEB13: the package's dependencies
# plus libvirt; about 2 minutes once, then cached under /var/cache/virtnat-lab). lab/libvirt.sh
# runs libvirtd from a copy-on-write overlay of that chroot inside the lab's host namespace
# (LIBVIRT_LAB_ROOT), with the network driver's firewall_backend = "nftables" (Debian's
# libvirt 11 tries iptables first when both are installed; Fedora and RHEL use nftables).
# The package is installed there with dpkg; virtnat, its hook and nft all run inside that root.
# The lab's peers (c1, the guest namespaces) run this machine's vnpeer from BUILD_DIR.
#
# This machine's kernel lacks CONFIG_NET_ACT_CSUM, so libvirt 11 cannot start a network of
# mode nat, route or isolated here ("tc ... action csum": Failed to load TC action module).
#   1. networks virtnat defines (libvirt mode open): apply, libvirt 11's dnsmasq leases the
#      static host's address, the hook opens and closes a forward as the domain starts and
#      stops, egress, libvirtd restart;
#   2. libvirt's own NAT network (define = false): libvirt 11 runs the network (mode open:
#      bridge and dnsmasq) and the nftables rules libvirt installs for a NAT network are
#      loaded from tests/data/rulesets/libvirt-nat.nft (rebuilt from libvirt's golden files).
#      virtnat's shim in `ip libvirt_network guest_input` lets the forward through libvirt's
#      reject, with real packets; without it the connection fails;
#   3. the shim-order bug: libvirt re-creates its rules (no shim) during a libvirtd restart
#      while no VM runs; the next VM start (the qemu hook) puts the shim back on top;
#   4. down removes virtnat's table and shim and nothing of libvirt's.
# Every assertion can fail: the controls show the opposite answer where it matters.
# shellcheck disable=SC2317 # helpers are called indirectly (lv_wait_for, check)
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
# shellcheck source=tests/lab/libvirt_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/libvirt_lib.sh"

T0=$EPOCHREALTIME
if [ $# -ne 2 ] || [ ! -f "$2" ]; then
  echo "usage: $0 BUILD_DIR DEB13 (virtnat_*_deb13_*.deb, made by make deb13)" >&2
  exit 2
fi
DEB13=$(realpath "$2")
lv_require_root_and_tools
command -v jq >/dev/null 2>&1 || lv_bail "jq is missing (run scripts/install-deps)"
ROOT_LOG=$(mktemp)
if ! LIBVIRT_ROOT=$(bash "$REPO_DIR/scripts/debian-chroot" libvirt-root "$DEB13" 2>"$ROOT_LOG"); then
  lv_bail "scripts/debian-chroot libvirt-root $DEB13 failed:" "$ROOT_LOG"
fi
rm -f "$ROOT_LOG"
export LIBVIRT_LAB_ROOT=$LIBVIRT_ROOT LIBVIRT_LAB_FIREWALL_BACKEND=nftables

lab_start
unset VIRTNAT_STATE_DIR VIRTNAT_CONFIG # the CLI shares /etc/virtnat and /run/virtnat with the hook
lv_start "$HOST_NS"
note "libvirt root: $LIBVIRT_ROOT"

PUB=198.51.100.1
NET=nat_bridge
BR=vnat0
# The fixture is for virbr0 and 192.168.122.0/24, libvirt's default network.
LVNET=lvnat0
LVBR=virbr0

vn() { lv_exec virtnat "$@"; }
lvnft() { lv_exec nft "$@"; }

# ------------------------------------------------------------------ 0. the root
note "0. Debian 13's libvirt and virtnat's Debian 13 package"
out=$(lv_virsh version 2>&1)
if grep -Eq 'Using API: QEMU 11\.' <<<"$out"; then
  pass "libvirtd 11 answers inside the lab ($(tr '\n' ';' <<<"$out" | sed 's/  */ /g'))"
else
  fail "libvirtd 11 answers inside the lab" "$out"
fi
cp "$DEB13" "$LV_WORK/virtnat.deb"
check "dpkg -i $(basename "$DEB13") in the root" lv_exec dpkg -i "$LV_WORK/virtnat.deb"
out=$(vn --version 2>&1)
expect_value "virtnat --version (the Debian 13 build)" "$(cut -d' ' -f1-2 <<<"$out")" \
  "virtnat $(dpkg-deb -f "$DEB13" Version | sed 's/[-+~].*//')"
lv_bind "$CONF_DIR" /etc/virtnat || lv_bail "cannot bind the config folder into the lab"
ip -n "$HOST_NS" link del nbr0 || lv_bail "cannot remove the lab's nbr0"

# ------------------------------------------------------------------ helpers
WITH_LVNAT=0
write_lv_config() {
  {
    lab_settings public_address="$PUB" vm_lifecycle=libvirt
    lab_network name="$NET" provider=libvirt bridge="$BR" mac_prefix=-
    lab_host lxdev01
    lab_forward ssh port=2222 to_port=22
    if [ "$WITH_LVNAT" = 1 ]; then
      cat <<EOF

[[network]]
name = "$LVNET"
mode = "nat"
provider = "libvirt"
define = false
bridge = "$LVBR"
address = "192.168.122.1/24"

[[network.host]]
name = "lxweb01"
address = "192.168.122.10"
mac = "52:54:00:7A:00:0A"

[[forward]]
host = "lxweb01"
port = 8080
to_port = 80
description = "web on libvirt's own network"
EOF
    fi
  } >"$CONFIG"
}

plug() { lv_plug_guest "$@" || lv_bail "lv_plug_guest $* failed"; }

# guest_input: libvirt's chain with handles; the shim's place in it.
guest_input() { lvnft -a list chain ip libvirt_network guest_input 2>&1; }
shim_present() { grep -q 'virtnat-shim' <<<"$(guest_input)"; }
# The first rule of the chain is the shim, and libvirt's reject for LVBR comes after it.
shim_on_top() {
  guest_input | awk -v br="$LVBR" '
    /^[[:space:]]+(oif|iif|ip|ct|meta|counter)/ && !first { first = $0 }
    $0 ~ ("oif \"" br "\" .*reject") { rej = 1 }
    END { exit !(first ~ /virtnat-shim/ && rej) }'
}
expect_shim_on_top() { # WHAT [SECONDS]
  if lv_wait_for "${2:-0}" shim_on_top; then pass "$1"; else fail "$1" "$(guest_input)"; fi
}
delete_shims() {
  local handle
  for handle in $(guest_input | sed -n 's/.*virtnat-shim.*# handle \([0-9]*\)$/\1/p'); do
    lvnft delete rule ip libvirt_network guest_input handle "$handle" || return 1
  done
}
# load_libvirt_rules: what libvirt 11 installs for its NAT network on LVBR (the whole table,
# re-created, as libvirt does when it reloads its firewall: its rules come back without the
# shim).
load_libvirt_rules() {
  lvnft delete table ip libvirt_network 2>/dev/null
  lvnft delete table ip6 libvirt_network 2>/dev/null
  lvnft -f "$LV_WORK/libvirt-nat.nft"
}

# ================================================================== 1. networks virtnat defines
note "1. a network virtnat defines, under libvirt 11"
write_lv_config
check "virtnat check accepts the config" vn check
out=$(vn apply 2>&1)
rc=$?
if [ $rc -eq 0 ] && [[ "$out" == *"network $NET: defined, started, autostart on"* ]]; then
  pass "virtnat apply defines, starts and autostarts $NET in libvirt 11"
else
  fail "virtnat apply defines, starts and autostarts $NET in libvirt 11" "exit $rc" "$out"
fi
xml=$(lv_virsh net-dumpxml "$NET" 2>&1)
if grep -q "<forward mode='open'/>" <<<"$xml" && grep -q "<host mac='02:ff:0a:0a:06:1c' name='lxdev01.devops.test' ip='10.1.1.28'/>" <<<"$xml"; then
  pass "libvirt 11 holds $NET in mode open with lxdev01's static lease"
else
  fail "libvirt 11 holds $NET in mode open with lxdev01's static lease" "$xml"
fi
tables=$(lvnft list tables 2>&1)
if grep -qx "table inet $TABLE" <<<"$tables" && ! grep -q libvirt_network <<<"$tables"; then
  pass "virtnat's table is in the kernel; libvirt 11 made no firewall table for $BR (mode open)"
else
  fail "virtnat's table is in the kernel; libvirt 11 made no firewall table for $BR" "$tables"
fi
plug lx1 "$BR" 02:ff:0a:0a:06:1c
lv_wait_port_forwarding lvp-lx1 15 || note "lvp-lx1 is not forwarding yet"
lease=$(lv_dhcp lx1 10)
expect_value "libvirt 11's dnsmasq leases lxdev01 its static address (real DHCP)" "$lease" 10.1.1.28
start_server "$LAB_PREFIX-lx1" lxdev01 --tcp 22

out=$(vn hook install 2>&1)
if [[ "$out" == *restart* ]]; then pass "virtnat hook install asks for a libvirtd restart"; else fail "virtnat hook install asks for a libvirtd restart" "$out"; fi
check "libvirtd restart (libvirt 11 reads the hooks)" lv_restart
lv_check_no_elem "lxdev01 does not run: its forward is closed" tcp 2222
expect_no_reply c1 tcp "$PUB" 2222 any "control: c1 -> $PUB:2222 gets nothing while lxdev01 does not run"
check "define domain lxdev01 on $NET" lv_define_domain lxdev01 02:FF:0A:0A:06:1C "network:$NET"
check "virsh start lxdev01 (QEMU 10, the hook of virtnat's Debian 13 package)" lv_virsh -q start lxdev01
lv_check_elem "the hook opened lxdev01's forward" tcp 2222 10.1.1.28 22
expect_reply c1 tcp "$PUB" 2222 "lxdev01 22 198.51.100.10" "c1 -> $PUB:2222 reaches lxdev01:22"
start_server c1 outside --tcp 7000
expect_reply "$LAB_PREFIX-lx1" tcp 198.51.100.10 7000 "outside 7000 $PUB" \
  "lxdev01 -> c1:7000 goes out, masqueraded to $PUB"
out=$(vn status 2>&1)
if grep -Eq "^tcp +$PUB +2222 +lxdev01 .* active" <<<"$out"; then
  pass "virtnat status: 2222 is active"
else
  fail "virtnat status: 2222 is active" "$out"
fi
check "virsh destroy lxdev01" lv_virsh -q destroy lxdev01
lv_check_no_elem "the hook closed the forward when lxdev01 stopped" tcp 2222 3
expect_no_reply c1 tcp "$PUB" 2222 any "after the stop c1 -> $PUB:2222 gets nothing"
check "virsh start lxdev01 again" lv_virsh -q start lxdev01
lv_check_elem "the forward is open again" tcp 2222 10.1.1.28 22
check "libvirtd restart while lxdev01 runs" lv_restart
lv_check_elem "after the libvirtd restart the forward is still open" tcp 2222 10.1.1.28 22
expect_reply c1 tcp "$PUB" 2222 "lxdev01 22 198.51.100.10" "after the libvirtd restart c1 -> $PUB:2222 reaches lxdev01"

# ================================================================== 2. libvirt's NAT network
note "2. libvirt's own NAT network (define = false) with libvirt's nftables rules, and the shim"
lv_define_network - <<XML
<network>
  <name>$LVNET</name>
  <forward mode='open'/>
  <bridge name='$LVBR' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.128' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
XML
check "net-start $LVNET in libvirt 11" lv_virsh -q net-start "$LVNET"
cp "$REPO_DIR/tests/data/rulesets/libvirt-nat.nft" "$LV_WORK/libvirt-nat.nft"
check "load libvirt's nftables rules for its NAT network on $LVBR (nft -f, nft 1.1.3)" load_libvirt_rules
plug lxw "$LVBR" 52:54:00:7a:00:0a 192.168.122.10/24 192.168.122.1
lv_wait_port_forwarding lvp-lxw 15 || note "lvp-lxw is not forwarding yet"
start_server "$LAB_PREFIX-lxw" lxweb01 --tcp 80
expect_reply "$LAB_PREFIX-lxw" tcp 198.51.100.10 7000 "outside 7000 $PUB" \
  "libvirt's rules at work: lxweb01 -> c1:7000 goes out through libvirt's masquerade"
if grep -q "oif \"$LVBR\" .*reject" <<<"$(guest_input)" && ! shim_present; then
  pass "libvirt's guest_input rejects new connections into $LVBR; no shim yet"
else
  fail "libvirt's guest_input rejects new connections into $LVBR; no shim yet" "$(guest_input)"
fi
WITH_LVNAT=1 write_lv_config
out=$(vn apply 2>&1)
rc=$?
if [ $rc -eq 0 ] && [[ "$out" == *shim* ]]; then
  pass "apply with the define = false network reports the shim ($(grep shim <<<"$out"))"
else
  fail "apply with the define = false network reports the shim" "exit $rc" "$out"
fi
expect_shim_on_top "the shim is the first rule of ip libvirt_network guest_input, before libvirt's reject"
check "define domain lxweb01 on $LVNET" lv_define_domain lxweb01 52:54:00:7A:00:0A "network:$LVNET"
check "virsh start lxweb01" lv_virsh -q start lxweb01
lv_check_elem "the hook opened lxweb01's forward" tcp 8080 192.168.122.10 80
expect_reply c1 tcp "$PUB" 8080 "lxweb01 80 198.51.100.10" "c1 -> $PUB:8080 reaches lxweb01:80 through libvirt's reject"
check "control: delete the shim by hand" delete_shims
expect_no_reply c1 tcp "$PUB" 8080 any "without the shim libvirt's reject wins: c1 -> $PUB:8080 gets nothing"
out=$(vn apply 2>&1)
expect_shim_on_top "apply puts the shim back on top"
expect_reply c1 tcp "$PUB" 8080 "lxweb01 80 198.51.100.10" "with the shim again c1 -> $PUB:8080 reaches lxweb01"
out=$(vn doctor 2>&1)
rc=$?
if [ $rc -eq 0 ]; then pass "virtnat doctor finds nothing that blocks (shim in place)"; else fail "virtnat doctor finds nothing that blocks" "exit $rc" "$out"; fi

# ================================================================== 3. the shim-order bug
note "3. libvirt re-creates its rules while no VM runs; the next VM start puts the shim back"
check "destroy lxweb01" lv_virsh -q destroy lxweb01
check "destroy lxdev01 (no VM runs now)" lv_virsh -q destroy lxdev01
check "libvirtd restart while no VM runs" lv_restart
check "libvirt's rules re-created, as libvirt does on a firewall reload (no shim)" load_libvirt_rules
if ! shim_present; then pass "control: now no shim in guest_input"; else fail "control: now no shim in guest_input" "$(guest_input)"; fi
check "virsh start lxweb01" lv_virsh -q start lxweb01
expect_shim_on_top "right after the start the shim is on top again (the qemu hook)" 2
lv_check_elem "the hook opened lxweb01's forward" tcp 8080 192.168.122.10 80
expect_reply c1 tcp "$PUB" 8080 "lxweb01 80 198.51.100.10" "the VM started after the restart serves c1 -> $PUB:8080"

# ================================================================== 4. down
note "4. down removes virtnat's table and shim, nothing of libvirt's"
out=$(vn down 2>&1)
rc=$?
if [ $rc -eq 0 ]; then pass "virtnat down"; else fail "virtnat down" "exit $rc" "$out"; fi
check_exit "after down there is no table inet $TABLE" 1 lvnft list table inet "$TABLE"
if ! shim_present; then pass "after down guest_input has no shim"; else fail "after down guest_input has no shim" "$(guest_input)"; fi
if grep -q "oif \"$LVBR\" .*reject" <<<"$(guest_input)"; then pass "libvirt's own reject rule stays"; else fail "libvirt's own reject rule stays" "$(guest_input)"; fi
expect_no_reply c1 tcp "$PUB" 8080 any "after down c1 -> $PUB:8080 gets nothing"

note "total $(lv_elapsed "$T0")s"
finish
